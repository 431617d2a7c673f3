package server

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

// frameAll runs input through a framer in pieces of chunk bytes (all at
// once when chunk is 0) and returns the requests it hands on, written as
// canonical multibulk frames, and its error.
func frameAll(t testing.TB, lim Limits, input []byte, chunk int, unauth bool) ([]byte, error) {
	t.Helper()
	reqs, err := frameRequests(t, lim, input, chunk, unauth)
	var out []byte
	for _, args := range reqs {
		out = appendMultibulk(out, args)
	}
	return out, err
}

// frameRequests runs input through a framer as frameAll does and returns
// the arguments of the requests it hands on, copied.
func frameRequests(t testing.TB, lim Limits, input []byte, chunk int, unauth bool) ([][][]byte, error) {
	t.Helper()
	f := newFramer(lim.withDefaults())
	var reqs [][][]byte
	drain := func() {
		cmds, _ := f.requests(nil, nil)
		for _, c := range cmds {
			reqs = append(reqs, copyArgs(c.Args))
		}
		f.consume()
	}
	for len(input) > 0 && f.err == nil {
		piece := input
		if chunk > 0 && len(piece) > chunk {
			piece = piece[:chunk]
		}
		for len(piece) > 0 && f.err == nil {
			f.unauth = unauth
			n := f.feed(piece)
			piece, input = piece[n:], input[n:]
			if f.err != nil {
				f.dropPartial()
			}
			drain()
		}
	}
	return reqs, f.err
}

// appendMultibulk appends args to b as a multibulk request.
func appendMultibulk(b []byte, args [][]byte) []byte {
	b = append(strconv.AppendInt(append(b, '*'), int64(len(args)), 10), '\r', '\n')
	for _, a := range args {
		b = append(strconv.AppendInt(append(b, '$'), int64(len(a)), 10), '\r', '\n')
		b = append(append(b, a...), '\r', '\n')
	}
	return b
}

func TestFramerCanonicalFrames(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"multibulk", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"},
		{"inline", "GET k\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"},
		{"inline LF only", "GET k\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"},
		{"empty bulk", "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"},
		{"binary bulk", "*1\r\n$4\r\na\r\nb\r\n", "*1\r\n$4\r\na\r\nb\r\n"},
		// Redis drops the two bytes after bulk data and the byte after a
		// count line's '\r' without looking at them.
		{"bytes after data are not checked", "*1\r\n$4\r\nPINGab", "*1\r\n$4\r\nPING\r\n"},
		{"byte after CR is not checked", "*1\rX$4\rXPING\r\n", "*1\r\n$4\r\nPING\r\n"},
		{"empty multibulks and lines are ignored", "*0\r\n*-1\r\n*-5\r\n\r\n\n  \t \r\nPING\r\n", "*1\r\n$4\r\nPING\r\n"},
		{"pipeline", "PING\r\n*1\r\n$4\r\nPING\r\nPING\n", strings.Repeat("*1\r\n$4\r\nPING\r\n", 3)},
		{"quotes", `SET "a b" 'c d'` + "\r\n", "*3\r\n$3\r\nSET\r\n$3\r\na b\r\n$3\r\nc d\r\n"},
		// At the limits: accepted, and nothing is handed on before the
		// request is whole.
		{"max multibulk", "*1048576\r\n", ""},
		{"max bulk", "*1\r\n$536870912\r\n", ""},
		{"line of 64 KiB", strings.Repeat("A", 64<<10) + "\r\n", "*1\r\n$65536\r\n" + strings.Repeat("A", 64<<10) + "\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{0, 1, 2, 3, 7} {
				got, err := frameAll(t, Limits{}, []byte(tc.in), chunk, false)
				if err != nil || string(got) != tc.want {
					t.Fatalf("chunk %d: got %q, %v; want %q", chunk, got, err, tc.want)
				}
			}
		})
	}
}

func TestFramerErrors(t *testing.T) {
	big := func(prefix string, n int) string { return prefix + strings.Repeat("1", n) }
	cases := []struct {
		name   string
		in     string
		unauth bool
		lim    Limits
		// wantOut is what is handed on before the error.
		wantOut string
		want    error
	}{
		{name: "bulk length overflows int64", in: "*1\r\n$9223372036854775807\r\nxx\r\n", want: resp.ErrProtoInvalidBulkLen},
		{name: "bulk length above 2^64", in: "*1\r\n$99999999999999999999\r\n", want: resp.ErrProtoInvalidBulkLen},
		{name: "multibulk overflows", in: "*9000000000000000000\r\n", want: resp.ErrProtoInvalidMultibulkLen},
		{name: "multibulk above INT_MAX", in: "*2147483648\r\n", want: resp.ErrProtoInvalidMultibulkLen},
		{name: "multibulk above the limit", in: "*1048577\r\n", want: resp.ErrProtoInvalidMultibulkLen},
		{name: "multibulk above a set limit", in: "*11\r\n", lim: Limits{MaxMultibulkLen: 10}, want: resp.ErrProtoInvalidMultibulkLen},
		{name: "bulk above proto-max-bulk-len", in: "*1\r\n$536870913\r\n", want: resp.ErrProtoInvalidBulkLen},
		{name: "bulk above a set limit", in: "*1\r\n$1025\r\n", lim: Limits{ProtoMaxBulkLen: 1024}, want: resp.ErrProtoInvalidBulkLen},
		{name: "negative bulk", in: "*1\r\n$-5\r\n", want: resp.ErrProtoInvalidBulkLen},
		{name: "null bulk in a request", in: "*1\r\n$-1\r\n", want: resp.ErrProtoInvalidBulkLen},
		{name: "bulk -0", in: "*1\r\n$-0\r\n", want: resp.ErrProtoInvalidBulkLen},
		{name: "bulk with leading zero", in: "*1\r\n$03\r\n", want: resp.ErrProtoInvalidBulkLen},
		{name: "bulk with plus", in: "*1\r\n$+3\r\n", want: resp.ErrProtoInvalidBulkLen},
		{name: "bulk not numeric", in: "*1\r\n$x\r\nPING\r\n", want: resp.ErrProtoInvalidBulkLen},
		{name: "bulk empty", in: "*1\r\n$\r\n", want: resp.ErrProtoInvalidBulkLen},
		{name: "multibulk empty", in: "*\r\n", want: resp.ErrProtoInvalidMultibulkLen},
		{name: "multibulk with leading zero", in: "*03\r\n", want: resp.ErrProtoInvalidMultibulkLen},
		{name: "expected dollar", in: "*2\r\n$3\r\nGET\r\n+k\r\n", want: resp.ErrProtoExpectedDollar('+')},
		{name: "expected dollar, empty line", in: "*1\r\n\r\n", want: resp.NewError("ERR Protocol error: expected '$', got ' '")},
		{name: "too big inline", in: strings.Repeat("A", 70000), want: resp.ErrProtoTooBigInline},
		{name: "too big inline with NUL", in: "PING\x00\r\nPING\r\n" + strings.Repeat("A", 70000), want: resp.ErrProtoTooBigInline},
		{name: "too big mbulk count", in: big("*", 70000), want: resp.ErrProtoTooBigMbulkCount},
		{name: "too big mbulk count, LFs", in: "*1" + strings.Repeat("\n", 70000), want: resp.ErrProtoTooBigMbulkCount},
		{name: "too big bulk count", in: big("*1\r\n$", 70000), want: resp.ErrProtoTooBigBulkCount},
		{name: "too big bulk count, no dollar", in: "*1\r\n" + strings.Repeat("x", 70000), want: resp.ErrProtoTooBigBulkCount},
		{name: "PING then too big", in: "*1\r\n$4\r\nPING\r\n" + big("*", 70000), wantOut: "*1\r\n$4\r\nPING\r\n", want: resp.ErrProtoTooBigMbulkCount},
		{name: "unbalanced double quote", in: "SET \"a b\r\n", want: resp.ErrProtoUnbalancedQuotes},
		{name: "unbalanced single quote", in: "ECHO 'ab\r\n", want: resp.ErrProtoUnbalancedQuotes},
		{name: "text after closing quote", in: "ECHO \"a\"b\r\n", want: resp.ErrProtoUnbalancedQuotes},
		{name: "unauthenticated multibulk", in: "*11\r\n", unauth: true, want: resp.ErrProtoUnauthMultibulkLen},
		{name: "unauthenticated bulk", in: "*1\r\n$16385\r\n", unauth: true, want: resp.ErrProtoUnauthBulkLen},
		{name: "unauthenticated bulk too big for anyone", in: "*1\r\n$536870913\r\n", unauth: true, want: resp.ErrProtoInvalidBulkLen},
		{name: "query buffer limit", in: "*1\r\n$2000\r\n" + strings.Repeat("x", 1500), lim: Limits{QueryBufferLimit: 1024}, want: errQueryBufferLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{0, 1, 5, 4096} {
				got, err := frameAll(t, tc.lim, []byte(tc.in), chunk, tc.unauth)
				if err == nil || err.Error() != tc.want.Error() {
					t.Fatalf("chunk %d: error %v, want %v", chunk, err, tc.want)
				}
				if string(got) != tc.wantOut {
					t.Fatalf("chunk %d: handed on %q, want %q", chunk, got, tc.wantOut)
				}
			}
		})
	}
	// At the limits exactly, nothing is wrong yet.
	for _, in := range []string{"*10\r\n", "*1\r\n$16384\r\n"} {
		if _, err := frameAll(t, Limits{}, []byte(in), 0, true); err != nil {
			t.Errorf("%q unauthenticated: %v", in, err)
		}
	}
}

// TestFramerSimpleCountLines checks the fast path for count lines
// (simpleCountLine) against the general one on the lines at its edges:
// whole, the input goes through the fast path where it can; byte by
// byte, never. Both must frame the same requests and fail the same way.
func TestFramerSimpleCountLines(t *testing.T) {
	nines := func(n int) string { return strings.Repeat("9", n) }
	lines := []string{
		"*1\r\n", "*0\r\n", "*-1\r\n", "*01\r\n", "*+1\r\n", "*10\r\n", "*11\r\n", "*64\r\n", "*65\r\n",
		"*2147483647\r\n", "*2147483648\r\n", "*" + nines(18) + "\r\n", "*" + nines(19) + "\r\n", "*1\rX", "*1\n\n", "*1 \r\n",
		"$0\r\n", "$00\r\n", "$-0\r\n", "$1\r\n", "$4096\r\n", "$4097\r\n", "$16384\r\n", "$16385\r\n",
		"$" + nines(18) + "\r\n", "$" + nines(19) + "\r\n", "$" + nines(30) + "\r\n", "$1\rX", "$1\x00\r\n", "+1\r\n", "$\r\n",
	}
	lim := Limits{ProtoMaxBulkLen: 4096, MaxMultibulkLen: 64}
	for _, line := range lines {
		var ins []string
		if line[0] == '*' {
			ins = []string{line + "$4\r\nPING\r\n" + strings.Repeat("$1\r\nx\r\n", 70), line + "PING\r\n"}
		} else {
			ins = []string{"*2\r\n$4\r\nECHO\r\n" + line + strings.Repeat("y", 5000) + "\r\nPING\r\n"}
		}
		for _, in := range ins {
			for _, unauth := range []bool{false, true} {
				fast, errFast := frameAll(t, lim, []byte(in), 0, unauth)
				slow, errSlow := frameAll(t, lim, []byte(in), 1, unauth)
				if !bytes.Equal(fast, slow) || !sameError(errFast, errSlow) {
					t.Errorf("%q (unauthenticated %v): whole %q, %v; byte by byte %q, %v", in, unauth, fast, errFast, slow, errSlow)
				}
			}
		}
	}
}

// TestFramerWaitsForUnauthenticatedRequests checks that before AUTH the
// framer hands on one request at a time, so the next one is judged after
// AUTH has run.
func TestFramerOneRequestBeforeAuth(t *testing.T) {
	f := newFramer(Limits{}.withDefaults())
	in := []byte("AUTH pw\r\n*11\r\n")
	f.unauth = true
	n := f.feed(in)
	if f.err != nil || string(in[:n]) != "AUTH pw\r\n" {
		t.Fatalf("consumed %q, err %v; want the AUTH line only", in[:n], f.err)
	}
	f.unauth = false
	if m := f.feed(in[n:]); f.err != nil || m != 5 {
		t.Fatalf("after AUTH: consumed %d, err %v", m, f.err)
	}
}

func TestSplitArgsLikeSdssplitargs(t *testing.T) {
	// Expectations taken from redis-server 7.0.15 (ECHO of each line).
	cases := []struct {
		line string
		want []string // nil: unbalanced quotes
	}{
		{`ECHO "a b"`, []string{"ECHO", "a b"}},
		{`ECHO "a\x41\x4g\n\q"`, []string{"ECHO", "aAx4g\nq"}},
		{`ECHO 'a\'b\n'`, []string{"ECHO", `a'b\n`}},
		{`ECHO a"b c"`, []string{"ECHO", "ab c"}},
		{`ECHO "a"b`, nil},
		{`ECHO "ab`, nil},
		{`ECHO 'ab`, nil},
		{"ECHO a\tb", []string{"ECHO", "a", "b"}},
		{"ECHO\va", []string{"ECHO\va"}},
		{"ECHO a\vb", []string{"ECHO", "a\vb"}},
		{"ECHO a\rb", []string{"ECHO", "a", "b"}},
		{"ECHO \"a\"\v", []string{"ECHO", "a"}},
		{`ECHO ""`, []string{"ECHO", ""}},
		{`ECHO "\`, nil},
		{`ECHO "\x4`, nil},
		{"ECHO \"a\rb\"", []string{"ECHO", "a\rb"}},
		{`ECHO '\x41'`, []string{"ECHO", `\x41`}},
		{`ECHO "a\"b"`, []string{"ECHO", `a"b`}},
		{"  \t PING  ", []string{"PING"}},
		{`"\xff\x00"`, []string{"\xff\x00"}},
		{`"\b\a\t\r"`, []string{"\b\a\t\r"}},
		{"", []string{}},
		{"   ", []string{}},
	}
	for _, tc := range cases {
		buf, ends, ok := splitArgs([]byte(tc.line), nil, nil)
		if tc.want == nil {
			if ok {
				t.Errorf("%q: split, want unbalanced quotes", tc.line)
			}
			continue
		}
		if !ok {
			t.Errorf("%q: unbalanced quotes, want %q", tc.line, tc.want)
			continue
		}
		got := []string{}
		start := 0
		for _, e := range ends {
			got = append(got, string(buf[start:e]))
			start = e
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("%q: got %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestParseMemory(t *testing.T) {
	good := map[string]int64{"0": 0, "512mb": 512 << 20, "1gb": 1 << 30, "64MB": 64 << 20, "1k": 1000, "1kb": 1024,
		"2m": 2000000, "3g": 3000000000, "100": 100, "7b": 7}
	for in, want := range good {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "mb", "-1", "1tb", "1.5gb", "99999999999gb", " 1"} {
		if got, err := ParseMemory(in); err == nil {
			t.Errorf("ParseMemory(%q) = %d, want an error", in, got)
		}
	}
}

// TestFramerArguments checks the arguments the framer hands on, taken
// whole from inline and multibulk requests, binary and empty ones
// included, and that an argument is capped: appending to it cannot
// overwrite the next.
func TestFramerArguments(t *testing.T) {
	in := "SET k \"v\\x00w\"\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\nb\r\n\r\n*0\r\nGET k\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
	f := newFramer(Limits{}.withDefaults())
	if n := f.feed([]byte(in)); n != len(in) || f.err != nil {
		t.Fatalf("fed %d of %d bytes, %v", n, len(in), f.err)
	}
	cmds, argv := f.requests(nil, nil)
	want := [][]string{{"SET", "k", "v\x00w"}, {"SET", "k", "a\nb"}, {"GET", "k"}, {"ECHO", ""}}
	if len(cmds) != len(want) || len(argv) != 10 {
		t.Fatalf("%d commands, %d arguments; want %d, 10", len(cmds), len(argv), len(want))
	}
	for i, c := range cmds {
		if len(c.Args) != len(want[i]) {
			t.Fatalf("command %d = %q, want %q", i, c.Args, want[i])
		}
		for j, a := range c.Args {
			if string(a) != want[i][j] || cap(a) != len(a) {
				t.Fatalf("command %d argument %d = %q (capacity %d), want %q", i, j, a, cap(a), want[i][j])
			}
		}
	}
	_ = append(cmds[0].Args[0], 'X')
	if string(cmds[0].Args[1]) != "k" {
		t.Fatal("appending to an argument overwrote the next one")
	}
	f.consume()
	if len(f.data) != 0 || len(f.ends) != 0 || len(f.reqs) != 0 {
		t.Fatalf("after consume: %d data bytes, %d arguments, %d requests left", len(f.data), len(f.ends), len(f.reqs))
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := (Limits{}).withDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, l := range []Limits{{MaxClients: -1}, {IdleTimeout: -1}, {MaxMultibulkLen: 1 << 40}} {
		if err := l.Validate(); err == nil {
			t.Errorf("%+v: no error", l)
		}
	}
	var ge *guardError
	if !errors.As(error(errQueryBufferLimit), &ge) {
		t.Fatal("errQueryBufferLimit is not a guardError")
	}
}
