package lin

import (
	"math"
	"testing"
)

// TestParseInt pins the strings Redis's INCR takes as integers
// (string2ll): exact decimal, no padding, no '+', no "-0".
func TestParseInt(t *testing.T) {
	good := map[string]int64{
		"0": 0, "1": 1, "-1": -1, "7000003": 7000003, "-42": -42,
		"9223372036854775807": math.MaxInt64, "-9223372036854775808": math.MinInt64,
	}
	for s, want := range good {
		if got, ok := parseInt(s); !ok || got != want {
			t.Errorf("parseInt(%q) = %d, %v; want %d, true", s, got, ok, want)
		}
	}
	for _, s := range []string{
		"", "-", "+1", "007", "00", "-0", "-01", " 1", "1 ", "1\r\n", "abc", "1a", "0x10", "1.0", "1e3",
		"9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999",
		"123456789012345678901",
	} {
		if got, ok := parseInt(s); ok {
			t.Errorf("parseInt(%q) = %d, true; want false", s, got)
		}
	}
}

// TestIncrModel checks INCR in the model against Redis on the edges
// parseInt decides.
func TestIncrModel(t *testing.T) {
	cases := []struct {
		val  string
		want Output
	}{
		{"41", Output{Int: 42}},
		{"-1", Output{Int: 0}},
		{"007", Output{Err: ErrNotInteger}},
		{"9223372036854775806", Output{Int: math.MaxInt64}},
		{"9223372036854775807", Output{Err: ErrNotInteger}}, // the increment would overflow
		{"-9223372036854775808", Output{Int: math.MinInt64 + 1}},
	}
	for _, c := range cases {
		got, next := step(State{Type: 's', Str: c.val}, incr("k"))
		if got != c.want {
			t.Errorf("INCR of %q = %v, want %v", c.val, got, c.want)
		}
		if c.want.Err == "" && next.Str != got.String() {
			t.Errorf("INCR of %q left %q, want %q", c.val, next.Str, got.String())
		}
	}
}
