package store

// Glob patterns for KEYS, SCAN MATCH and HSCAN MATCH, and for the server's
// CONFIG GET and COMMAND LIST FILTERBY PATTERN (case-insensitive), with
// the rules of Redis's stringmatchlen (util.c), without its recursion.
// This is raftcache's only glob matcher.
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
// recursion, and linear for the usual patterns. Case folding (nocase) is
// decided per byte, so it compiles into the tokens: a folded literal is a
// class of its two cases.
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
//   - more than 1000 non-trailing '*' groups match nothing;
//   - with nocase, ASCII letters fold, as C's tolower in the C locale:
//     literals (escaped ones too) and class members match either case,
//     but an escaped byte inside a class does not fold, and a range's
//     ends are ordered before they are folded, so "[Z-a]" matches
//     nothing (lowered it is z..a).

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

// Glob is a compiled pattern. Its zero value matches only the empty
// string. A Glob is immutable once compiled: any number of goroutines may
// match with it at once.
type Glob struct {
	tokens []globToken
	all    bool // the pattern "*"
	never  bool // too many '*' groups for Redis to match anything
}

// matchAll matches everything, as SCAN without MATCH.
var matchAll = Glob{all: true}

// CompileGlob compiles pattern, reading it exactly as stringmatchlen
// does, including a read of the NUL that ends the pattern in C (at(len(p))
// is 0). nocase folds ASCII letters as stringmatchlen's nocase does
// (Redis's CONFIG GET and COMMAND LIST use it). The Glob keeps no
// reference to pattern.
func CompileGlob(pattern []byte, nocase bool) Glob {
	p := pattern
	if len(p) == 1 && p[0] == '*' {
		return matchAll
	}
	at := func(i int) byte {
		if i < len(p) {
			return p[i]
		}
		return 0
	}
	var g Glob
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
					set.add(p[i]) // escaped: exact, even with nocase
				} else if at(i) == ']' {
					break
				} else if i >= len(p) {
					// Unterminated: the class ends with the pattern.
					i--
					break
				} else if len(p)-i >= 3 && p[i+1] == '-' {
					lo, hi := int(int8(p[i])), int(int8(p[i+2]))
					if lo > hi {
						lo, hi = hi, lo
					}
					if nocase {
						// Redis folds after ordering, and folds the
						// subject byte too.
						lo, hi = int(foldLower(byte(lo))), int(foldLower(byte(hi)))
						if lo >= 0x80 {
							lo -= 0x100
						}
						if hi >= 0x80 {
							hi -= 0x100
						}
						for c := range 256 {
							if f := int(int8(foldLower(byte(c)))); f >= lo && f <= hi {
								set.add(byte(c))
							}
						}
					} else {
						for c := lo; c <= hi; c++ {
							set.add(byte(int8(c)))
						}
					}
					i += 2
				} else {
					addFolded(set, p[i], nocase)
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
			g.tokens = append(g.tokens, literal(p[i], nocase))
		default:
			g.tokens = append(g.tokens, literal(p[i], nocase))
		}
	}
	g.never = stars > maxGlobNesting
	return g
}

// foldLower is C's tolower in the C locale: ASCII letters only.
func foldLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func foldUpper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// addFolded adds c to set, in both cases with nocase.
func addFolded(set *byteSet, c byte, nocase bool) {
	set.add(c)
	if nocase {
		set.add(foldLower(c))
		set.add(foldUpper(c))
	}
}

// literal is the token for the byte c: a class of its two cases when
// nocase folds a letter.
func literal(c byte, nocase bool) globToken {
	if !nocase || foldLower(c) == foldUpper(c) {
		return globToken{kind: globLiteral, c: c}
	}
	set := new(byteSet)
	addFolded(set, c, true)
	return globToken{kind: globClass, set: set}
}

// Match reports whether s matches the pattern, as Redis's stringmatchlen
// would (with KEYS's and SCAN's "*" matching the empty string too).
func (g *Glob) Match(s string) bool { return globMatch(g, s) }

// MatchBytes is Match for a stored name, without converting it.
func (g *Glob) MatchBytes(b []byte) bool { return globMatch(g, b) }

// GlobMatch reports whether s matches pattern: CompileGlob and Match in
// one call, for a pattern used once.
func GlobMatch(pattern, s []byte, nocase bool) bool {
	g := CompileGlob(pattern, nocase)
	return g.MatchBytes(s)
}

func globMatch[S string | []byte](g *Glob, s S) bool {
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
