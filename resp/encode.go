package resp

import (
	"math"
	"strconv"
)

// Protocol versions a connection may speak.
const (
	RESP2 = 2
	RESP3 = 3
)

// AppendReply appends r encoded in the given protocol (RESP2 or RESP3) to
// dst and returns the extended buffer. It allocates only when dst must grow.
func AppendReply(dst []byte, r *Reply, proto int) []byte {
	switch r.Kind {
	case KindNull:
		if proto == RESP3 {
			return append(dst, "_\r\n"...)
		}
		return append(dst, "$-1\r\n"...)
	case KindNullArray:
		if proto == RESP3 {
			return append(dst, "_\r\n"...)
		}
		return append(dst, "*-1\r\n"...)
	case KindSimple:
		return appendLine(dst, '+', r.Str)
	case KindError:
		return appendLine(dst, '-', r.Str)
	case KindInt:
		return AppendInt(dst, r.Int)
	case KindBulk:
		return AppendBulk(dst, r.Str)
	case KindArray:
		return appendAggregate(dst, '*', len(r.Elems), r.Elems, proto)
	case KindSet:
		if proto == RESP3 {
			return appendAggregate(dst, '~', len(r.Elems), r.Elems, proto)
		}
		return appendAggregate(dst, '*', len(r.Elems), r.Elems, proto)
	case KindMap:
		if proto == RESP3 {
			return appendAggregate(dst, '%', len(r.Elems)/2, r.Elems, proto)
		}
		return appendAggregate(dst, '*', len(r.Elems), r.Elems, proto)
	case KindDouble:
		if proto == RESP3 {
			dst = append(dst, ',')
			dst = AppendDouble(dst, r.Float)
			return append(dst, '\r', '\n')
		}
		var buf [32]byte
		return AppendBulk(dst, AppendDouble(buf[:0], r.Float))
	case KindBool:
		if proto == RESP3 {
			if r.Int != 0 {
				return append(dst, "#t\r\n"...)
			}
			return append(dst, "#f\r\n"...)
		}
		return AppendInt(dst, r.Int)
	case KindVerbatim:
		if proto == RESP3 {
			dst = append(dst, '=')
			dst = strconv.AppendInt(dst, int64(len(r.Str)+4), 10)
			dst = append(dst, "\r\ntxt:"...)
			dst = append(dst, r.Str...)
			return append(dst, '\r', '\n')
		}
		return AppendBulk(dst, r.Str)
	}
	return appendLine(dst, '-', []byte("ERR internal error: unknown reply kind"))
}

func appendAggregate(dst []byte, prefix byte, n int, elems []Reply, proto int) []byte {
	dst = append(dst, prefix)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, '\r', '\n')
	for i := range elems {
		dst = AppendReply(dst, &elems[i], proto)
	}
	return dst
}

// appendLine writes a one-line reply; CR and LF inside s would end the line
// early, so they are replaced by spaces as Redis does for error texts.
func appendLine(dst []byte, prefix byte, s []byte) []byte {
	dst = append(dst, prefix)
	for _, c := range s {
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return append(dst, '\r', '\n')
}

// AppendInt appends an integer reply.
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// AppendBulk appends a bulk string reply.
func AppendBulk(dst []byte, b []byte) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendArrayHeader appends the header of an array of n elements.
func AppendArrayHeader(dst []byte, n int) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

// AppendDouble formats f the way Redis 7.2's d2string does: "nan", "inf",
// "-inf", "0" and "-0"; an integral value within ±2^62 as an integer; any
// other value with the digit layout of fpconv_dtoa, Redis's Grisu2 port:
// plain notation for moderate exponents, otherwise "1.5e+20" or "1e-7"
// (no zero padding in the exponent). The digits are Go's shortest
// round-trip digits; Grisu2 gives the same digits for almost every value
// but is not always shortest (1e23 is 9.999999999999999e+22 there).
func AppendDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	case f >= -(1<<62) && f <= 1<<62 && f == math.Trunc(f):
		return strconv.AppendInt(dst, int64(f), 10)
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// "d.ddde±x" gives the shortest digits and the decimal exponent.
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	mark := bytesIndexByte(e, 'e')
	exp10 := 0
	for _, c := range e[mark+2:] {
		exp10 = exp10*10 + int(c-'0')
	}
	if e[mark+1] == '-' {
		exp10 = -exp10
	}
	var dbuf [24]byte
	digits := append(dbuf[:0], e[0])
	digits = append(digits, e[min(2, mark):mark]...)
	return appendFpconvDigits(dst, digits, exp10-(len(digits)-1))
}

// appendFpconvDigits lays out the value digits × 10^k as fpconv_dtoa's
// emit_digits does.
func appendFpconvDigits(dst, digits []byte, k int) []byte {
	n := len(digits)
	exp := k + n - 1
	absExp := exp
	if absExp < 0 {
		absExp = -absExp
	}
	switch {
	case k >= 0 && absExp < n+7:
		dst = append(dst, digits...)
		for ; k > 0; k-- {
			dst = append(dst, '0')
		}
		return dst
	case k < 0 && (k > -7 || absExp < 4):
		offset := n + k
		if offset > 0 {
			dst = append(dst, digits[:offset]...)
			dst = append(dst, '.')
			return append(dst, digits[offset:]...)
		}
		dst = append(dst, '0', '.')
		for ; offset < 0; offset++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[0])
	if n > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:]...)
	}
	dst = append(dst, 'e')
	if exp < 0 {
		dst = append(dst, '-')
	} else {
		dst = append(dst, '+')
	}
	return strconv.AppendInt(dst, int64(absExp), 10)
}

func bytesIndexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
