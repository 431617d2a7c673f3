package resp

import (
	"math"
	"math/big"
	"strconv"
)

// Redis parses INCRBYFLOAT and HINCRBYFLOAT operands with strtold into a C
// long double (on x86-64 the x87 80-bit format: a 64-bit mantissa), adds in
// that format, and prints the sum with "%.17Lf" minus trailing zeros. A
// float64 cannot reproduce that ("0.1" + "0.2" is "0.3" to Redis), so this
// file emulates the long double exactly with math/big: the decimal text is
// converted exactly, rounded once to 64 bits (nearest, ties to even), and
// the x87 exponent range, subnormals included, is enforced by hand.

// maxLongDoubleChars is Redis's MAX_LONG_DOUBLE_CHARS: string2ld rejects
// texts of this length or longer.
const maxLongDoubleChars = 5 * 1024

// fpFormat describes a binary floating point format in big.Float's terms
// (x = mant × 2^exp with 0.5 <= |mant| < 1).
type fpFormat struct {
	prec   uint // mantissa bits
	maxExp int  // largest exponent of a finite value
	minExp int  // smallest exponent of a normal value
	tiny   int  // the smallest subnormal is 2^tiny
}

// x87Extended is C's long double on x86-64.
var x87Extended = fpFormat{prec: 64, maxExp: 16384, minExp: -16381, tiny: -16445}

// floatText is a number text accepted by C's strtod/strtold grammar, split
// into its parts. The value is mant × 2^exp2 × 10^exp10.
type floatText struct {
	neg, inf, nan bool
	hex           bool
	mant          []byte // mantissa digits, with the radix point if any
	exp2, exp10   int    // only one of them is used, by hex and decimal texts
	nonZero       bool   // some mantissa digit is not '0'
}

// scanFloat parses b with the grammar of glibc's strtod in the C locale and
// reports whether all of b was consumed, as Redis's string2d and string2ld
// demand. Leading white space, which strtod would skip, is rejected as
// Redis rejects it; so is an embedded NUL.
func scanFloat(b []byte) (t floatText, ok bool) {
	if len(b) == 0 || isSpace(b[0]) {
		return t, false
	}
	i := 0
	if b[0] == '+' || b[0] == '-' {
		t.neg = b[0] == '-'
		i++
	}
	rest := b[i:]
	switch {
	case hasPrefixFold(rest, "nan"):
		// "nan" and "nan(chars)" are NaN, which every caller rejects.
		t.nan = true
		return t, true
	case hasPrefixFold(rest, "infinity"):
		t.inf = true
		return t, len(rest) == len("infinity")
	case hasPrefixFold(rest, "inf"):
		t.inf = true
		return t, len(rest) == len("inf")
	}
	isDigit := isDecDigit
	if len(rest) > 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X') {
		t.hex = true
		isDigit = isHexDigit
		i += 2
	}
	start := i
	ndigits := 0
	frac := -1
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' && frac < 0 {
			frac = 0
			continue
		}
		if !isDigit(c) {
			break
		}
		if c != '0' {
			t.nonZero = true
		}
		ndigits++
		if frac >= 0 {
			frac++
		}
	}
	if ndigits == 0 {
		// "0x" without hex digits is a "0" followed by junk; "." and ""
		// are no number at all.
		return t, false
	}
	t.mant = b[start:i]
	if frac < 0 {
		frac = 0
	}
	expMark := byte('e')
	if t.hex {
		expMark = 'p'
	}
	exp := 0
	if i < len(b) && (b[i]|0x20) == expMark {
		j := i + 1
		eneg := false
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			eneg = b[j] == '-'
			j++
		}
		if j == len(b) || !isDecDigit(b[j]) {
			return t, false // strtod leaves the dangling 'e' unread
		}
		for ; j < len(b) && isDecDigit(b[j]); j++ {
			if exp < 1e8 { // saturate: the value is out of range by far
				exp = exp*10 + int(b[j]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
		i = j
	}
	if t.hex {
		t.exp2 = exp - 4*frac
	} else {
		t.exp10 = exp - frac
	}
	return t, i == len(b)
}

// round converts the exact value of t to format f, rounding to nearest with
// ties to even as strtod does. It reports overflow (strtod's ERANGE with
// HUGE_VAL) and underflow to zero (ERANGE with 0), both of which Redis
// rejects; a subnormal result is accepted, as Redis accepts it.
func (t *floatText) round(f fpFormat) (x *big.Float, overflow, underflow bool) {
	x = new(big.Float).SetPrec(f.prec).SetMode(big.ToNearestEven)
	if t.inf {
		return x.SetInf(t.neg), false, false
	}
	if !t.nonZero {
		if t.neg {
			x.Neg(x)
		}
		return x, false, false
	}
	digits := make([]byte, 0, len(t.mant))
	for _, c := range t.mant {
		if c != '.' && (c != '0' || len(digits) > 0) {
			digits = append(digits, c)
		}
	}
	// Rule out values far outside the format before building big powers:
	// the value lies in [base^(mag-1), base^mag).
	if t.hex {
		mag := 4*len(digits) + t.exp2
		if mag > f.maxExp+8 {
			return nil, true, false
		}
		if mag < f.tiny-8 {
			return nil, false, true
		}
	} else {
		mag := len(digits) + t.exp10
		if mag > int(float64(f.maxExp)*math.Log10(2))+2 {
			return nil, true, false
		}
		if mag < int(float64(f.tiny)*math.Log10(2))-2 {
			return nil, false, true
		}
	}
	base := 10
	if t.hex {
		base = 16
	}
	num, _ := new(big.Int).SetString(string(digits), base)
	den := big.NewInt(1)
	switch e := t.exp2 + t.exp10; {
	case t.hex && e > 0:
		num.Lsh(num, uint(e))
	case t.hex && e < 0:
		den.Lsh(den, uint(-e))
	case e > 0:
		num.Mul(num, pow10(e))
	case e < 0:
		den = pow10(-e)
	}
	exact := new(big.Rat).SetFrac(num, den)
	x.SetRat(exact) // correctly rounded: SetRat divides exact integers
	if x.MantExp(nil) > f.maxExp {
		return nil, true, false
	}
	if x.MantExp(nil) < f.minExp {
		// Subnormal: the value is rounded to a multiple of 2^tiny, once,
		// from the exact value (rounding the 64-bit result again could
		// round twice).
		scaled := new(big.Rat).SetFrac(new(big.Int).Lsh(num, uint(-f.tiny)), den)
		q := roundHalfEven(scaled)
		if q.Sign() == 0 {
			return nil, false, true
		}
		x.SetInt(q)
		x.SetMantExp(x, f.tiny)
	}
	if t.neg {
		x.Neg(x)
	}
	return x, false, false
}

// roundHalfEven returns r (r >= 0) rounded to an integer, ties to even.
func roundHalfEven(r *big.Rat) *big.Int {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	m.Lsh(m, 1)
	switch c := m.Cmp(r.Denom()); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		q.Add(q, big.NewInt(1))
	}
	return q
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// parseLongDouble parses b as Redis's string2ld does. It fails where Redis
// answers "value is not a valid float": empty or over-long text, white
// space, trailing bytes, NaN, overflow and underflow to zero. The result
// may be an infinity ("inf" is accepted).
func parseLongDouble(b []byte) (*big.Float, bool) {
	if len(b) >= maxLongDoubleChars {
		return nil, false
	}
	t, ok := scanFloat(b)
	if !ok || t.nan {
		return nil, false
	}
	x, overflow, underflow := t.round(x87Extended)
	if overflow || underflow {
		return nil, false
	}
	return x, true
}

// addLongDouble adds as the x87 unit does and formats the sum as Redis
// stores and returns it; a NaN or infinite sum is ErrIncrNaN.
func addLongDouble(a, b *big.Float) ([]byte, *Error) {
	if a.IsInf() || b.IsInf() {
		// inf + x is inf and inf - inf is NaN: both are refused.
		return nil, ErrIncrNaN
	}
	sum := new(big.Float).SetPrec(x87Extended.prec).SetMode(big.ToNearestEven).Add(a, b)
	if sum.MantExp(nil) > x87Extended.maxExp {
		return nil, ErrIncrNaN
	}
	// A subnormal sum needs no second rounding: both operands are
	// multiples of 2^tiny, so a sum below the normal range is exact.
	return appendLongDouble(nil, sum), nil
}

// appendLongDouble appends x as Redis's ld2string in human-friendly mode
// prints it: "%.17Lf", then trailing zeros and a trailing '.' dropped, and
// "-0" written as "0". big.Float prints the exact binary value and rounds
// ties to even, as glibc's printf does.
func appendLongDouble(dst []byte, x *big.Float) []byte {
	if x.IsInf() {
		if x.Signbit() {
			return append(dst, "-inf"...)
		}
		return append(dst, "inf"...)
	}
	start := len(dst)
	dst = x.Append(dst, 'f', 17)
	end := len(dst)
	for dst[end-1] == '0' {
		end--
	}
	if dst[end-1] == '.' {
		end--
	}
	dst = dst[:end]
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}

// IncrByFloat computes INCRBYFLOAT exactly as Redis 7.2 does (in x87 long
// double arithmetic) and returns the new value, which is both what Redis
// stores and what it replies. cur is the current string value, or nil for a
// missing key (an empty value is not nil: Redis rejects it). The errors are
// ErrNotFloat for an operand that is not a number (checked on cur first,
// then incr) and ErrIncrNaN for a NaN or infinite result.
func IncrByFloat(cur, incr []byte) ([]byte, *Error) {
	v := new(big.Float)
	if cur != nil {
		var ok bool
		if v, ok = parseLongDouble(cur); !ok {
			return nil, ErrNotFloat
		}
	}
	d, ok := parseLongDouble(incr)
	if !ok {
		return nil, ErrNotFloat
	}
	return addLongDouble(v, d)
}

// HIncrByFloat computes HINCRBYFLOAT like IncrByFloat, with Redis's errors
// for hashes: ErrNotFloat for an increment that is not a number,
// ErrNaNOrInf for an infinite increment, ErrHashNotFloat for a field value
// that is not a number and ErrIncrNaN for a NaN or infinite result. cur is
// nil for a missing field.
//
// Redis checks the increment before it looks at the key, so an invalid
// increment on a key of the wrong type is ErrNotFloat, not WRONGTYPE;
// HIncrByFloat(nil, incr) returns exactly the increment's errors, so a
// caller can check them first.
func HIncrByFloat(cur, incr []byte) ([]byte, *Error) {
	d, ok := parseLongDouble(incr)
	if !ok {
		return nil, ErrNotFloat
	}
	if d.IsInf() {
		return nil, ErrNaNOrInf
	}
	v := new(big.Float)
	if cur != nil {
		if v, ok = parseLongDouble(cur); !ok {
			return nil, ErrHashNotFloat
		}
	}
	return addLongDouble(v, d)
}

// FormatFloat formats f as Redis's ld2string does in human-friendly mode
// (the format of INCRBYFLOAT results): the exact value printed with
// "%.17Lf", trailing zeros dropped, no exponent. Note that a float64 sum is
// not what Redis computes: use IncrByFloat or HIncrByFloat for those
// commands; FormatFloat is exact only for values that are float64s.
func FormatFloat(f float64) []byte {
	if math.IsNaN(f) {
		return []byte("nan")
	}
	x := new(big.Float).SetPrec(x87Extended.prec).SetFloat64(f)
	return appendLongDouble(nil, x)
}

// ParseFloat parses a Redis float argument as Redis's string2d does (strtod
// in the C locale, as for ZADD scores): decimal or hexadecimal notation with
// an optional exponent, "inf" and "infinity" in any case; no white space,
// no trailing bytes. NaN, overflow and underflow to zero are rejected;
// callers reject infinities where Redis does.
func ParseFloat(b []byte) (float64, bool) {
	t, ok := scanFloat(b)
	if !ok || t.nan {
		return 0, false
	}
	if t.inf {
		if t.neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	var f float64
	var err error
	if t.hex && !hasExp(b) {
		f, err = strconv.ParseFloat(string(b)+"p0", 64)
	} else {
		f, err = strconv.ParseFloat(string(b), 64)
	}
	if err != nil { // only ErrRange can remain: overflow
		return 0, false
	}
	if f == 0 && t.nonZero {
		return 0, false // underflow to zero
	}
	return f, true
}

func hasExp(b []byte) bool {
	for _, c := range b {
		if c == 'p' || c == 'P' {
			return true
		}
	}
	return false
}

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && EqualFold(b[:len(s)], s)
}

func isDecDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
