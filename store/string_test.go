package store

import (
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

var getCases = []scenario{
	{"missing", []step{
		{1000, "GET k", null, nil},
	}},
	{"existing", []step{
		{1000, "SET k v", ok, nil},
		{1000, "GET k", bulk("v"), nil},
		{1000, "get k", bulk("v"), nil},
	}},
	{"empty value is not null", []step{
		{1000, "", ok, []string{"SET", "k", ""}},
		{1000, "GET k", bulk(""), nil},
	}},
	{"binary value", []step{
		{1000, "", ok, []string{"SET", "k", "a\x00b\r\n"}},
		{1000, "GET k", bulk("a\x00b\r\n"), nil},
	}},
	{"hash is wrong type", []step{
		{1000, "HSET h f v", n(1), nil},
		{1000, "GET h", rerr(errWrongType), nil},
	}},
	{"expired at exactly its time", []step{
		{1000, "SET k v EX 10", ok, nil},
		{10999, "GET k", bulk("v"), nil},
		{11000, "GET k", null, nil},
	}},
	{"read with an older time still sees the key", []step{
		{1000, "SET k v PX 100", ok, nil},
		{1200, "GET k", null, nil},
		{1050, "GET k", bulk("v"), nil},
	}},
}

func TestGet(t *testing.T) { runScenarios(t, getCases) }

var setExpiryCases = []scenario{
	{"EX", []step{
		{1000, "SET k v EX 10", ok, nil},
		{1000, "PTTL k", n(10000), nil},
		{10999, "GET k", bulk("v"), nil},
		{11000, "GET k", null, nil},
	}},
	{"PX", []step{
		{1000, "SET k v PX 1500", ok, nil},
		{1000, "PTTL k", n(1500), nil},
		{2499, "GET k", bulk("v"), nil},
		{2500, "GET k", null, nil},
	}},
	{"EXAT", []step{
		{1000, "SET k v EXAT 5", ok, nil},
		{1000, "PTTL k", n(4000), nil},
		{4999, "EXISTS k", n(1), nil},
		{5000, "EXISTS k", n(0), nil},
	}},
	{"PXAT", []step{
		{1000, "SET k v PXAT 1234", ok, nil},
		{1233, "EXISTS k", n(1), nil},
		{1234, "EXISTS k", n(0), nil},
	}},
	{"lower case and mixed case options", []step{
		{1000, "set k v ex 10", ok, nil},
		{1000, "pttl k", n(10000), nil},
		{1000, "SET k v pX 5", ok, nil},
		{1000, "PTTL k", n(5), nil},
	}},
	{"the same unit twice: the last wins", []step{
		{1000, "SET k v EX 10 EX 20", ok, nil},
		{1000, "TTL k", n(20), nil},
		{1000, "SET k v PX 10 PX 20", ok, nil},
		{1000, "PTTL k", n(20), nil},
	}},
	{"plain SET clears the TTL", []step{
		{1000, "SET k v EX 10", ok, nil},
		{1000, "SET k w", ok, nil},
		{1000, "TTL k", n(-1), nil},
		{1000, "DBSIZE", n(1), nil},
	}},
	{"KEEPTTL keeps the TTL", []step{
		{1000, "SET k v EX 100", ok, nil},
		{2000, "SET k w KEEPTTL", ok, nil},
		{2000, "GET k", bulk("w"), nil},
		{2000, "PTTL k", n(99000), nil},
		{101000, "GET k", null, nil},
	}},
	{"KEEPTTL on a missing key sets no TTL", []step{
		{1000, "SET k v KEEPTTL", ok, nil},
		{1000, "TTL k", n(-1), nil},
	}},
	{"KEEPTTL on an expired key sets no TTL", []step{
		{1000, "SET k v PX 10", ok, nil},
		{2000, "SET k w KEEPTTL", ok, nil},
		{2000, "TTL k", n(-1), nil},
		{2000, "GET k", bulk("w"), nil},
	}},
	{"past EXAT stores nothing", []step{
		{5000, "SET k v EXAT 1", ok, nil},
		{5000, "EXISTS k", n(0), nil},
		{5000, "DBSIZE", n(0), nil},
	}},
	{"past PXAT removes the old value", []step{
		{5000, "SET k v", ok, nil},
		{5000, "SET k w PXAT 5000", ok, nil},
		{5000, "EXISTS k", n(0), nil},
		{5000, "DBSIZE", n(0), nil},
	}},
	{"past PXAT with GET returns the old value and removes the key", []step{
		{5000, "SET k v", ok, nil},
		{5000, "SET k w GET PXAT 1", bulk("v"), nil},
		{5000, "EXISTS k", n(0), nil},
	}},
	{"PXAT at the largest time", []step{
		{1000, "SET k v PXAT 9223372036854775807", ok, nil},
		{1000, "PTTL k", n(9223372036854775807 - 1000), nil},
	}},
	{"EXAT at the largest time that does not overflow", []step{
		{1000, "SET k v EXAT 9223372036854775", ok, nil},
		{1000, "PTTL k", n(9223372036854775000 - 1000), nil},
	}},
	{"EX with a TTL overwrites a previous TTL", []step{
		{1000, "SET k v EX 100", ok, nil},
		{1000, "SET k v EX 5", ok, nil},
		{1000, "PTTL k", n(5000), nil},
	}},
}

func TestSetExpiry(t *testing.T) { runScenarios(t, setExpiryCases) }

func TestSetExpiryErrors(t *testing.T) { runScenarios(t, setExpiryErrorCases()) }

func setExpiryErrorCases() []scenario {
	const errSetExpire = "ERR invalid expire time in 'set' command"
	var cases []scenario
	for _, c := range []struct {
		opt, want string
	}{
		{"EX 0", errSetExpire},
		{"PX 0", errSetExpire},
		{"EXAT 0", errSetExpire},
		{"PXAT 0", errSetExpire},
		{"EX -1", errSetExpire},
		{"PX -1", errSetExpire},
		{"EXAT -1", errSetExpire},
		{"PXAT -1", errSetExpire},
		{"EX abc", errNotInt},
		{"EX 1.5", errNotInt},
		{"EX +5", errNotInt},
		{"EX 05", errNotInt},
		{"PX -0", errNotInt},
		{"EX 9223372036854775808", errNotInt},
		{"EX 9223372036854775807", errSetExpire},
		{"EX 9223372036854776", errSetExpire},
		{"EXAT 9223372036854776", errSetExpire},
		{"EXAT 9223372036854775807", errSetExpire},
		{"PX 9223372036854775807", errSetExpire},
		// now (1000) + 9223372036854775 s overflows once in milliseconds.
		{"EX 9223372036854775", errSetExpire},
		{"PX 9223372036854774808", errSetExpire},
		// Grammar errors win over value errors, wherever they come.
		{"EX abc FOO", errSyntax},
		{"EX 0 NX XX", errSyntax},
	} {
		cases = append(cases, scenario{"SET k v " + c.opt, []step{
			{1000, "SET k old", ok, nil},
			{1000, "SET k v " + c.opt, rerr(c.want), nil},
			{1000, "GET k", bulk("old"), nil},
			{1000, "TTL k", n(-1), nil},
		}})
	}
	cases = append(cases,
		scenario{"largest PX that fits", []step{
			{1000, "SET k v PX 9223372036854774807", ok, nil},
			{1000, "PTTL k", n(9223372036854774807), nil},
		}},
		scenario{"expiry error before WRONGTYPE", []step{
			{1000, "HSET h f v", n(1), nil},
			{1000, "SET h v EX 0 GET", rerr(errSetExpire), nil},
			{1000, "SET h v GET EX abc", rerr(errNotInt), nil},
			{1000, "SET h v FOO GET", rerr(errSyntax), nil},
			{1000, "HGET h f", bulk("v"), nil},
		}},
	)
	return cases
}

// TestSetGrammar checks every pair (and some triples) of SET options
// against Redis 7's parseExtendedStringArgumentsOrReply.
func TestSetGrammar(t *testing.T) { runScenarios(t, setGrammarCases()) }

func setGrammarCases() []scenario {
	valid := []string{
		"", "NX", "XX", "GET", "KEEPTTL", "EX 10", "PX 10", "EXAT 10", "PXAT 10",
		"NX NX", "XX XX", "GET GET", "KEEPTTL KEEPTTL",
		"NX GET", "GET NX", "XX GET", "GET XX",
		"NX KEEPTTL", "KEEPTTL NX", "XX KEEPTTL", "KEEPTTL XX", "GET KEEPTTL", "KEEPTTL GET",
		"NX EX 10", "EX 10 NX", "XX PX 10", "PX 10 XX", "GET EXAT 10", "PXAT 10 GET",
		"EX 10 EX 20", "PX 10 PX 20", "EXAT 10 EXAT 20", "PXAT 10 PXAT 20",
		"NX GET EX 10", "EX 10 GET XX", "KEEPTTL GET XX",
		"nx get ex 10", "Keepttl Xx",
	}
	invalid := []string{
		"NX XX", "XX NX", "NX GET XX",
		"KEEPTTL EX 10", "EX 10 KEEPTTL", "KEEPTTL PX 10", "PXAT 10 KEEPTTL",
		"KEEPTTL EXAT 10", "KEEPTTL PXAT 10", "EXAT 10 KEEPTTL", "PX 10 KEEPTTL",
		"EX 10 PX 10", "PX 10 EX 10", "EX 10 EXAT 10", "EXAT 10 PXAT 10", "PXAT 10 EX 10",
		"EX", "PX", "EXAT", "PXAT", "NX EX", "GET PX",
		"FOO", "NX FOO", "GET 10", "PERSIST", "EX 10 10",
		"N", "NXX", "GETT", "EXX 10",
	}
	var cases []scenario
	for _, opt := range valid {
		cases = append(cases, scenario{"valid " + opt, []step{
			// At 1000, PXAT 10 stores the key already expired;
			// what matters is that the grammar is accepted.
			{1000, "SET k v " + opt, grammarOK(opt), nil},
		}})
	}
	for _, opt := range invalid {
		cases = append(cases, scenario{"invalid " + opt, []step{
			{1000, "SET k old", ok, nil},
			{1000, "SET k v " + opt, rerr(errSyntax), nil},
			{1000, "GET k", bulk("old"), nil},
		}})
	}
	return cases
}

// grammarOK is the reply of a valid SET on a missing key: null for GET
// (no old value) or for XX (not set), else OK.
func grammarOK(opt string) resp.Reply {
	words := map[string]bool{}
	for _, w := range strings.Fields(strings.ToUpper(opt)) {
		words[w] = true
	}
	if words["GET"] || words["XX"] {
		return null
	}
	return ok
}

var setConditionCases = []scenario{
	{"NX on missing key sets", []step{
		{1000, "SET k v NX", ok, nil},
		{1000, "GET k", bulk("v"), nil},
	}},
	{"NX on existing key does nothing", []step{
		{1000, "SET k v EX 100", ok, nil},
		{1000, "SET k w NX", null, nil},
		{1000, "GET k", bulk("v"), nil},
		{1000, "TTL k", n(100), nil},
	}},
	{"NX on an expired key sets", []step{
		{1000, "SET k v PX 10", ok, nil},
		{1010, "SET k w NX", ok, nil},
		{1010, "GET k", bulk("w"), nil},
		{1010, "TTL k", n(-1), nil},
	}},
	{"XX on missing key does nothing", []step{
		{1000, "SET k v XX", null, nil},
		{1000, "EXISTS k", n(0), nil},
	}},
	{"XX on existing key sets", []step{
		{1000, "SET k v", ok, nil},
		{1000, "SET k w XX", ok, nil},
		{1000, "GET k", bulk("w"), nil},
	}},
	{"XX on an expired key does nothing", []step{
		{1000, "SET k v PX 10", ok, nil},
		{1010, "SET k w XX", null, nil},
		{1010, "EXISTS k", n(0), nil},
		{1010, "DBSIZE", n(0), nil},
	}},
	{"XX on a hash replaces it", []step{
		{1000, "HSET k f v", n(1), nil},
		{1000, "SET k w XX", ok, nil},
		{1000, "GET k", bulk("w"), nil},
	}},
	{"plain SET on a hash replaces it", []step{
		{1000, "HSET k f v", n(1), nil},
		{1000, "SET k w", ok, nil},
		{1000, "GET k", bulk("w"), nil},
		{1000, "HGET k f", rerr(errWrongType), nil},
	}},
	{"NX on a hash does nothing", []step{
		{1000, "HSET k f v", n(1), nil},
		{1000, "SET k w NX", null, nil},
		{1000, "HGET k f", bulk("v"), nil},
	}},
	{"NX with EX", []step{
		{1000, "SET k v NX EX 10", ok, nil},
		{1000, "SET k w NX EX 20", null, nil},
		{1000, "TTL k", n(10), nil},
	}},
}

func TestSetConditions(t *testing.T) { runScenarios(t, setConditionCases) }

var setGetCases = []scenario{
	{"GET on a missing key returns null and sets", []step{
		{1000, "SET k v GET", null, nil},
		{1000, "GET k", bulk("v"), nil},
	}},
	{"GET returns the old value", []step{
		{1000, "SET k v", ok, nil},
		{1000, "SET k w GET", bulk("v"), nil},
		{1000, "GET k", bulk("w"), nil},
	}},
	{"GET on an expired key returns null", []step{
		{1000, "SET k v PX 5", ok, nil},
		{1005, "SET k w GET", null, nil},
		{1005, "GET k", bulk("w"), nil},
	}},
	{"GET on a hash is WRONGTYPE and changes nothing", []step{
		{1000, "HSET h f v", n(1), nil},
		{1000, "EXPIRE h 100", n(1), nil},
		{1000, "SET h v GET", rerr(errWrongType), nil},
		{1000, "HGETALL h", hmap("f", "v"), nil},
		{1000, "TTL h", n(100), nil},
	}},
	{"NX GET on a hash is WRONGTYPE", []step{
		{1000, "HSET h f v", n(1), nil},
		{1000, "SET h v NX GET", rerr(errWrongType), nil},
		{1000, "SET h v XX GET", rerr(errWrongType), nil},
		{1000, "SET h v GET EX 10", rerr(errWrongType), nil},
		{1000, "HGETALL h", hmap("f", "v"), nil},
	}},
	{"NX GET on an existing key returns the value and does not set", []step{
		{1000, "SET k v", ok, nil},
		{1000, "SET k w NX GET", bulk("v"), nil},
		{1000, "GET k", bulk("v"), nil},
	}},
	{"NX GET on a missing key returns null and sets", []step{
		{1000, "SET k v NX GET", null, nil},
		{1000, "GET k", bulk("v"), nil},
	}},
	{"XX GET on a missing key returns null and does not set", []step{
		{1000, "SET k v XX GET", null, nil},
		{1000, "EXISTS k", n(0), nil},
	}},
	{"XX GET on an existing key returns the old value and sets", []step{
		{1000, "SET k v", ok, nil},
		{1000, "SET k w XX GET", bulk("v"), nil},
		{1000, "GET k", bulk("w"), nil},
	}},
	{"GET with KEEPTTL", []step{
		{1000, "SET k v EX 50", ok, nil},
		{1000, "SET k w GET KEEPTTL", bulk("v"), nil},
		{1000, "TTL k", n(50), nil},
	}},
	{"GET with EX", []step{
		{1000, "SET k v", ok, nil},
		{1000, "SET k w GET EX 50", bulk("v"), nil},
		{1000, "TTL k", n(50), nil},
	}},
	{"the returned value survives the overwrite", []step{
		{1000, "SET k abc", ok, nil},
		{1000, "SET k xyz GET", bulk("abc"), nil},
		{1000, "SET k 123 GET", bulk("xyz"), nil},
	}},
}

func TestSetGet(t *testing.T) { runScenarios(t, setGetCases) }

var incrCases = []scenario{
	{"INCR creates at 0", []step{
		{1000, "INCR k", n(1), nil},
		{1000, "INCR k", n(2), nil},
		{1000, "GET k", bulk("2"), nil},
	}},
	{"DECR creates at 0", []step{
		{1000, "DECR k", n(-1), nil},
		{1000, "DECR k", n(-2), nil},
		{1000, "GET k", bulk("-2"), nil},
	}},
	{"INCRBY and DECRBY", []step{
		{1000, "SET k 10", ok, nil},
		{1000, "INCRBY k 5", n(15), nil},
		{1000, "INCRBY k -20", n(-5), nil},
		{1000, "DECRBY k 5", n(-10), nil},
		{1000, "DECRBY k -10", n(0), nil},
		{1000, "GET k", bulk("0"), nil},
		{1000, "INCRBY k 0", n(0), nil},
	}},
	{"INCR keeps the TTL", []step{
		{1000, "SET k 5 EX 100", ok, nil},
		{2000, "INCR k", n(6), nil},
		{2000, "PTTL k", n(99000), nil},
		{2000, "INCRBY k 4", n(10), nil},
		{2000, "DECR k", n(9), nil},
		{2000, "DECRBY k 2", n(7), nil},
		{2000, "PTTL k", n(99000), nil},
		{101000, "GET k", null, nil},
	}},
	{"INCR on an expired key starts over without TTL", []step{
		{1000, "SET k 5 PX 10", ok, nil},
		{1010, "INCR k", n(1), nil},
		{1010, "TTL k", n(-1), nil},
	}},
	{"non-integer values", []step{
		{1000, "SET a abc", ok, nil},
		{1000, "INCR a", rerr(errNotInt), nil},
		{1000, "SET a 1.5", ok, nil},
		{1000, "INCR a", rerr(errNotInt), nil},
		{1000, "SET a -0", ok, nil},
		{1000, "DECR a", rerr(errNotInt), nil},
		{1000, "SET a 01", ok, nil},
		{1000, "INCRBY a 1", rerr(errNotInt), nil},
		{1000, "", ok, []string{"SET", "a", " 1"}},
		{1000, "DECRBY a 1", rerr(errNotInt), nil},
		{1000, "", ok, []string{"SET", "a", ""}},
		{1000, "INCR a", rerr(errNotInt), nil},
		{1000, "SET a 9223372036854775808", ok, nil},
		{1000, "INCR a", rerr(errNotInt), nil},
		{1000, "GET a", bulk("9223372036854775808"), nil},
	}},
	{"non-integer increments", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "INCRBY a x", rerr(errNotInt), nil},
		{1000, "INCRBY a 1.0", rerr(errNotInt), nil},
		{1000, "DECRBY a +1", rerr(errNotInt), nil},
		{1000, "DECRBY a 99999999999999999999", rerr(errNotInt), nil},
		{1000, "GET a", bulk("1"), nil},
	}},
	{"increment checked before the type", []step{
		{1000, "HSET h f v", n(1), nil},
		{1000, "INCRBY h abc", rerr(errNotInt), nil},
		{1000, "DECRBY h -9223372036854775808", rerr("ERR decrement would overflow"), nil},
		{1000, "INCRBY h 1", rerr(errWrongType), nil},
		{1000, "INCR h", rerr(errWrongType), nil},
		{1000, "DECR h", rerr(errWrongType), nil},
	}},
	{"overflow", []step{
		{1000, "SET a 9223372036854775807", ok, nil},
		{1000, "INCR a", rerr(errOverflow), nil},
		{1000, "INCRBY a 1", rerr(errOverflow), nil},
		{1000, "DECRBY a -1", rerr(errOverflow), nil},
		{1000, "GET a", bulk("9223372036854775807"), nil},
		{1000, "INCRBY a -9223372036854775808", n(-1), nil},
		{1000, "SET a -9223372036854775808", ok, nil},
		{1000, "DECR a", rerr(errOverflow), nil},
		{1000, "INCRBY a -1", rerr(errOverflow), nil},
		{1000, "DECRBY a 1", rerr(errOverflow), nil},
		{1000, "DECRBY a -9223372036854775807", n(-1), nil},
		{1000, "SET a 0", ok, nil},
		{1000, "DECRBY a -9223372036854775808", rerr("ERR decrement would overflow"), nil},
		{1000, "INCRBY a -9223372036854775808", n(-9223372036854775808), nil},
		{1000, "GET a", bulk("-9223372036854775808"), nil},
	}},
}

func TestIncrDecr(t *testing.T) { runScenarios(t, incrCases) }
