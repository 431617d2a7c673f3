package resp

import (
	"math"
	"testing"
)

// TestParseInt follows Redis's string2ll; the accept/reject column was
// checked against redis-server with INCRBY (see TestLiveParseInt).
func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"-1", -1, true},
		{"123456789", 123456789, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"18446744073709551615", 0, false},
		{"18446744073709551616", 0, false},
		{"99999999999999999999", 0, false},  // 20 digits, beyond uint64
		{"-99999999999999999999", 0, false}, // 21 bytes
		{"000000000000000000001", 0, false},
		{"-0", 0, false},
		{"00", 0, false},
		{"01", 0, false},
		{"-01", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"1.0", 0, false},
		{"1a", 0, false},
		{"１", 0, false}, // a full-width digit
	}
	for _, tt := range tests {
		got, ok := ParseInt([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	b := []byte("-9223372036854775808")
	if n := testing.AllocsPerRun(100, func() { ParseInt(b) }); n != 0 {
		t.Errorf("ParseInt allocates %v times", n)
	}
}

// TestParseFloat follows Redis's string2d (strtod in the C locale).
func TestParseFloat(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0", 0, true},
		{"1.5", 1.5, true},
		{"-1.5", -1.5, true},
		{"+2", 2, true},
		{".5", 0.5, true},
		{"5.", 5, true},
		{"1e3", 1000, true},
		{"1E+3", 1000, true},
		{"2.5e-3", 0.0025, true},
		{"0x10", 16, true},
		{"0X1.8p1", 3, true},
		{"0x.8", 0.5, true},
		{"inf", math.Inf(1), true},
		{"-INF", math.Inf(-1), true},
		{"Infinity", math.Inf(1), true},
		{"1e-320", 1e-320, true}, // subnormal: accepted
		{"0e-999", 0, true},      // an exact zero is no underflow
		{"1e-400", 0, false},     // underflow to zero
		{"1e400", 0, false},      // overflow
		{"-1e400", 0, false},
		{"nan", 0, false},
		{"NaN(1)", 0, false},
		{"infinit", 0, false},
		{"", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"\t1", 0, false},
		{"1\x00", 0, false},
		{"1e", 0, false},
		{"1e+", 0, false},
		{"0x", 0, false},
		{"0x1p", 0, false},
		{".", 0, false},
		{"-", 0, false},
		{"1_000", 0, false},
		{"0x_1p0", 0, false},
		{"1.2.3", 0, false},
		{"1,5", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseFloat([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseFloat(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got, _ := ParseFloat([]byte("-0")); !math.Signbit(got) {
		t.Errorf("ParseFloat(-0) lost the sign")
	}
}

func TestEqualFold(t *testing.T) {
	tests := []struct {
		b, s string
		want bool
	}{
		{"get", "get", true},
		{"GET", "get", true},
		{"gEt", "GET", true},
		{"get", "gets", false},
		{"", "", true},
		{"ex", "px", false},
		{"@", "`", false},       // '@' + 32 is '`': only letters fold
		{"[", "{", false},       // '[' + 32 is '{'
		{"\xc0", "\xe0", false}, // not ASCII
		{"NX", "nx", true},
	}
	for _, tt := range tests {
		if got := EqualFold([]byte(tt.b), tt.s); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v", tt.b, tt.s, got)
		}
	}
	b := []byte("PERSIST")
	if n := testing.AllocsPerRun(100, func() { EqualFold(b, "persist") }); n != 0 {
		t.Errorf("EqualFold allocates %v times", n)
	}
}
