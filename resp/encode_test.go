package resp

import (
	"bufio"
	"bytes"
	"math"
	"testing"
)

func TestAppendReply(t *testing.T) {
	tests := []struct {
		name         string
		r            Reply
		resp2, resp3 string
	}{
		{"null", Null, "$-1\r\n", "_\r\n"},
		{"null array", NullArr, "*-1\r\n", "_\r\n"},
		{"simple", OK, "+OK\r\n", "+OK\r\n"},
		{"simple with newline", Simple("a\r\nb"), "+a  b\r\n", "+a  b\r\n"},
		{"error", ErrSyntax.Reply(), "-ERR syntax error\r\n", "-ERR syntax error\r\n"},
		{"error with newline", Reply{Kind: KindError, Str: []byte("ERR a\nb")}, "-ERR a b\r\n", "-ERR a b\r\n"},
		{"int", Int(-42), ":-42\r\n", ":-42\r\n"},
		{"int min", Int(math.MinInt64), ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"},
		{"bulk", BulkString("hi"), "$2\r\nhi\r\n", "$2\r\nhi\r\n"},
		{"bulk binary", Bulk([]byte("a\r\n\x00")), "$4\r\na\r\n\x00\r\n", "$4\r\na\r\n\x00\r\n"},
		{"bulk empty", Bulk(nil), "$0\r\n\r\n", "$0\r\n\r\n"},
		{"array", Array(Int(1), BulkString("x")), "*2\r\n:1\r\n$1\r\nx\r\n", "*2\r\n:1\r\n$1\r\nx\r\n"},
		{"array empty", EmptyArr, "*0\r\n", "*0\r\n"},
		{"array nested", Array(Array(Null), NullArr), "*2\r\n*1\r\n$-1\r\n*-1\r\n", "*2\r\n*1\r\n_\r\n_\r\n"},
		{"map", Map(BulkString("k"), Int(1), BulkString("j"), Null),
			"*4\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n$-1\r\n", "%2\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n_\r\n"},
		{"map empty", Map(), "*0\r\n", "%0\r\n"},
		{"set", Set(Simple("a"), Simple("b")), "*2\r\n+a\r\n+b\r\n", "~2\r\n+a\r\n+b\r\n"},
		{"set empty", Set(), "*0\r\n", "~0\r\n"},
		{"double", Double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"},
		{"double integral", Double(3), "$1\r\n3\r\n", ",3\r\n"},
		{"double inf", Double(math.Inf(-1)), "$4\r\n-inf\r\n", ",-inf\r\n"},
		{"double nan", Double(math.NaN()), "$3\r\nnan\r\n", ",nan\r\n"},
		{"bool true", Bool(true), ":1\r\n", "#t\r\n"},
		{"bool false", Bool(false), ":0\r\n", "#f\r\n"},
		{"verbatim", Verbatim("a:b\r\n"), "$5\r\na:b\r\n\r\n", "=9\r\ntxt:a:b\r\n\r\n"},
		{"verbatim empty", Verbatim(""), "$0\r\n\r\n", "=4\r\ntxt:\r\n"},
		{"unknown kind", Reply{Kind: 200}, "-ERR internal error: unknown reply kind\r\n",
			"-ERR internal error: unknown reply kind\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendReply(nil, &tt.r, RESP2)); got != tt.resp2 {
				t.Errorf("RESP2: got %q, want %q", got, tt.resp2)
			}
			if got := string(AppendReply(nil, &tt.r, RESP3)); got != tt.resp3 {
				t.Errorf("RESP3: got %q, want %q", got, tt.resp3)
			}
			// Appending must extend, not overwrite, the buffer.
			if got := string(AppendReply([]byte("xy"), &tt.r, RESP3)); got != "xy"+tt.resp3 {
				t.Errorf("append to a buffer: got %q", got)
			}
		})
	}
}

func TestAppendHelpers(t *testing.T) {
	if got := string(AppendArrayHeader(nil, 3)); got != "*3\r\n" {
		t.Errorf("AppendArrayHeader = %q", got)
	}
	if got := string(AppendInt(nil, 0)); got != ":0\r\n" {
		t.Errorf("AppendInt = %q", got)
	}
	if got := string(AppendBulk(nil, []byte("abc"))); got != "$3\r\nabc\r\n" {
		t.Errorf("AppendBulk = %q", got)
	}
}

// TestAppendDouble follows Redis 7.2's d2string: integers up to 2^62 are
// printed whole, other values with fpconv_dtoa's layout.
func TestAppendDouble(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{math.Inf(1), "inf"},
		{math.NaN(), "nan"},
		{1, "1"},
		{-17, "-17"},
		{1 << 53, "9007199254740992"},
		{1 << 60, "1152921504606846976"},
		{1 << 62, "4611686018427387904"},
		{-(1 << 62), "-4611686018427387904"},
		{1 << 63, "9223372036854776000"}, // plain while the exponent < digits+7
		{1e20, "1e+20"},
		{123456789012345678901, "123456789012345680000"},
		{1.5, "1.5"},
		{-2.25, "-2.25"},
		{0.1, "0.1"},
		{3.14159, "3.14159"},
		{1.5e-5, "0.000015"},
		{1e-6, "0.000001"},
		{1e-7, "1e-7"},
		{1.25e-7, "1.25e-7"},
		{123.456e-9, "1.23456e-7"},
		{1e-10, "1e-10"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{1234567.5, "1234567.5"},
		{0.30000000000000004, "0.30000000000000004"},
	}
	for _, tt := range tests {
		if got := string(AppendDouble(nil, tt.f)); got != tt.want {
			t.Errorf("AppendDouble(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestAppendReplyAllocs(t *testing.T) {
	r := Array(BulkString("k"), Int(7), Map(Simple("a"), Double(2.5)), Set(Bool(true)), Verbatim("x"))
	buf := make([]byte, 0, 256)
	for _, proto := range []int{RESP2, RESP3} {
		if n := testing.AllocsPerRun(100, func() { buf = AppendReply(buf[:0], &r, proto) }); n != 0 {
			t.Errorf("RESP%d: %v allocations, want 0", proto, n)
		}
	}
}

// FuzzAppendReply builds a reply from the fuzzer's bytes, encodes it in
// both protocols and reads it back: the reader must see the same tree.
func FuzzAppendReply(f *testing.F) {
	f.Add([]byte("\x06\x02\x05abc\x04\x07"))
	f.Add([]byte("\x07\x02\x02\x01k\x09\x01"))
	f.Add([]byte("\x0b\x03a\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _ := buildReply(data, 0)
		for _, proto := range []int{RESP2, RESP3} {
			enc := AppendReply(nil, &r, proto)
			br := bufio.NewReader(bytes.NewReader(enc))
			got, err := readReply(br)
			if err != nil {
				t.Fatalf("RESP%d: reading %q: %v", proto, enc, err)
			}
			if br.Buffered() != 0 {
				t.Fatalf("RESP%d: %d bytes left after the reply in %q", proto, br.Buffered(), enc)
			}
			if want := expectRead(r, proto); !sameReply(got, want) {
				t.Fatalf("RESP%d: %q read back as %#v, want %#v", proto, enc, got, want)
			}
		}
	})
}

// buildReply decodes a reply tree from fuzz bytes: a kind byte, then for
// strings a length byte and the bytes, for aggregates a count byte.
func buildReply(data []byte, depth int) (Reply, []byte) {
	if len(data) == 0 {
		return Null, nil
	}
	kind := Kind(data[0] % 12)
	data = data[1:]
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	str := func() []byte {
		n := min(int(next()), len(data))
		s := data[:n]
		data = data[n:]
		return s
	}
	switch kind {
	case KindNull, KindNullArray:
		return Reply{Kind: kind}, data
	case KindSimple, KindError, KindBulk, KindVerbatim:
		return Reply{Kind: kind, Str: str()}, data
	case KindInt:
		return Int(int64(int8(next())) << (next() % 64)), data
	case KindBool:
		return Bool(next()&1 == 1), data
	case KindDouble:
		b := str()
		f, ok := ParseFloat(b)
		if !ok {
			f = float64(len(b)) / 3
		}
		return Double(f), data
	}
	n := int(next() % 5)
	if depth > 4 {
		n = 0
	}
	if kind == KindMap {
		n *= 2
	}
	elems := make([]Reply, n)
	for i := range elems {
		elems[i], data = buildReply(data, depth+1)
	}
	return Reply{Kind: kind, Elems: elems}, data
}

// expectRead is what readReply returns for r after encoding in proto.
func expectRead(r Reply, proto int) Reply {
	clean := func(b []byte) []byte {
		out := make([]byte, len(b))
		for i, c := range b {
			if c == '\r' || c == '\n' {
				c = ' '
			}
			out[i] = c
		}
		return out
	}
	switch r.Kind {
	case KindNull, KindNullArray:
		if proto == RESP3 {
			return Null
		}
	case KindSimple, KindError:
		return Reply{Kind: r.Kind, Str: clean(r.Str)}
	case KindBool:
		if proto == RESP2 {
			return Int(r.Int)
		}
	case KindDouble:
		if proto == RESP2 {
			return BulkString(string(AppendDouble(nil, r.Float)))
		}
		return Reply{Kind: KindDouble, Str: AppendDouble(nil, r.Float)}
	case KindVerbatim:
		if proto == RESP2 {
			return Bulk(r.Str)
		}
	case KindArray, KindSet, KindMap:
		out := Reply{Kind: r.Kind, Elems: make([]Reply, len(r.Elems))}
		if proto == RESP2 {
			out.Kind = KindArray
		}
		for i, e := range r.Elems {
			out.Elems[i] = expectRead(e, proto)
		}
		return out
	}
	return r
}

func sameReply(a, b Reply) bool {
	if a.Kind != b.Kind || a.Int != b.Int || !bytes.Equal(a.Str, b.Str) || len(a.Elems) != len(b.Elems) {
		return false
	}
	for i := range a.Elems {
		if !sameReply(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	return true
}
