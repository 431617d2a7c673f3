package store

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// globCases are corner cases of Redis's stringmatchlen; TestGlobAgainstRedis
// checks each of them with KEYS on a real Redis.
var globCases = []struct {
	pattern, s string
	want       bool
}{
	{"*", "", true}, {"*", "abc", true}, {"**", "", false}, {"**", "a", true},
	{"", "", true}, {"", "a", false}, {"?", "", false}, {"*?", "", false},
	{"a", "a", true}, {"a", "b", false}, {"a", "aa", false}, {"aa", "a", false},
	{"a*", "a", true}, {"a*", "abc", true}, {"a**", "a", true}, {"*a", "ba", true},
	{"*a", "ab", false}, {"a*b", "ab", true}, {"a*b", "axxb", true}, {"a*b", "axxbx", false},
	{"*a*b*", "xxaxxbxx", true}, {"*a*b*", "xxbxxaxx", false},
	{"h?llo", "hello", true}, {"h?llo", "hllo", false}, {"h??llo", "heello", true},
	{"h[ae]llo", "hello", true}, {"h[ae]llo", "hillo", false},
	{"h[^e]llo", "hallo", true}, {"h[^e]llo", "hello", false},
	{"h[a-b]llo", "hbllo", true}, {"h[a-b]llo", "hcllo", false},
	{"[z-a]", "m", true}, {"[z-a]", "A", false},
	{"[a-]", "a", true}, {"[a-]", "]", true}, {"[a-]", "^", true}, {"[a-]", "-", false}, {"[a-]", "b", false},
	{"[a-]x", "a", true}, {"[a-]x", "x", true},
	{"[-a]", "-", true}, {"[-a]", "a", true}, {"[a-c-e]", "-", true}, {"[a-c-e]", "d", false},
	{"[a-\xff]", "\xff", true}, {"[a-\xff]", "\x00", true}, {"[a-\xff]", "]", true}, {"[a-\xff]", "\x80", false},
	{"[a-\xff]", "b", false}, {"[\x00-a]", "\x00", true}, {"[\x00-a]", "a", true}, {"[\x00-a]", "\xff", false},
	{"[\x80-\xff]", "\x90", true}, {"[\x80-\xff]", "a", false},
	{"[]a]", "]", false}, {"[]a]", "a", false}, {"[]", "", false}, {"[]", "a", false},
	{"[\\]]", "]", true}, {"[\\]]", "\\", false}, {"[\\", "\\", true}, {"[\\a]", "a", true},
	{"[", "[", false}, {"[", "a", false}, {"a[", "a", false}, {"a[", "ab", false},
	{"[^", "a", true}, {"[^", "", false}, {"[^", "ab", false}, {"a[^", "ab", true},
	{"[abc", "b", true}, {"[abc", "d", false}, {"[abc", "ab", false},
	{"[^abc]", "d", true}, {"[^abc]", "a", false}, {"[^]", "x", true},
	{"\\", "\\", true}, {"a\\", "a", false}, {"a\\", "a\\", true},
	{"\\*", "*", true}, {"\\*", "a", false}, {"\\?", "?", true}, {"\\[a]", "[a]", true}, {"\\a", "a", true},
	{"*\\*", "x*", true}, {"*\\*", "x", false},
	{"a\x00b", "a\x00b", true}, {"a?b", "a\x00b", true}, {"[\x00]", "\x00", true},
	{"\r\n*", "\r\nx", true},
	{"*a*a*a*a*a*a*a*b", strings.Repeat("a", 60), false},
	{strings.Repeat("*a", 1000), strings.Repeat("a", 1000), true},
	{strings.Repeat("*a", 1001), strings.Repeat("a", 1001), false}, // Redis's nesting limit
	{strings.Repeat("*a", 1000) + "*", strings.Repeat("a", 1000), true},
	{strings.Repeat("*a", 999) + "a*a", strings.Repeat("a", 1001), true},
	{strings.Repeat("*", 3000), "abc", true},
	{"*" + strings.Repeat("\\*", 1500), strings.Repeat("*", 1500), true},
}

func TestGlob(t *testing.T) {
	for _, c := range globCases {
		g := CompileGlob([]byte(c.pattern), false)
		if got := g.Match(c.s); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", trunc(c.pattern), trunc(c.s), got, c.want)
		}
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// TestGlobAgainstRedis checks globCases and random patterns with KEYS on a
// real Redis.
func TestGlobAgainstRedis(t *testing.T) {
	c := startOracle(t)
	check := func(pattern, s string, want bool) {
		t.Helper()
		oracleDo(t, c, argv("FLUSHALL"))
		oracleDo(t, c, argv("SET", s, "1"))
		got := len(oracleDo(t, c, argv("KEYS", pattern)).Elems) == 1
		if got != want {
			t.Errorf("KEYS %q with key %q: Redis %v, raftcache %v", trunc(pattern), trunc(s), got, want)
		}
	}
	for _, gc := range globCases {
		check(gc.pattern, gc.s, gc.want)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 400 {
		p, s := randomGlob(rng, 8), randomSubject(rng, 6)
		g := CompileGlob([]byte(p), false)
		check(p, s, g.Match(s))
	}
}

const globAlphabet = "ab*?[]^-\\\x00\xff"

func randomGlob(rng *rand.Rand, n int) string {
	b := make([]byte, rng.IntN(n+1))
	for i := range b {
		b[i] = globAlphabet[rng.IntN(len(globAlphabet))]
	}
	return string(b)
}

func randomSubject(rng *rand.Rand, n int) string {
	const alphabet = "ab-]^\\*\x00\xff\x80"
	b := make([]byte, rng.IntN(n+1))
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// TestGlobMatchesReference compares the matcher with refMatch, a direct
// port of Redis 7.2's recursive stringmatchlen, on many random patterns
// and strings.
func TestGlobMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		p, s := randomGlob(rng, 10), randomSubject(rng, 8)
		if i%7 == 0 {
			s = strings.Repeat("a", rng.IntN(12))
		}
		checkAgainstReference(t, p, s)
	}
}

// TestGlobNocaseMatchesReference is TestGlobMatchesReference with letters
// of both cases in the patterns and the strings, where nocase matters.
func TestGlobNocaseMatchesReference(t *testing.T) {
	const pat, subj = "aAzZ*?[]^-\\\xff", "aAzZbB[]^\\\xff"
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		p := make([]byte, rng.IntN(11))
		for i := range p {
			p[i] = pat[rng.IntN(len(pat))]
		}
		s := make([]byte, rng.IntN(9))
		for i := range s {
			s[i] = subj[rng.IntN(len(subj))]
		}
		checkAgainstReference(t, string(p), string(s))
	}
}

// globNocaseCases are stringmatchlen's nocase corner cases (CONFIG GET
// and COMMAND LIST FILTERBY PATTERN use nocase).
var globNocaseCases = []struct {
	pattern, s string
	want       bool
}{
	{"A*B", "axb", true}, {"a*b", "AXB", true}, {"MAXMEMORY*", "maxmemory-policy", true},
	{"h?LLO", "Hello", true}, {"\\A", "a", true}, {"[AB]", "b", true}, {"[^AB]", "b", false},
	{"[a-c]", "B", true}, {"[A-C]", "b", true}, {"[\\A]", "a", false}, {"[\\A]", "A", true},
	{"[Z-a]", "z", false}, {"[Z-a]", "a", false}, {"[Z-a]", "Z", false}, {"[Z-a]", "_", false},
	{"[a-Z]", "_", false}, {"[_-a]", "B", false}, {"[_-a]", "`", true}, {"[A-_]", "[", false}, {"[A-_]", "A", false}, // lowered, A-_ is a-_: empty
	{"\xc0", "\xe0", false}, {"[\xc0]", "\xe0", false}, {"1", "1", true}, {"?", "", false},
}

func TestGlobNocase(t *testing.T) {
	for _, c := range globNocaseCases {
		g := CompileGlob([]byte(c.pattern), true)
		if got := g.Match(c.s); got != c.want {
			t.Errorf("Match(%q, %q, nocase) = %v, want %v", c.pattern, c.s, got, c.want)
		}
		if ref := refMatch([]byte(c.pattern), []byte(c.s), true); ref != c.want {
			t.Errorf("the case %q, %q is wrong: stringmatchlen says %v", c.pattern, c.s, ref)
		}
		if got := GlobMatch([]byte(c.pattern), []byte(c.s), true); got != c.want {
			t.Errorf("GlobMatch(%q, %q, true) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

// TestGlobOverKeys matches patterns over a set of names, as KEYS does,
// in both modes.
func TestGlobOverKeys(t *testing.T) {
	keys := []string{"hello", "hallo", "hbllo", "hxllo", "h*llo", "a", "[", `\`, "ab", "", "aXb"}
	for _, tc := range []struct {
		pattern      string
		want, nocase string // "": as want
	}{
		{"h?llo", "hello hallo hbllo hxllo h*llo", ""},
		{"h[ae]llo", "hello hallo", ""},
		{"h[^e]llo", "hallo hbllo hxllo h*llo", ""},
		{"h[b-a]llo", "hallo hbllo", ""},
		{`h\*llo`, "h*llo", ""},
		{"[", "", ""},
		{`\[`, "[", ""},
		{"a[b", "ab", ""},
		{`*\`, `\`, ""},
		{`\\`, `\`, ""},
		{"?", `a [ \`, ""},
		{"[a-", "a", ""},
		{"**", "hello hallo hbllo hxllo h*llo a [ \\ ab aXb", ""},
		{"*", "hello hallo hbllo hxllo h*llo a [ \\ ab  aXb", ""},
		{"A*", "", "a ab aXb"},
		{"a[x]b", "", "aXb"},
		{"H[A-B]LLO", "", "hallo hbllo"},
	} {
		for _, nocase := range []bool{false, true} {
			want := tc.want
			if nocase && tc.nocase != "" {
				want = tc.nocase
			}
			g := CompileGlob([]byte(tc.pattern), nocase)
			var got []string
			for _, k := range keys {
				if g.MatchBytes([]byte(k)) {
					got = append(got, k)
				}
			}
			if strings.Join(got, " ") != want {
				t.Errorf("glob %q (nocase %v) matches %q, want %q", tc.pattern, nocase, strings.Join(got, " "), want)
			}
		}
	}
}

func FuzzGlob(f *testing.F) {
	for _, c := range globCases {
		if len(c.pattern) < 100 {
			f.Add(c.pattern, c.s)
		}
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if len(p) > 64 || len(s) > 64 {
			return // keep the recursive reference cheap
		}
		checkAgainstReference(t, p, s)
	})
}

func checkAgainstReference(t *testing.T, p, s string) {
	t.Helper()
	for _, nocase := range []bool{false, true} {
		want := refMatch([]byte(p), []byte(s), nocase)
		if p == "*" {
			want = true // KEYS, SCAN and HSCAN skip matching for "*"
		}
		g := CompileGlob([]byte(p), nocase)
		if got := g.Match(s); got != want {
			t.Fatalf("Match(%q, %q, nocase %v) = %v, Redis's stringmatchlen says %v", p, s, nocase, got, want)
		}
	}
}

// refMatch is Redis 7.2's stringmatchlen (util.c), ported line by line,
// recursion, skipLongerMatches, nesting limit and nocase included. Reads
// past the end of the pattern see C's terminating NUL; tolower is the C
// locale's, on C's signed chars.
func refMatch(pattern, s []byte, nocase bool) bool {
	skip := false
	return refMatchImpl(pattern, s, nocase, &skip, 0)
}

// cLower is C's tolower in the C locale on a (signed) char's value.
func cLower(c int) int {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func refMatchImpl(p, s []byte, nocase bool, skipLonger *bool, nesting int) bool {
	if nesting > 1000 {
		return false
	}
	at := func(i int) byte {
		if i < len(p) {
			return p[i]
		}
		return 0
	}
	pi, plen := 0, len(p)
	si, slen := 0, len(s)
	for plen > 0 && slen > 0 {
		switch p[pi] {
		case '*':
			for plen > 0 && at(pi+1) == '*' {
				pi++
				plen--
			}
			if plen == 1 {
				return true
			}
			for slen > 0 {
				if refMatchImpl(p[pi+1:], s[si:], nocase, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				si++
				slen--
			}
			*skipLonger = true
			return false
		case '?':
			si++
			slen--
		case '[':
			pi++
			plen--
			not := at(pi) == '^'
			if not {
				pi++
				plen--
			}
			match := false
			for {
				if at(pi) == '\\' && plen >= 2 {
					pi++
					plen--
					if p[pi] == s[si] {
						match = true
					}
				} else if at(pi) == ']' {
					break
				} else if plen == 0 {
					pi--
					plen++
					break
				} else if plen >= 3 && p[pi+1] == '-' {
					start, end, c := int(int8(p[pi])), int(int8(p[pi+2])), int(int8(s[si]))
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, c = cLower(start), cLower(end), cLower(c)
					}
					pi += 2
					plen -= 2
					if c >= start && c <= end {
						match = true
					}
				} else if !nocase && p[pi] == s[si] || nocase && cLower(int(int8(p[pi]))) == cLower(int(int8(s[si]))) {
					match = true
				}
				pi++
				plen--
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			si++
			slen--
		case '\\':
			if plen >= 2 {
				pi++
				plen--
			}
			fallthrough
		default:
			if !nocase && p[pi] != s[si] || nocase && cLower(int(int8(p[pi]))) != cLower(int(int8(s[si]))) {
				return false
			}
			si++
			slen--
		}
		pi++
		plen--
		if slen == 0 {
			for at(pi) == '*' {
				pi++
				plen--
			}
			break
		}
	}
	return plen == 0 && slen == 0
}

// TestGlobPathologicalBounded runs patterns that make a naive backtracking
// matcher exponential (CVE-2022-36021) and asserts the iterative matcher's
// step count, not its wall time: linear for these, and never beyond
// (len(string)+1) × (tokens+1).
func TestGlobPathologicalBounded(t *testing.T) {
	for _, c := range []struct {
		name       string
		pattern, s string
		linear     bool
	}{
		{"*a x5000 against 10000 a", strings.Repeat("*a", 5000), strings.Repeat("a", 10000), true},
		{"*a x5000 against 10000 b", strings.Repeat("*a", 5000), strings.Repeat("b", 10000), true},
		{"a* x5000 then b", strings.Repeat("a*", 5000) + "b", strings.Repeat("a", 10000), true},
		{"*a x5000 then b", strings.Repeat("*a", 5000) + "b", strings.Repeat("a", 10000), true},
		{"*? x5000 then b", strings.Repeat("*?", 5000) + "b", strings.Repeat("a", 10000), true},
		{"* then 5000 a then b", "*" + strings.Repeat("a", 5000) + "b", strings.Repeat("a", 10000), false},
		{"classes", strings.Repeat("*[ab]", 3000) + "c", strings.Repeat("ab", 5000), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := CompileGlob([]byte(c.pattern), false)
			_, steps := matchTokens(g.tokens, c.s)
			n, m := len(c.s), len(g.tokens)
			limit := (n + 1) * (m + 1)
			if c.linear {
				limit = 4 * (n + m)
			}
			if steps > limit {
				t.Fatalf("%d steps for %d bytes and %d tokens, limit %d", steps, n, m, limit)
			}
			t.Logf("%d steps", steps)
			g.Match(c.s) // and through the public path
		})
	}
}

func BenchmarkGlobPathological(b *testing.B) {
	for _, c := range []struct{ name, pattern, s string }{
		{"star-a-x5000", strings.Repeat("*a", 5000), strings.Repeat("a", 10000)},
		{"a-star-x5000-b", strings.Repeat("a*", 5000) + "b", strings.Repeat("a", 10000)},
		{"star-then-5000a-b", "*" + strings.Repeat("a", 5000) + "b", strings.Repeat("a", 10000)},
		{"cve-2022-36021", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 10000)},
	} {
		b.Run(c.name, func(b *testing.B) {
			g := CompileGlob([]byte(c.pattern), false)
			b.ReportAllocs()
			for b.Loop() {
				matchTokens(g.tokens, c.s)
			}
		})
	}
}

func BenchmarkGlobKeys(b *testing.B) {
	g := CompileGlob([]byte("user:*:profile[0-9]"), false)
	keys := []string{"user:1234:profile7", "user:99:settings", "session:abc", "user:5:profile"}
	b.ReportAllocs()
	for b.Loop() {
		for _, k := range keys {
			g.Match(k)
		}
	}
}
