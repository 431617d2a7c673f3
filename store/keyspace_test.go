package store

import (
	"fmt"
	"testing"
)

const (
	errSameObject = "ERR source and destination objects are the same"
	errCopyDB     = "ERR Copying to another database is not allowed in cluster mode"
	errDBIndex    = "ERR DB index is out of range"
)

var keyspaceCases = []scenario{
	{"TYPE", []step{
		{1000, "SET s v", ok, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "TYPE s", simple("string"), nil},
		{1000, "TYPE h", simple("hash"), nil},
		{1000, "TYPE missing", simple("none"), nil},
		{1000, "SET n 12", ok, nil},
		{1000, "type n", simple("string"), nil},
	}},
	{"TOUCH counts existing keys, repeats included", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "TOUCH a a missing h", n(3), nil},
		{1000, "TOUCH missing", n(0), nil},
	}},
	{"RENAME", []step{
		{1000, "SET a 1 EX 100", ok, nil},
		{1000, "RENAME a b", ok, nil},
		{1000, "EXISTS a", n(0), nil},
		{1000, "GET b", bulk("1"), nil},
		{1000, "TTL b", n(100), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "RENAME b h", ok, nil},
		{1000, "GET h", bulk("1"), nil},
		{1000, "TTL h", n(100), nil},
		{1000, "SET c 2", ok, nil},
		{1000, "RENAME c h", ok, nil},
		{1000, "TTL h", n(-1), nil},
		{1000, "DBSIZE", n(1), nil},
		{1000, "RENAME h h", ok, nil},
		{1000, "GET h", bulk("2"), nil},
		{1000, "RENAME missing x", rerr(errNoSuchKey), nil},
		{1000, "RENAME missing missing", rerr(errNoSuchKey), nil},
		{1000, "EXISTS x", n(0), nil},
	}},
	{"RENAME a hash", []step{
		{1000, "HSET h f v g w", n(2), nil},
		{1000, "RENAME h {h}x", ok, nil},
		{1000, "HGETALL {h}x", hmap("f", "v", "g", "w"), nil},
		{1000, "HGETALL h", hmap(), nil},
	}},
	{"RENAMENX", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "SET b 2", ok, nil},
		{1000, "RENAMENX a b", n(0), nil},
		{1000, "GET a", bulk("1"), nil},
		{1000, "RENAMENX a c", n(1), nil},
		{1000, "GET c", bulk("1"), nil},
		{1000, "EXISTS a", n(0), nil},
		{1000, "RENAMENX c c", n(0), nil},
		{1000, "RENAMENX missing c", rerr(errNoSuchKey), nil},
		{1000, "RENAMENX missing missing", rerr(errNoSuchKey), nil},
	}},
	{"COPY", []step{
		{1000, "SET a 1 EX 100", ok, nil},
		{1000, "COPY a b", n(1), nil},
		{1000, "GET b", bulk("1"), nil},
		{1000, "TTL b", n(100), nil},
		{1000, "SET a 2", ok, nil},
		{1000, "GET b", bulk("1"), nil},
		{1000, "COPY a b", n(0), nil},
		{1000, "COPY a b REPLACE", n(1), nil},
		{1000, "GET b", bulk("2"), nil},
		{1000, "TTL b", n(-1), nil},
		{1000, "COPY missing b REPLACE", n(0), nil},
		{1000, "GET b", bulk("2"), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "COPY h hc", n(1), nil},
		{1000, "HSET h g w", n(1), nil},
		{1000, "HGETALL hc", hmap("f", "v"), nil},
		{1000, "COPY h a replace", n(1), nil},
		{1000, "TYPE a", simple("hash"), nil},
		{1000, "COPY a b DB 0 db 0 REPLACE replace", n(1), nil},
		{1000, "HGETALL b", hmap("f", "v", "g", "w"), nil},
	}},
	{"COPY errors", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "COPY a a", rerr(errSameObject), nil},
		{1000, "COPY missing missing", rerr(errSameObject), nil},
		{1000, "COPY a a DB 0", rerr(errSameObject), nil},
		{1000, "COPY a b DB 16", rerr(errDBIndex), nil},
		{1000, "COPY a b DB -1", rerr(errDBIndex), nil},
		{1000, "COPY a b DB abc", rerr(errNotInt), nil},
		{1000, "COPY a b DB 99999999999", rerr("ERR value is out of range, value must between -2147483648 and 2147483647"), nil},
		{1000, "COPY a b DB -2147483649", rerr("ERR value is out of range, value must between -2147483648 and 2147483647"), nil},
		{1000, "COPY a b DB 99999999999999999999", rerr(errNotInt), nil},
		{1000, "COPY a b FOO", rerr(errSyntax), nil},
		{1000, "COPY a b REPLACE DB", rerr(errSyntax), nil},
		{1000, "COPY a b DB 16 FOO", rerr(errDBIndex), nil},
		{1000, "EXISTS b", n(0), nil},
	}},
	{"KEYS", []step{
		{1000, "MSET hello 1 hallo 1 hxllo 1 hllo 1 heeeello 1 {a}b 1", ok, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "KEYS *", bulks("hello", "hallo", "hxllo", "hllo", "heeeello", "{a}b", "h"), nil},
		{1000, "KEYS h?llo", bulks("hello", "hallo", "hxllo"), nil},
		{1000, "KEYS h*llo", bulks("hello", "hallo", "hxllo", "hllo", "heeeello"), nil},
		{1000, "KEYS h[ae]llo", bulks("hello", "hallo"), nil},
		{1000, "KEYS h[^e]llo", bulks("hallo", "hxllo"), nil},
		{1000, "KEYS h[a-b]llo", bulks("hallo"), nil},
		{1000, "KEYS {a}*", bulks("{a}b"), nil},
		{1000, "KEYS h", bulks("h"), nil},
		{1000, "KEYS nothing*", bulks(), nil},
		{1000, "KEYS **", bulks("hello", "hallo", "hxllo", "hllo", "heeeello", "{a}b", "h"), nil},
	}},
	{"KEYS and the empty key", []step{
		{1000, "", ok, []string{"SET", "", "x"}},
		{1000, "SET a 1", ok, nil},
		{1000, "KEYS *", bulks("", "a"), nil},
		{1000, "KEYS **", bulks("a"), nil},
		{1000, "", bulks(""), []string{"KEYS", ""}},
		{1000, "KEYS ?", bulks("a"), nil},
		{1000, "", ok, []string{"RENAME", "", "b"}},
		{1000, "GET b", bulk("x"), nil},
	}},
	{"RANDOMKEY on an empty store", []step{
		{1000, "RANDOMKEY", null, nil},
		{1000, "SET a 1", ok, nil},
		{1000, "RANDOMKEY", bulk("a"), nil},
	}},
}

func TestKeyspace(t *testing.T) { runScenarios(t, keyspaceCases) }

// keyspaceTimeCases need several times, absolute times or raftcache's
// cluster mode, so they run only here. COPY's DB errors are those of a
// Redis 7.0.15 in cluster mode (checked by hand with hash-tagged keys).
var keyspaceTimeCases = []scenario{
	{"COPY to another DB in cluster mode", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "COPY a b DB 1", rerr(errCopyDB), nil},
		{1000, "COPY a a DB 15", rerr(errCopyDB), nil},
		{1000, "COPY missing b DB 1", rerr(errCopyDB), nil},
		{1000, "COPY a b DB 1 FOO", rerr(errSyntax), nil},
		{1000, "COPY a b DB 0", n(1), nil},
	}},
	{"RENAME and COPY see expired keys as missing", []step{
		{1000, "SET a 1 PX 10", ok, nil},
		{1000, "SET b 2 PX 10", ok, nil},
		{1000, "SET c 3", ok, nil},
		{1010, "RENAME a x", rerr(errNoSuchKey), nil},
		{1010, "COPY b x", n(0), nil},
		{1010, "RENAMENX c b", n(1), nil},
		{1010, "GET b", bulk("3"), nil},
		{1010, "COPY b a", n(1), nil},
		{1010, "DBSIZE", n(2), nil},
	}},
	{"RENAME keeps an absolute TTL", []step{
		{1000, "SET a 1 PXAT 5000", ok, nil},
		{2000, "RENAME a b", ok, nil},
		{2000, "PEXPIRETIME b", n(5000), nil},
		{2000, "COPY b c", n(1), nil},
		{2000, "PEXPIRETIME c", n(5000), nil},
		{5000, "EXISTS b c", n(0), nil},
	}},
	{"EXPIRETIME and PEXPIRETIME", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIRETIME k", n(-1), nil},
		{1000, "PEXPIRETIME k", n(-1), nil},
		{1000, "EXPIRETIME missing", n(-2), nil},
		{1000, "PEXPIRETIME missing", n(-2), nil},
		{1000, "PEXPIREAT k 99999999999499", n(1), nil},
		{1000, "EXPIRETIME k", n(99999999999), nil},
		{1000, "PEXPIRETIME k", n(99999999999499), nil},
		{1000, "PEXPIREAT k 99999999999500", n(1), nil},
		{1000, "EXPIRETIME k", n(100000000000), nil},
		{1000, "PEXPIREAT k 9223372036854775807", n(1), nil},
		{1000, "EXPIRETIME k", n(9223372036854776), nil},
		{1000, "PEXPIRETIME k", n(9223372036854775807), nil},
		{1000, "PEXPIREAT k 9223372036854775308", n(1), nil},
		{1000, "EXPIRETIME k", n(9223372036854775), nil},
		{1000, "SET e v PXAT 2000", ok, nil},
		{1999, "PEXPIRETIME e", n(2000), nil},
		{2000, "PEXPIRETIME e", n(-2), nil},
		{2000, "EXPIRETIME e", n(-2), nil},
	}},
	{"KEYS and TYPE do not see expired keys", []step{
		{1000, "SET a 1 PX 10", ok, nil},
		{1000, "SET b 1", ok, nil},
		{1010, "KEYS *", bulks("b"), nil},
		{1010, "TYPE a", simple("none"), nil},
		{1010, "TOUCH a b", n(1), nil},
		{1010, "RANDOMKEY", bulk("b"), nil},
		{1010, "DBSIZE", n(2), nil},
	}},
	{"RANDOMKEY when every key has expired", []step{
		{1000, "SET a 1 PX 10", ok, nil},
		{1010, "RANDOMKEY", null, nil},
	}},
}

func TestKeyspaceOverTime(t *testing.T) { runScenarios(t, keyspaceTimeCases) }

func TestRandomKey(t *testing.T) {
	s := New()
	var cmds [][][]byte
	for i := range 50 {
		cmds = append(cmds, argv("SET", fmt.Sprint("k", i), "v"))
	}
	mustApply(t, s, 1000, cmds...)
	seen := map[string]bool{}
	for range 500 {
		r := s.Read(1000, argv("RANDOMKEY"))
		if len(r.Str) == 0 {
			t.Fatalf("RANDOMKEY = %s", fmtReply(r))
		}
		seen[string(r.Str)] = true
	}
	if len(seen) < 25 {
		t.Fatalf("500 draws saw %d of 50 keys", len(seen))
	}
}
