package store

import "testing"

var hashCases = []scenario{
	{"HSET creates and counts new fields", []step{
		{1000, "HSET h f1 v1", n(1), nil},
		{1000, "HSET h f1 v2 f2 v2 f3 v3", n(2), nil},
		{1000, "HGET h f1", bulk("v2"), nil},
		{1000, "HGETALL h", hmap("f1", "v2", "f2", "v2", "f3", "v3"), nil},
		{1000, "DBSIZE", n(1), nil},
	}},
	{"HSET with a field twice counts it once, the last value wins", []step{
		{1000, "HSET h f a f b", n(1), nil},
		{1000, "HGET h f", bulk("b"), nil},
		{1000, "HSET h f c", n(0), nil},
	}},
	{"HMSET answers OK", []step{
		{1000, "HMSET h f1 v1 f2 v2", ok, nil},
		{1000, "HMSET h f1 x", ok, nil},
		{1000, "hmset h f3 y", ok, nil},
		{1000, "HGETALL h", hmap("f1", "x", "f2", "v2", "f3", "y"), nil},
	}},
	{"odd arguments", []step{
		{1000, "HSET h f1 v1 f2", rerr("ERR wrong number of arguments for 'hset' command"), nil},
		{1000, "hset h f1 v1 f2", rerr("ERR wrong number of arguments for 'hset' command"), nil},
		{1000, "HMSET h f1 v1 f2", rerr("ERR wrong number of arguments for 'hmset' command"), nil},
		{1000, "EXISTS h", n(0), nil},
		{1000, "SET s v", ok, nil},
		{1000, "HSET s f1 v1 f2", rerr("ERR wrong number of arguments for 'hset' command"), nil},
	}},
	{"empty field and value", []step{
		{1000, "", n(1), []string{"HSET", "h", "", ""}},
		{1000, "", bulk(""), []string{"HGET", "h", ""}},
		{1000, "HGETALL h", hmap("", ""), nil},
	}},
	{"HGET misses", []step{
		{1000, "HGET h f", null, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "HGET h g", null, nil},
	}},
	{"HGETALL on a missing key is an empty map", []step{
		{1000, "HGETALL h", hmap(), nil},
	}},
	{"WRONGTYPE: hash commands on a string", []step{
		{1000, "SET s v EX 100", ok, nil},
		{1000, "HSET s f v", rerr(errWrongType), nil},
		{1000, "HMSET s f v", rerr(errWrongType), nil},
		{1000, "HGET s f", rerr(errWrongType), nil},
		{1000, "HDEL s f", rerr(errWrongType), nil},
		{1000, "HGETALL s", rerr(errWrongType), nil},
		{1000, "GET s", bulk("v"), nil},
		{1000, "TTL s", n(100), nil},
	}},
	{"WRONGTYPE: string commands on a hash", []step{
		{1000, "HSET h f 1", n(1), nil},
		{1000, "GET h", rerr(errWrongType), nil},
		{1000, "INCR h", rerr(errWrongType), nil},
		{1000, "SET h v GET", rerr(errWrongType), nil},
		{1000, "HGETALL h", hmap("f", "1"), nil},
	}},
	{"hash commands on an expired string start afresh", []step{
		{1000, "SET s v PX 10", ok, nil},
		{1010, "HGET s f", null, nil},
		{1010, "HSET s f v", n(1), nil},
		{1010, "HGETALL s", hmap("f", "v"), nil},
		{1010, "TTL s", n(-1), nil},
	}},
	{"HSET keeps the TTL", []step{
		{1000, "HSET h f v", n(1), nil},
		{1000, "EXPIRE h 100", n(1), nil},
		{2000, "HSET h g w", n(1), nil},
		{2000, "PTTL h", n(99000), nil},
		{101000, "HGETALL h", hmap(), nil},
	}},
	{"HDEL", []step{
		{1000, "HSET h a 1 b 2 c 3", n(3), nil},
		{1000, "HDEL h a", n(1), nil},
		{1000, "HDEL h a", n(0), nil},
		{1000, "HDEL h b b x", n(1), nil},
		{1000, "HGETALL h", hmap("c", "3"), nil},
		{1000, "HDEL missing a", n(0), nil},
	}},
	{"HDEL of the last field deletes the key", []step{
		{1000, "HSET h a 1 b 2", n(2), nil},
		{1000, "EXPIRE h 100", n(1), nil},
		{1000, "HDEL h a b", n(2), nil},
		{1000, "EXISTS h", n(0), nil},
		{1000, "TTL h", n(-2), nil},
		{1000, "DBSIZE", n(0), nil},
		{1000, "SET h v", ok, nil},
		{1000, "GET h", bulk("v"), nil},
	}},
	{"HDEL on an expired hash", []step{
		{1000, "HSET h a 1", n(1), nil},
		{1000, "PEXPIRE h 10", n(1), nil},
		{1010, "HDEL h a", n(0), nil},
		{1010, "DBSIZE", n(0), nil},
	}},
	{"values returned survive later writes", []step{
		{1000, "HSET h f one", n(1), nil},
		{1000, "HGET h f", bulk("one"), nil},
		{1000, "HSET h f two", n(0), nil},
		{1000, "HGET h f", bulk("two"), nil},
	}},
}

func TestHash(t *testing.T) { runScenarios(t, hashCases) }

// TestRepliesAliasStableBytes checks the invariant that lets replies
// alias stored bytes: a reply taken before a write still reads the same
// afterwards.
func TestRepliesAliasStableBytes(t *testing.T) {
	s := New()
	mustApply(t, s, 1000, argv("SET", "k", "12345"), argv("HSET", "h", "f", "abc"), argv("SET", "n", "41"))
	get := s.Read(1000, argv("GET", "k"))
	hget := s.Read(1000, argv("HGET", "h", "f"))
	all := s.Read(1000, argv("HGETALL", "h"))
	num := s.Read(1000, argv("GET", "n"))
	setGet := s.Apply(1000, [][][]byte{argv("SET", "k", "67890", "GET")}, nil)[0]
	mustApply(t, s, 1000,
		argv("SET", "k", "xxxxx"),
		argv("HSET", "h", "f", "xyz"),
		argv("HDEL", "h", "f"),
		argv("INCR", "n"),
		argv("FLUSHALL"),
		argv("SET", "k", "zzzzz"),
	)
	for _, c := range []struct {
		got  []byte
		want string
	}{
		{get.Str, "12345"}, {hget.Str, "abc"}, {all.Elems[1].Str, "abc"},
		{num.Str, "41"}, {setGet.Str, "12345"},
	} {
		if string(c.got) != c.want {
			t.Errorf("reply changed to %q, want %q", c.got, c.want)
		}
	}
}
