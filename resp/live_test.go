package resp

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftcache/raftcache/test/redisoracle"
)

// The tests in this file compare resp with a real Redis: a redis-server
// each test starts on 127.0.0.1, or the disposable server (they write keys)
// RAFTCACHE_REDIS_ADDR names, e.g.
//
//	RAFTCACHE_REDIS_ADDR=127.0.0.1:7777 go test -run Live ./resp/

type liveConn struct {
	t  *testing.T
	c  net.Conn
	r  *bufio.Reader
	wb []byte
}

func dialLive(t *testing.T) *liveConn {
	t.Helper()
	addr := os.Getenv("RAFTCACHE_REDIS_ADDR")
	if addr == "" {
		addr = redisoracle.Start(t)
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &liveConn{t: t, c: c, r: bufio.NewReader(c)}
}

// do sends each command and returns their replies, pipelined.
func (l *liveConn) do(cmds ...[][]byte) []Reply {
	l.t.Helper()
	l.wb = l.wb[:0]
	for _, args := range cmds {
		l.wb = AppendArrayHeader(l.wb, len(args))
		for _, a := range args {
			l.wb = AppendBulk(l.wb, a)
		}
	}
	l.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := l.c.Write(l.wb); err != nil {
		l.t.Fatal(err)
	}
	out := make([]Reply, len(cmds))
	for i := range out {
		r, err := readReply(l.r)
		if err != nil {
			l.t.Fatal(err)
		}
		out[i] = r
	}
	return out
}

func args(a ...string) [][]byte {
	out := make([][]byte, len(a))
	for i, s := range a {
		out[i] = []byte(s)
	}
	return out
}

// randomFloatText returns number texts of the shapes clients send, and some
// that Redis must refuse.
func randomFloatText(rng *rand.Rand) string {
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	sign := []string{"", "", "-", "+"}[rng.IntN(4)]
	switch rng.IntN(9) {
	case 0:
		return sign + digits(1+rng.IntN(20))
	case 1:
		return sign + digits(1+rng.IntN(4)) + "." + digits(1+rng.IntN(20))
	case 2:
		return sign + "0." + digits(1+rng.IntN(3))
	case 3:
		return sign + digits(1+rng.IntN(3)) + "." + digits(rng.IntN(3)) + "e" + strconv.Itoa(rng.IntN(60)-30)
	case 4:
		return sign + strconv.FormatFloat(rng.NormFloat64()*1e6, 'g', -1, 64)
	case 5:
		return sign + digits(1+rng.IntN(40)) + "." + digits(rng.IntN(40))
	case 6:
		return sign + "0x" + "1234abcdef"[rng.IntN(10):] + "p" + strconv.Itoa(rng.IntN(40)-20)
	case 7:
		return []string{"inf", "-inf", "nan", " 1", "1 ", "1e", ".", "", "1.5.5", "0x", "1e4932", "1e-4950", "-1e4933", "infinity", "1e+3", "0x1P3", "9" + digits(5000)}[rng.IntN(17)]
	}
	return sign + digits(1+rng.IntN(2)) + "." + digits(15+rng.IntN(4)) + "5"
}

func TestLiveIncrByFloat(t *testing.T) {
	l := dialLive(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		cur, incr := randomFloatText(rng), randomFloatText(rng)
		rs := l.do(args("SET", "raftcache:f", cur), args("INCRBYFLOAT", "raftcache:f", incr),
			args("HSET", "raftcache:h", "f", cur), args("HINCRBYFLOAT", "raftcache:h", "f", incr))
		got, err := IncrByFloat([]byte(cur), []byte(incr))
		checkLive(t, "INCRBYFLOAT", cur, incr, rs[1], got, err)
		got, err = HIncrByFloat([]byte(cur), []byte(incr))
		checkLive(t, "HINCRBYFLOAT", cur, incr, rs[3], got, err)
		l.do(args("DEL", "raftcache:f", "raftcache:h"))
	}
}

func checkLive(t *testing.T, cmd, cur, incr string, want Reply, got []byte, err *Error) {
	t.Helper()
	switch {
	case want.Kind == KindError && (err == nil || err.Error() != want.String()):
		t.Errorf("%s %q + %q: redis %q, resp %q %v", cmd, cur, incr, want.Str, got, err)
	case want.Kind == KindBulk && (err != nil || !bytes.Equal(got, want.Str)):
		t.Errorf("%s %q + %q: redis %q, resp %q %v", cmd, cur, incr, want.Str, got, err)
	}
}

func TestLiveParseInt(t *testing.T) {
	l := dialLive(t)
	rng := rand.New(rand.NewPCG(3, 4))
	texts := []string{"0", "-0", "00", "01", "+1", " 1", "1 ", "-", "", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"18446744073709551616", "99999999999999999999", "-99999999999999999999", "1e3", "0x10", "１"}
	for i := 0; i < 500; i++ {
		n := rng.Int64()
		if rng.IntN(2) == 0 {
			n = -n
		}
		texts = append(texts, strconv.FormatInt(n>>rng.IntN(64), 10))
	}
	for _, s := range texts {
		// SETRANGE rejects a value that is not an integer with the same
		// parser (string2ll) and never writes with a bad offset.
		rs := l.do(args("SET", "raftcache:i", "0"), args("INCRBY", "raftcache:i", s))
		n, ok := ParseInt([]byte(s))
		switch r := rs[1]; {
		case r.Kind == KindError && ok && r.String() != ErrOverflow.Error():
			t.Errorf("ParseInt(%q) = %d, true; redis says %q", s, n, r.Str)
		case r.Kind == KindInt && (!ok || n != r.Int):
			t.Errorf("ParseInt(%q) = %d, %v; redis says %d", s, n, ok, r.Int)
		}
	}
	l.do(args("DEL", "raftcache:i"))
}

func TestLiveUnknownCommand(t *testing.T) {
	l := dialLive(t)
	long := string(bytes.Repeat([]byte("x"), 100))
	cases := [][][]byte{
		args("foo"), args("foo", "a", "b"), args("foo", long, long, long),
		args("foo\r\nbar", "a\nb"), args(string(bytes.Repeat([]byte("n"), 200)), "a"),
		args("foo", "a\x00b", "c"), args("fo\x00o", "x"),
	}
	for _, c := range cases {
		rs := l.do(c)
		if got := ErrUnknownCommand(c).Error(); got != rs[0].String() {
			t.Errorf("ErrUnknownCommand(%q)\n got %q\nwant %q", c, got, rs[0].Str)
		}
	}
}

// shape describes a reply's structure without its leaf values: the kinds,
// the keys of maps and the shape of nested aggregates. Redis 7.0 and
// 7.2 differ in some facts (tips, flags) but not in the shape of COMMAND
// INFO and COMMAND DOCS entries.
func shape(r Reply) string {
	switch r.Kind {
	case KindMap:
		var b strings.Builder
		b.WriteString("%{")
		for i := 0; i+1 < len(r.Elems); i += 2 {
			b.WriteString(string(r.Elems[i].Str) + ":" + shape(r.Elems[i+1]) + " ")
		}
		return b.String() + "}"
	case KindArray, KindSet:
		leaves := true
		for _, e := range r.Elems {
			leaves = leaves && e.Kind != KindArray && e.Kind != KindSet && e.Kind != KindMap
		}
		if leaves { // flags, categories, tips: their number varies
			return map[Kind]string{KindArray: "*leaves", KindSet: "~leaves"}[r.Kind]
		}
		var b strings.Builder
		b.WriteString(map[Kind]string{KindArray: "*[", KindSet: "~["}[r.Kind])
		for _, e := range r.Elems {
			if s := shape(e); !strings.HasSuffix(b.String(), s+" ") {
				b.WriteString(s + " ")
			}
		}
		return b.String() + "]"
	}
	return strconv.Itoa(int(r.Kind))
}

func TestLiveCommandShapes(t *testing.T) {
	l := dialLive(t)
	l.do(args("HELLO", "3"))
	for _, c := range Commands() {
		if c.Subcommands != nil {
			continue // Redis serves subcommands raftcache does not
		}
		info := l.do(args("COMMAND", "INFO", c.Name))[0].Elems[0]
		if got, want := shape(c.InfoReply()), shape(info); got != want {
			t.Errorf("COMMAND INFO %s\n got %s\nwant %s", c.Name, got, want)
		}
		switch c.Name {
		case "setex", "setnx", "psetex", "quit":
			continue // deprecated in 7.2, not in 7.0
		}
		docs := l.do(args("COMMAND", "DOCS", c.Name))[0]
		want := docs.Elems[1]
		// raftcache leaves out complexity, history and arguments.
		var kept []Reply
		for i := 0; i < len(want.Elems); i += 2 {
			switch string(want.Elems[i].Str) {
			case "complexity", "history", "arguments":
			default:
				kept = append(kept, want.Elems[i], want.Elems[i+1])
			}
		}
		if got, want := shape(c.DocsReply()), shape(Map(kept...)); got != want {
			t.Errorf("COMMAND DOCS %s\n got %s\nwant %s", c.Name, got, want)
		}
	}
}
