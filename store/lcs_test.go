package store

import (
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

// rng is an LCS IDX match: the ranges in the first and second string, and
// the match length when len >= 0.
func rng(a0, a1, b0, b1, length int64) resp.Reply {
	elems := []resp.Reply{arr(n(a0), n(a1)), arr(n(b0), n(b1))}
	if length >= 0 {
		elems = append(elems, n(length))
	}
	return arr(elems...)
}

func lcsIdx(total int64, matches ...resp.Reply) resp.Reply {
	return resp.Map(bulk("matches"), arr(matches...), bulk("len"), n(total))
}

var lcsCases = []scenario{
	{"LCS", []step{
		{1000, "MSET key1 ohmytext key2 mynewtext", ok, nil},
		{1000, "LCS key1 key2", bulk("mytext"), nil},
		{1000, "lcs key1 key2 len", n(6), nil},
		{1000, "LCS key1 key2 IDX", lcsIdx(6, rng(4, 7, 5, 8, -1), rng(2, 3, 0, 1, -1)), nil},
		{1000, "LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN", lcsIdx(6, rng(4, 7, 5, 8, 4)), nil},
		{1000, "LCS key1 key2 IDX WITHMATCHLEN", lcsIdx(6, rng(4, 7, 5, 8, 4), rng(2, 3, 0, 1, 2)), nil},
		{1000, "LCS key1 key2 MINMATCHLEN -5 IDX", lcsIdx(6, rng(4, 7, 5, 8, -1), rng(2, 3, 0, 1, -1)), nil},
		{1000, "LCS key1 key2 LEN MINMATCHLEN 3", n(6), nil},
		{1000, "LCS key1 key2 WITHMATCHLEN", bulk("mytext"), nil},
		{1000, "LCS key2 key1", bulk("mytext"), nil},
	}},
	{"LCS of missing and empty strings", []step{
		{1000, "SET a abc", ok, nil},
		{1000, "LCS a missing", bulk(""), nil},
		{1000, "LCS missing other IDX", lcsIdx(0), nil},
		{1000, "LCS missing other LEN", n(0), nil},
		{1000, "", ok, []string{"SET", "e", ""}},
		{1000, "LCS e a", bulk(""), nil},
		{1000, "SET x xyz", ok, nil},
		{1000, "LCS a x IDX", lcsIdx(0), nil},
		{1000, "LCS a a IDX WITHMATCHLEN", lcsIdx(3, rng(0, 2, 0, 2, 3)), nil},
	}},
	{"LCS ranges that touch the start", []step{
		{1000, "MSET a abcdef b zabcxdefz", ok, nil},
		{1000, "LCS a b", bulk("abcdef"), nil},
		{1000, "LCS a b IDX WITHMATCHLEN", lcsIdx(6, rng(3, 5, 5, 7, 3), rng(0, 2, 1, 3, 3)), nil},
		{1000, "LCS b a IDX", lcsIdx(6, rng(5, 7, 3, 5, -1), rng(1, 3, 0, 2, -1)), nil},
		{1000, "", ok, []string{"MSET", "p", "a\x00b\r\nc", "q", "\x00\r\n"}},
		{1000, "LCS p q", bulk("\x00\r\n"), nil},
	}},
	{"LCS errors", []step{
		{1000, "MSET key1 ohmytext key2 mynewtext", ok, nil},
		{1000, "LCS key1 key2 LEN IDX", rerr("ERR If you want both the length and indexes, please just use IDX."), nil},
		{1000, "LCS key1 key2 FOO", rerr(errSyntax), nil},
		{1000, "LCS key1 key2 MINMATCHLEN", rerr(errSyntax), nil},
		{1000, "LCS key1 key2 MINMATCHLEN x", rerr(errNotInt), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "LCS key1 h", rerr("ERR The specified keys must contain string values"), nil},
		{1000, "LCS h key1 FOO", rerr("ERR The specified keys must contain string values"), nil},
		{1000, "LCS missing h", rerr("ERR The specified keys must contain string values"), nil},
	}},
}

func TestLCS(t *testing.T) { runScenarios(t, lcsCases) }

// TestLCSMemoryLimit checks Redis's refusal of a table larger than
// proto-max-bulk-len, which must come before any allocation.
func TestLCSMemoryLimit(t *testing.T) {
	s := New()
	big := strings.Repeat("a", 12000)
	mustApply(t, s, 1000, argv("SET", "a", big), argv("SET", "b", big))
	r := s.Read(1000, argv("LCS", "a", "b", "LEN"))
	if !replyEqual(r, rerr("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")) {
		t.Fatalf("got %s", fmtReply(r))
	}
}

// TestLCSProperties checks LCS against a simple reference on random
// strings: the length, that the string is a common subsequence, and that
// the IDX ranges spell it.
func TestLCSProperties(t *testing.T) {
	s := New()
	for i := range 300 {
		a := pseudoRandom(i, 1+i%17, "abc")
		b := pseudoRandom(i*7+3, 1+i%13, "abc")
		mustApply(t, s, 1000, argv("SET", "a", a), argv("SET", "b", b))
		want := lcsLen(a, b)
		if r := s.Read(1000, argv("LCS", "a", "b", "LEN")); r.Int != int64(want) {
			t.Fatalf("LCS %q %q LEN = %d, want %d", a, b, r.Int, want)
		}
		str := string(s.Read(1000, argv("LCS", "a", "b")).Str)
		if len(str) != want || !isSubsequence(str, a) || !isSubsequence(str, b) {
			t.Fatalf("LCS %q %q = %q", a, b, str)
		}
		idx := s.Read(1000, argv("LCS", "a", "b", "IDX"))
		var spelled string
		matches := idx.Elems[1].Elems
		for j := len(matches) - 1; j >= 0; j-- {
			ra, rb := matches[j].Elems[0].Elems, matches[j].Elems[1].Elems
			sa, sb := a[ra[0].Int:ra[1].Int+1], b[rb[0].Int:rb[1].Int+1]
			if sa != sb {
				t.Fatalf("LCS %q %q: range %q != %q", a, b, sa, sb)
			}
			spelled += sa
		}
		if spelled != str {
			t.Fatalf("LCS %q %q: ranges spell %q, not %q", a, b, spelled, str)
		}
	}
}

func pseudoRandom(seed, n int, alphabet string) string {
	var b strings.Builder
	x := uint32(seed*2654435761 + 12345)
	for range n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(alphabet[x%uint32(len(alphabet))])
	}
	return b.String()
}

func lcsLen(a, b string) int {
	prev := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev = cur
	}
	return prev[len(b)]
}

func isSubsequence(s, of string) bool {
	i := 0
	for j := 0; i < len(s) && j < len(of); j++ {
		if s[i] == of[j] {
			i++
		}
	}
	return i == len(s)
}
