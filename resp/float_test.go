package resp

import (
	"math"
	"strings"
	"testing"
)

// incrCases were recorded from redis-server (SET k cur, INCRBYFLOAT k incr)
// on x86-64, where long double is the x87 80-bit format.
var incrCases = []struct {
	cur, incr, want, err string
}{
	{"0.1", "0.2", "0.3", ""},
	{"10.50", "0.1", "10.6", ""},
	{"5.0e3", "2.0e2", "5200", ""},
	{"3.0e3", "0", "3000", ""},
	{"1e20", "1", "100000000000000000000", ""},
	{"-5", "2.5", "-2.5", ""},
	{"-0", "0", "0", ""},
	{"0", "-0.0", "0", ""},
	{"1.5e-20", "0", "0", ""},
	{"-1e-20", "0", "0", ""},
	{"18446744073709551617", "0", "18446744073709551616", ""},
	{"18446744073709551619", "0", "18446744073709551620", ""},
	{"18446744073709551615", "1", "18446744073709551616", ""},
	{"9223372036854775807", "1", "9223372036854775808", ""},
	{"-9223372036854775808", "-1", "-9223372036854775809", ""},
	{"0.1", "0.1", "0.2", ""},
	{"1.1", "2.2", "3.3", ""},
	{"3.3", "-1.1", "2.2", ""},
	{"1", "-0.9", "0.1", ""},
	{"100", "-100", "0", ""},
	{"1e-17", "0", "0.00000000000000001", ""},
	{"5e-18", "0", "0", ""},
	{"5.000000000000000001e-18", "0", "0.00000000000000001", ""},
	{"1.5e-17", "0", "0.00000000000000002", ""},
	{"2.5e-17", "0", "0.00000000000000002", ""},
	{"0x1p-60", "0", "0", ""},
	{"0x1.8p-57", "0", "0.00000000000000001", ""},
	{"0xffffffffffffffff", "0", "18446744073709551615", ""},
	{"0x1ffffffffffffffff", "0", "36893488147419103232", ""},
	{"3.14159265358979323846264338327950288", "0", "3.14159265358979324", ""},
	{"1e100", "1e-100", "9999999999999999999669353532207342619498699019828496079271391541752018669482644324418977840117055488", ""},
	{"1.18973149535723176508e+4932", "0", "", "ERR value is not a valid float"},
	{"1e4932", "1e4932", "", "ERR increment would produce NaN or Infinity"},
	{"1e-4950", "0", "0", ""},
	{"3e-4951", "0", "0", ""},
	{"1.7e-4951", "0", "", "ERR value is not a valid float"},
	{"1.9e-4951", "0", "0", ""},
	{"1e5000", "0", "", "ERR value is not a valid float"},
	{"1e-5000", "0", "", "ERR value is not a valid float"},
	{"12345678901234567890.123456789", "0", "12345678901234567890", ""},
	{"0.000000000000000005", "0.000000000000000005", "0.00000000000000001", ""},
	{"0x10", "1", "17", ""},
	{"0X1.8P1", "0", "3", ""},
	{"7", "0x", "", "ERR value is not a valid float"},
	{"abc", "1", "", "ERR value is not a valid float"},
	{"1", "abc", "", "ERR value is not a valid float"},
	{"", "1", "", "ERR value is not a valid float"},
	{"1", "", "", "ERR value is not a valid float"},
	{"+", "1", "", "ERR value is not a valid float"},
	{"1", " 1", "", "ERR value is not a valid float"},
	{"1", "1 ", "", "ERR value is not a valid float"},
	{"\x00", "1", "", "ERR value is not a valid float"},
	{"1\x00abc", "1", "", "ERR value is not a valid float"},
	{"1e", "1", "", "ERR value is not a valid float"},
	{"1_0", "1", "", "ERR value is not a valid float"},
	{"-.5", "1", "0.5", ""},
	{"+1", "1", "2", ""},
	{"1.e3", "0", "1000", ""},
	{"1e+3", "0", "1000", ""},
	{"1E-3", "0", "0.001", ""},
	{"INF", "1", "", "ERR increment would produce NaN or Infinity"},
	{"1", "inf", "", "ERR increment would produce NaN or Infinity"},
	{"-Infinity", "-1", "", "ERR increment would produce NaN or Infinity"},
	{"NaN", "1", "", "ERR value is not a valid float"},
	{"1", "nan", "", "ERR value is not a valid float"},
	{"nan(123)", "1", "", "ERR value is not a valid float"},
}

func TestIncrByFloat(t *testing.T) {
	for _, tt := range incrCases {
		got, err := IncrByFloat([]byte(tt.cur), []byte(tt.incr))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("IncrByFloat(%q, %q) = %q, %v; want error %q", tt.cur, tt.incr, got, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("IncrByFloat(%q, %q) = %q, %v; want %q", tt.cur, tt.incr, got, err, tt.want)
		}
	}
}

func TestIncrByFloatHugeValues(t *testing.T) {
	// The largest long double prints as all its 4933 integer digits.
	got, err := IncrByFloat([]byte("1.18973149535723176502e+4932"), []byte("0"))
	if err != nil || len(got) != 4933 || !strings.HasPrefix(string(got), "118973149535723176502126385303") ||
		!strings.HasSuffix(string(got), "9770240") {
		t.Errorf("max long double: %.40q (%d bytes), %v", got, len(got), err)
	}
	got, err = IncrByFloat([]byte("-1e308"), []byte("-1e308"))
	if err != nil || len(got) != 310 || !strings.HasPrefix(string(got), "-19999999999999999999337175931169129") {
		t.Errorf("-2e308: %.40q (%d bytes), %v", got, len(got), err)
	}
	long := "1" + strings.Repeat("0", maxLongDoubleChars-1)
	if _, err := IncrByFloat([]byte(long), []byte("1")); err != ErrNotFloat {
		t.Errorf("a %d-byte value: %v, want %v", len(long), err, ErrNotFloat)
	}
	if got, err := IncrByFloat([]byte(long[:200]), []byte("1")); err != nil || len(got) != 200 {
		t.Errorf("a 200-digit value: %q, %v", got, err)
	}
}

func TestIncrByFloatMissingKey(t *testing.T) {
	got, err := IncrByFloat(nil, []byte("2.5"))
	if err != nil || string(got) != "2.5" {
		t.Errorf("missing key: %q, %v", got, err)
	}
	if _, err := IncrByFloat([]byte{}, []byte("2.5")); err != ErrNotFloat {
		t.Errorf("empty value: %v, want %v", err, ErrNotFloat)
	}
}

// TestHIncrByFloat checks the hash variant's own errors, recorded from
// redis-server: the increment is checked first and an infinite increment
// has its own message.
func TestHIncrByFloat(t *testing.T) {
	tests := []struct {
		cur        []byte
		incr, want string
		err        *Error
	}{
		{nil, "1.5", "1.5", nil},
		{[]byte("1"), "0.1", "1.1", nil},
		{[]byte("0.1"), "0.2", "0.3", nil},
		{[]byte("1"), "inf", "", ErrNaNOrInf},
		{nil, "-inf", "", ErrNaNOrInf},
		{[]byte("1"), "nan", "", ErrNotFloat},
		{[]byte("abc"), "abc", "", ErrNotFloat},
		{[]byte("abc"), "1", "", ErrHashNotFloat},
		{[]byte(""), "1", "", ErrHashNotFloat},
		{[]byte("inf"), "1", "", ErrIncrNaN},
		{[]byte("1e4932"), "1e4932", "", ErrIncrNaN},
	}
	for _, tt := range tests {
		got, err := HIncrByFloat(tt.cur, []byte(tt.incr))
		if err != tt.err || string(got) != tt.want {
			t.Errorf("HIncrByFloat(%q, %q) = %q, %v; want %q, %v", tt.cur, tt.incr, got, err, tt.want, tt.err)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{3, "3"},
		{-2.5, "-2.5"},
		{1e20, "100000000000000000000"},
		{0.5, "0.5"},
		// A float64 0.1 is not the decimal 0.1: its 17 digits show.
		{0.1, "0.10000000000000001"},
		{1e-18, "0"},
		{-1e-18, "0"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	}
	for _, tt := range tests {
		if got := string(FormatFloat(tt.f)); got != tt.want {
			t.Errorf("FormatFloat(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

// FuzzIncrByFloat checks that IncrByFloat never panics and that a result
// reads back as a valid value that adds 0 to itself unchanged.
func FuzzIncrByFloat(f *testing.F) {
	for _, c := range incrCases {
		f.Add(c.cur, c.incr)
	}
	f.Fuzz(func(t *testing.T, cur, incr string) {
		got, err := IncrByFloat([]byte(cur), []byte(incr))
		if err != nil {
			return
		}
		again, err := IncrByFloat(got, []byte("0"))
		if err != nil || string(again) != string(got) {
			t.Fatalf("%q + %q = %q, which plus 0 is %q, %v", cur, incr, got, again, err)
		}
	})
}
