package store

// Glob patterns for KEYS, SCAN MATCH and HSCAN MATCH, with the rules of
// Redis's stringmatchlen (util.c), without its recursion.
//
// Redis walks the pattern and the string together and recurses at each
// '*'. That costs stack per '*' and, without care, exponential time on
// patterns such as "a*a*a*a*...b" (CVE-2022-36021). Redis 7.2 bounds it by
// giving up on longer matches once a '*' has failed everywhere, and by
// refusing to nest more than 1000 deep, which makes a pattern with more
// than 1000 '*' groups that each need a character after them match
// nothing.
//
// Here a pattern is compiled once into tokens that each consume exactly
// one byte (a literal, '?', a class) or any run of bytes ('*'), and
// matched by the classic iterative algorithm that remembers only the
// latest '*': on a mismatch it lets that '*' take one more byte and
// retries what follows it. Backtracking to an earlier '*' is never needed,
// because whatever an earlier '*' could take, the latest one can take
// instead. The work is at most (len(string)+1) × (tokens+1) steps, with no
// recursion, and linear for the usual patterns.
//
// The results are Redis's, including its corner cases:
//   - the pattern "*" matches every key, the empty one included, but no
//     other non-empty pattern matches the empty string (Redis's loop does
//     not start on an empty string, and KEYS and SCAN only special-case
//     "*"); the empty pattern matches only the empty string;
//   - '\' escapes the next byte, also inside a class; a trailing '\' is a
//     literal '\';
//   - in a class, "^" first negates, "x-y" is a range whose ends may come
//     in either order and compare as C's signed chars (so "[a-\xff]" is
//     the range \xff..a, which includes \x00 but not \x80), and "-" is
//     literal where it cannot form a range;
//   - a class without its ']' takes the rest of the pattern: "[abc" is
//     the class of a, b and c, "[" matches nothing, "[^" any one byte;
//   - more than 1000 non-trailing '*' groups match nothing.

// maxGlobNesting is Redis 7.2's limit on stringmatchlen's recursion: each
// '*' that must be followed by a match of the rest nests one level.
const maxGlobNesting = 1000

type globKind uint8

const (
	globLiteral globKind = iota
	globAny
	globClass
	globStar
)

type globToken struct {
	kind globKind
	c    byte     // globLiteral
	set  *byteSet // globClass
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (t *globToken) matches(c byte) bool {
	return t.kind == globAny || t.kind == globLiteral && t.c == c || t.kind == globClass && t.set.has(c)
}

// glob is a compiled pattern. Its zero value matches only the empty
// string; matchAll matches everything.
type glob struct {
	tokens []globToken
	all    bool // the pattern "*"
	never  bool // too many '*' groups for Redis to match anything
}

var matchAll = glob{all: true}

// compileGlob compiles p, reading it exactly as stringmatchlen does,
// including a read of the NUL that ends the pattern in C (at(len(p)) is
// 0).
func compileGlob(p []byte) glob {
	if len(p) == 1 && p[0] == '*' {
		return matchAll
	}
	at := func(i int) byte {
		if i < len(p) {
			return p[i]
		}
		return 0
	}
	var g glob
	stars := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*':
			for i+1 < len(p) && p[i+1] == '*' {
				i++
			}
			g.tokens = append(g.tokens, globToken{kind: globStar})
			if i+1 < len(p) {
				stars++
			}
		case '?':
			g.tokens = append(g.tokens, globToken{kind: globAny})
		case '[':
			i++
			not := at(i) == '^'
			if not {
				i++
			}
			set := new(byteSet)
			for {
				if at(i) == '\\' && len(p)-i >= 2 {
					i++
					set.add(p[i])
				} else if at(i) == ']' {
					break
				} else if i >= len(p) {
					// Unterminated: the class ends with the pattern.
					i--
					break
				} else if len(p)-i >= 3 && p[i+1] == '-' {
					lo, hi := int8(p[i]), int8(p[i+2])
					if lo > hi {
						lo, hi = hi, lo
					}
					for c := int(lo); c <= int(hi); c++ {
						set.add(byte(int8(c)))
					}
					i += 2
				} else {
					set.add(p[i])
				}
				i++
			}
			if not {
				for w := range set {
					set[w] = ^set[w]
				}
			}
			g.tokens = append(g.tokens, globToken{kind: globClass, set: set})
		case '\\':
			if len(p)-i >= 2 {
				i++
			}
			g.tokens = append(g.tokens, globToken{kind: globLiteral, c: p[i]})
		default:
			g.tokens = append(g.tokens, globToken{kind: globLiteral, c: p[i]})
		}
	}
	g.never = stars > maxGlobNesting
	return g
}

// match reports whether s matches the pattern, as Redis's stringmatchlen
// would.
func (g *glob) match(s string) bool { return globMatch(g, s) }

// matchBytes is match for a stored name, without converting it.
func (g *glob) matchBytes(b []byte) bool { return globMatch(g, b) }

func globMatch[S string | []byte](g *glob, s S) bool {
	switch {
	case g.all:
		return true
	case g.never:
		return false
	case len(s) == 0:
		return len(g.tokens) == 0
	}
	ok, _ := matchTokens(g.tokens, s)
	return ok
}

// matchTokens matches s against tokens without recursion and reports the
// number of steps it took, which tests bound.
func matchTokens[S string | []byte](tokens []globToken, s S) (ok bool, steps int) {
	p, i := 0, 0
	star, starI := -1, 0 // the latest '*' and where its run ends
	for i < len(s) {
		steps++
		switch {
		case p < len(tokens) && tokens[p].kind == globStar:
			star, starI = p, i
			p++
		case p < len(tokens) && tokens[p].matches(s[i]):
			p++
			i++
		case star >= 0:
			starI++
			p, i = star+1, starI
		default:
			return false, steps
		}
	}
	for p < len(tokens) && tokens[p].kind == globStar {
		p++
	}
	return p == len(tokens), steps
}
