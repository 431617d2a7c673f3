package store

import (
	"os"
	"testing"
)

const (
	errNotFloat   = "ERR value is not a valid float"
	errIncrNaN    = "ERR increment would produce NaN or Infinity"
	errTooLong    = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	errOffset     = "ERR offset is out of range"
	errNoSuchKey  = "ERR no such key"
	errOutOfRange = "ERR value is out of range"
)

// stringCmdCases run at one time, so that they replay against Redis.
var stringCmdCases = []scenario{
	{"SETNX", []step{
		{1000, "SETNX k v", n(1), nil},
		{1000, "SETNX k w", n(0), nil},
		{1000, "GET k", bulk("v"), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "SETNX h v", n(0), nil},
		{1000, "TYPE h", simple("hash"), nil},
		{1000, "", n(1), []string{"SETNX", "e", ""}},
		{1000, "GET e", bulk(""), nil},
	}},
	{"SETEX and PSETEX", []step{
		{1000, "SETEX k 10 v", ok, nil},
		{1000, "TTL k", n(10), nil},
		{1000, "GET k", bulk("v"), nil},
		{1000, "PSETEX k 100000 w", ok, nil},
		{1000, "TTL k", n(100), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "SETEX h 10 v", ok, nil},
		{1000, "GET h", bulk("v"), nil},
	}},
	{"SETEX and PSETEX errors", []step{
		{1000, "SET k old", ok, nil},
		{1000, "SETEX k 0 v", rerr("ERR invalid expire time in 'setex' command"), nil},
		{1000, "SETEX k -1 v", rerr("ERR invalid expire time in 'setex' command"), nil},
		{1000, "setex k -1 v", rerr("ERR invalid expire time in 'setex' command"), nil},
		{1000, "SETEX k abc v", rerr(errNotInt), nil},
		{1000, "SETEX k 9223372036854775807 v", rerr("ERR invalid expire time in 'setex' command"), nil},
		{1000, "PSETEX k 0 v", rerr("ERR invalid expire time in 'psetex' command"), nil},
		{1000, "PSETEX k 9223372036854775807 v", rerr("ERR invalid expire time in 'psetex' command"), nil},
		{1000, "PSETEX k 1.5 v", rerr(errNotInt), nil},
		{1000, "GET k", bulk("old"), nil},
		{1000, "TTL k", n(-1), nil},
	}},
	{"GETSET", []step{
		{1000, "GETSET k v", null, nil},
		{1000, "GETSET k w", bulk("v"), nil},
		{1000, "GET k", bulk("w"), nil},
		{1000, "SET t 1 EX 100", ok, nil},
		{1000, "GETSET t 2", bulk("1"), nil},
		{1000, "TTL t", n(-1), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "GETSET h v", rerr(errWrongType), nil},
		{1000, "HGET h f", bulk("v"), nil},
	}},
	{"GETDEL", []step{
		{1000, "GETDEL k", null, nil},
		{1000, "SET k v EX 100", ok, nil},
		{1000, "GETDEL k", bulk("v"), nil},
		{1000, "EXISTS k", n(0), nil},
		{1000, "GETDEL k", null, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "GETDEL h", rerr(errWrongType), nil},
		{1000, "EXISTS h", n(1), nil},
		{1000, "DBSIZE", n(1), nil},
	}},
	{"GETEX", []step{
		{1000, "SET k v", ok, nil},
		{1000, "GETEX k", bulk("v"), nil},
		{1000, "TTL k", n(-1), nil},
		{1000, "GETEX k EX 100", bulk("v"), nil},
		{1000, "TTL k", n(100), nil},
		{1000, "GETEX k PX 5000", bulk("v"), nil},
		{1000, "PTTL k", n(5000), nil},
		{1000, "GETEX k persist", bulk("v"), nil},
		{1000, "TTL k", n(-1), nil},
		{1000, "GETEX k PERSIST PERSIST", bulk("v"), nil},
		{1000, "GETEX k ex 10 ex 20", bulk("v"), nil},
		{1000, "TTL k", n(20), nil},
	}},
	{"GETEX grammar and value errors", []step{
		{1000, "SET k v", ok, nil},
		{1000, "GETEX k EX 10 PERSIST", rerr(errSyntax), nil},
		{1000, "GETEX k PERSIST EX 10", rerr(errSyntax), nil},
		{1000, "GETEX k EX", rerr(errSyntax), nil},
		{1000, "GETEX k EX 10 PX 10", rerr(errSyntax), nil},
		{1000, "GETEX k NX", rerr(errSyntax), nil},
		{1000, "GETEX k KEEPTTL", rerr(errSyntax), nil},
		{1000, "GETEX k GET", rerr(errSyntax), nil},
		{1000, "GETEX k PX 0", rerr("ERR invalid expire time in 'getex' command"), nil},
		{1000, "GETEX k EX -1", rerr("ERR invalid expire time in 'getex' command"), nil},
		{1000, "GETEX k EX 9223372036854775807", rerr("ERR invalid expire time in 'getex' command"), nil},
		{1000, "GETEX k EX abc", rerr(errNotInt), nil},
		{1000, "TTL k", n(-1), nil},
		// A missing key answers null before the value is checked, and the
		// grammar is checked before the key.
		{1000, "GETEX missing EX 0", null, nil},
		{1000, "GETEX missing EX abc", null, nil},
		{1000, "GETEX missing FOO", rerr(errSyntax), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "GETEX h", rerr(errWrongType), nil},
		{1000, "GETEX h EX 0", rerr(errWrongType), nil},
		{1000, "GETEX h FOO", rerr(errSyntax), nil},
	}},
	{"MGET", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "", ok, []string{"SET", "e", ""}},
		{1000, "MGET a h missing e a", arr(bulk("1"), null, null, bulk(""), bulk("1")), nil},
		{1000, "MGET missing", arr(null), nil},
	}},
	{"MSET", []step{
		{1000, "SET a old EX 100", ok, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "MSET a 1 b 2 h 3", ok, nil},
		{1000, "MGET a b h", arr(bulk("1"), bulk("2"), bulk("3")), nil},
		{1000, "TTL a", n(-1), nil},
		{1000, "MSET x 1 x 2", ok, nil},
		{1000, "GET x", bulk("2"), nil},
		{1000, "MSET a 1 b", rerr("ERR wrong number of arguments for 'mset' command"), nil},
		{1000, "mset a 9 b", rerr("ERR wrong number of arguments for 'mset' command"), nil},
		{1000, "GET a", bulk("1"), nil},
	}},
	{"MSETNX", []step{
		{1000, "MSETNX a 1 b 2", n(1), nil},
		{1000, "MSETNX a 1 c 2", n(0), nil},
		{1000, "EXISTS c", n(0), nil},
		{1000, "MSETNX c 1 c 2", n(1), nil},
		{1000, "GET c", bulk("2"), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "MSETNX h 1 d 1", n(0), nil},
		{1000, "MSETNX a 1 b", rerr("ERR wrong number of arguments for 'msetnx' command"), nil},
		{1000, "EXISTS d", n(0), nil},
	}},
	{"APPEND", []step{
		{1000, "APPEND k ab", n(2), nil},
		{1000, "APPEND k cd", n(4), nil},
		{1000, "GET k", bulk("abcd"), nil},
		{1000, "", n(4), []string{"APPEND", "k", ""}},
		{1000, "", n(0), []string{"APPEND", "e", ""}},
		{1000, "EXISTS e", n(1), nil},
		{1000, "", n(7), []string{"APPEND", "k", "\x00\r\n"}},
		{1000, "GET k", bulk("abcd\x00\r\n"), nil},
		{1000, "SET t 1 EX 100", ok, nil},
		{1000, "APPEND t 2", n(2), nil},
		{1000, "TTL t", n(100), nil},
		{1000, "INCR t", n(13), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "APPEND h x", rerr(errWrongType), nil},
	}},
	{"STRLEN", []step{
		{1000, "STRLEN k", n(0), nil},
		{1000, "SET k hello", ok, nil},
		{1000, "STRLEN k", n(5), nil},
		{1000, "SET n 12345", ok, nil},
		{1000, "STRLEN n", n(5), nil},
		{1000, "", ok, []string{"SET", "e", ""}},
		{1000, "STRLEN e", n(0), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "STRLEN h", rerr(errWrongType), nil},
	}},
	{"GETRANGE", []step{
		{1000, "SET s hello", ok, nil},
		{1000, "GETRANGE s 0 -1", bulk("hello"), nil},
		{1000, "GETRANGE s -3 -1", bulk("llo"), nil},
		{1000, "GETRANGE s 1 1", bulk("e"), nil},
		{1000, "GETRANGE s 5 10", bulk(""), nil},
		{1000, "GETRANGE s 4 10", bulk("o"), nil},
		{1000, "GETRANGE s -100 -50", bulk("h"), nil},
		{1000, "GETRANGE s -100 100", bulk("hello"), nil},
		{1000, "GETRANGE s 3 1", bulk(""), nil},
		{1000, "GETRANGE s -1 -3", bulk(""), nil},
		{1000, "GETRANGE s 0 -100", bulk("h"), nil},
		{1000, "GETRANGE s 0 9223372036854775807", bulk("hello"), nil},
		{1000, "GETRANGE s -9223372036854775808 -1", bulk("hello"), nil},
		{1000, "GETRANGE missing 0 -1", bulk(""), nil},
		{1000, "SUBSTR s 1 3", bulk("ell"), nil},
		{1000, "SET n 12345", ok, nil},
		{1000, "GETRANGE n 1 2", bulk("23"), nil},
		{1000, "", ok, []string{"SET", "e", ""}},
		{1000, "GETRANGE e 0 -1", bulk(""), nil},
		{1000, "GETRANGE e 0 0", bulk(""), nil},
		{1000, "GETRANGE s a 1", rerr(errNotInt), nil},
		{1000, "GETRANGE s 0 1.5", rerr(errNotInt), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "GETRANGE h 0 1", rerr(errWrongType), nil},
		{1000, "GETRANGE h x 1", rerr(errNotInt), nil},
	}},
	{"SETRANGE", []step{
		{1000, "SET s hello", ok, nil},
		{1000, "SETRANGE s 1 EL", n(5), nil},
		{1000, "GET s", bulk("hELlo"), nil},
		{1000, "SETRANGE s 7 XY", n(9), nil},
		{1000, "GET s", bulk("hELlo\x00\x00XY"), nil},
		{1000, "", n(9), []string{"SETRANGE", "s", "1", ""}},
		{1000, "SETRANGE new 2 ab", n(4), nil},
		{1000, "GET new", bulk("\x00\x00ab"), nil},
		{1000, "", n(0), []string{"SETRANGE", "none", "0", ""}},
		{1000, "", n(0), []string{"SETRANGE", "none", "536870912", ""}},
		{1000, "EXISTS none", n(0), nil},
		{1000, "SET t 1 EX 100", ok, nil},
		{1000, "SETRANGE t 0 2", n(1), nil},
		{1000, "TTL t", n(100), nil},
	}},
	{"SETRANGE errors", []step{
		{1000, "SET s hello", ok, nil},
		{1000, "SETRANGE s -1 x", rerr(errOffset), nil},
		{1000, "SETRANGE s abc x", rerr(errNotInt), nil},
		{1000, "SETRANGE s 536870912 x", rerr(errTooLong), nil},
		{1000, "SETRANGE s 536870911 xy", rerr(errTooLong), nil},
		{1000, "SETRANGE s 9223372036854775807 x", rerr(errTooLong), nil},
		{1000, "SETRANGE none 536870912 x", rerr(errTooLong), nil},
		{1000, "EXISTS none", n(0), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "SETRANGE h -1 x", rerr(errOffset), nil},
		{1000, "SETRANGE h 0 x", rerr(errWrongType), nil},
		{1000, "", rerr(errWrongType), []string{"SETRANGE", "h", "0", ""}},
		{1000, "GET s", bulk("hello"), nil},
	}},
	{"INCRBYFLOAT", []step{
		{1000, "SET f 10.5", ok, nil},
		{1000, "INCRBYFLOAT f 0.1", bulk("10.6"), nil},
		{1000, "INCRBYFLOAT f -5", bulk("5.6"), nil},
		{1000, "INCRBYFLOAT f 5.0e3", bulk("5005.60000000000000009"), nil}, // long double arithmetic
		{1000, "SET g 0.1", ok, nil},
		{1000, "INCRBYFLOAT g 0.2", bulk("0.3"), nil},
		{1000, "INCRBYFLOAT new 3", bulk("3"), nil},
		{1000, "INCRBYFLOAT new -3", bulk("0"), nil},
		{1000, "INCRBYFLOAT new 1e-5", bulk("0.00001"), nil},
		{1000, "SET big 1e308", ok, nil},
		{1000, "INCRBYFLOAT big 0", bulk(longDouble1e308), nil},
		{1000, "SET t 1 EX 100", ok, nil},
		{1000, "INCRBYFLOAT t 1.5", bulk("2.5"), nil},
		{1000, "TTL t", n(100), nil},
		{1000, "GET t", bulk("2.5"), nil},
	}},
	{"INCRBYFLOAT errors", []step{
		{1000, "SET f 1", ok, nil},
		{1000, "INCRBYFLOAT f abc", rerr(errNotFloat), nil},
		{1000, "INCRBYFLOAT f nan", rerr(errNotFloat), nil},
		{1000, "INCRBYFLOAT f inf", rerr(errIncrNaN), nil},
		{1000, "INCRBYFLOAT f -inf", rerr(errIncrNaN), nil},
		{1000, "", rerr(errNotFloat), []string{"INCRBYFLOAT", "f", " 1"}},
		{1000, "", rerr(errNotFloat), []string{"INCRBYFLOAT", "f", ""}},
		{1000, "INCRBYFLOAT f 1e5000", rerr(errNotFloat), nil},
		{1000, "SET m 1e4932", ok, nil},
		{1000, "INCRBYFLOAT m 1e4932", rerr(errIncrNaN), nil},
		{1000, "SET s abc", ok, nil},
		{1000, "INCRBYFLOAT s 1", rerr(errNotFloat), nil},
		{1000, "", ok, []string{"SET", "e", ""}},
		{1000, "INCRBYFLOAT e 1", rerr(errNotFloat), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "INCRBYFLOAT h 1", rerr(errWrongType), nil},
		{1000, "INCRBYFLOAT h abc", rerr(errWrongType), nil},
		{1000, "GET f", bulk("1"), nil},
		{1000, "EXISTS missing", n(0), nil},
		{1000, "INCRBYFLOAT missing abc", rerr(errNotFloat), nil},
		{1000, "EXISTS missing", n(0), nil},
	}},
	{"binary keys and values", []step{
		{1000, "", ok, []string{"SET", "k\x00\r\n", "v\x00\r\n"}},
		{1000, "", bulk("v\x00\r\n"), []string{"GET", "k\x00\r\n"}},
		{1000, "", n(4), []string{"STRLEN", "k\x00\r\n"}},
		{1000, "", bulk("\x00\r"), []string{"GETRANGE", "k\x00\r\n", "1", "2"}},
		{1000, "", n(1), []string{"EXISTS", "k\x00\r\n"}},
		{1000, "EXISTS k", n(0), nil},
	}},
}

// longDouble1e308 is 1e308 as Redis stores it: the nearest x87 long
// double, printed with "%.17Lf".
const longDouble1e308 = "99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048"

func TestStringCommands(t *testing.T) { runScenarios(t, stringCmdCases) }

// stringTimeCases need several times (or absolute expiry times), so they
// run only here.
var stringTimeCases = []scenario{
	{"SETEX expires", []step{
		{1000, "SETEX k 10 v", ok, nil},
		{10999, "GET k", bulk("v"), nil},
		{11000, "GET k", null, nil},
		{11000, "PSETEX k 5 v", ok, nil},
		{11005, "EXISTS k", n(0), nil},
	}},
	{"GETEX with an absolute time", []step{
		{5000, "SET k v", ok, nil},
		{5000, "GETEX k EXAT 100", bulk("v"), nil},
		{5000, "PTTL k", n(95000), nil},
		{5000, "GETEX k PXAT 6000", bulk("v"), nil},
		{5000, "PTTL k", n(1000), nil},
		{5000, "GETEX k PXAT 5000", bulk("v"), nil}, // already past: removed
		{5000, "EXISTS k", n(0), nil},
		{5000, "DBSIZE", n(0), nil},
		{5000, "SET k v", ok, nil},
		{5000, "GETEX k EXAT 1", bulk("v"), nil},
		{5000, "DBSIZE", n(0), nil},
	}},
	{"GETEX on an expired key removes it", []step{
		{1000, "SET k v PX 10", ok, nil},
		{1010, "DBSIZE", n(1), nil},
		{1010, "GETEX k PERSIST", null, nil},
		{1010, "DBSIZE", n(0), nil},
	}},
	{"APPEND to an expired key starts afresh", []step{
		{1000, "SET k abc PX 10", ok, nil},
		{1010, "APPEND k d", n(1), nil},
		{1010, "TTL k", n(-1), nil},
	}},
	{"MSETNX sees an expired key as missing", []step{
		{1000, "SET a 1 PX 10", ok, nil},
		{1010, "MSETNX a 2 b 2", n(1), nil},
		{1010, "MGET a b", arr(bulk("2"), bulk("2")), nil},
	}},
	{"INCRBYFLOAT on an expired key", []step{
		{1000, "SET f 5 PX 10", ok, nil},
		{1010, "INCRBYFLOAT f 1.5", bulk("1.5"), nil},
		{1010, "TTL f", n(-1), nil},
	}},
}

func TestStringCommandsOverTime(t *testing.T) { runScenarios(t, stringTimeCases) }

// TestAppendSharesNoBytes checks APPEND against the rule that stored bytes
// never change: replies taken before, a snapshot's copy and a COPY of the
// key all keep their bytes while the original grows in place.
func TestAppendSharesNoBytes(t *testing.T) {
	s := New()
	mustApply(t, s, 1000, argv("SET", "k", "ab"))
	mustApply(t, s, 1000, argv("APPEND", "k", "cd")) // now with spare capacity
	got := s.Read(1000, argv("GET", "k"))
	rng := s.Read(1000, argv("GETRANGE", "k", "0", "1"))
	mustApply(t, s, 1000, argv("COPY", "k", "c"))
	sn := s.Snapshot()
	mustApply(t, s, 1000, argv("APPEND", "k", "XY"), argv("APPEND", "c", "ZW"))
	sn.Release()
	mustApply(t, s, 1000, argv("APPEND", "k", "12"), argv("APPEND", "c", "34"))
	for _, c := range []struct {
		got  []byte
		want string
	}{
		{got.Str, "abcd"}, {rng.Str, "ab"},
		{s.Read(1000, argv("GET", "k")).Str, "abcdXY12"},
		{s.Read(1000, argv("GET", "c")).Str, "abcdZW34"},
	} {
		if string(c.got) != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	r := restored(t, snapshotBytes(t, s))
	if got := r.Read(1000, argv("GET", "c")); string(got.Str) != "abcdZW34" {
		t.Errorf("restored c = %q", got.Str)
	}
}

// TestAppendLimit checks the proto-max-bulk-len limit without building
// half a gigabyte twice.
func TestAppendLimit(t *testing.T) {
	s := New()
	if testing.Short() && os.Getenv("CI") != "true" { // CI always runs it
		t.Skip("allocates 512 MiB: skipped under -short outside CI (CI=true always runs it)")
	}
	mustApply(t, s, 1000, argv("SETRANGE", "k", "536870911", "x"))
	if r := do(s, 1000, argv("APPEND", "k", "y")); !replyEqual(r, rerr(errTooLong)) {
		t.Fatalf("APPEND past 512 MiB: %s", fmtReply(r))
	}
	if r := do(s, 1000, argv("STRLEN", "k")); !replyEqual(r, n(536870912)) {
		t.Fatalf("STRLEN: %s", fmtReply(r))
	}
	if r := do(s, 1000, argv("APPEND", "k", "")); !replyEqual(r, n(536870912)) {
		t.Fatalf("APPEND nothing at the limit: %s", fmtReply(r))
	}
}
