package store

import (
	"fmt"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

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

const (
	errHashNotInt   = "ERR hash value is not an integer"
	errHashNotFloat = "ERR hash value is not a float"
	errNaNOrInf     = "ERR value is NaN or Infinity"
)

var hashCmdCases = []scenario{
	{"HSETNX", []step{
		{1000, "HSETNX h f 1", n(1), nil},
		{1000, "HSETNX h f 2", n(0), nil},
		{1000, "HGET h f", bulk("1"), nil},
		{1000, "HSETNX h g 2", n(1), nil},
		{1000, "HLEN h", n(2), nil},
		{1000, "SET s v", ok, nil},
		{1000, "HSETNX s f 1", rerr(errWrongType), nil},
	}},
	{"HMGET", []step{
		{1000, "HSET h f 1 g 2", n(2), nil},
		{1000, "HMGET h f nofield g f", arr(bulk("1"), null, bulk("2"), bulk("1")), nil},
		{1000, "HMGET missing a b", arr(null, null), nil},
		{1000, "SET s v", ok, nil},
		{1000, "HMGET s a", rerr(errWrongType), nil},
	}},
	{"HEXISTS HLEN HSTRLEN", []step{
		{1000, "HSET h f hello g x", n(2), nil},
		{1000, "", n(1), []string{"HSET", "h", "e", ""}},
		{1000, "HEXISTS h f", n(1), nil},
		{1000, "HEXISTS h zz", n(0), nil},
		{1000, "HEXISTS missing f", n(0), nil},
		{1000, "HLEN h", n(3), nil},
		{1000, "HLEN missing", n(0), nil},
		{1000, "HSTRLEN h f", n(5), nil},
		{1000, "HSTRLEN h e", n(0), nil},
		{1000, "HSTRLEN h nofield", n(0), nil},
		{1000, "HSTRLEN missing f", n(0), nil},
		{1000, "SET s v", ok, nil},
		{1000, "HEXISTS s f", rerr(errWrongType), nil},
		{1000, "HLEN s", rerr(errWrongType), nil},
		{1000, "HSTRLEN s f", rerr(errWrongType), nil},
	}},
	{"HKEYS HVALS", []step{
		{1000, "HSET h a 1 b 2 c 1", n(3), nil},
		{1000, "HKEYS h", bulks("a", "b", "c"), nil},
		{1000, "HVALS h", bulks("1", "1", "2"), nil},
		{1000, "HKEYS missing", bulks(), nil},
		{1000, "HVALS missing", bulks(), nil},
		{1000, "SET s v", ok, nil},
		{1000, "HKEYS s", rerr(errWrongType), nil},
		{1000, "HVALS s", rerr(errWrongType), nil},
	}},
	{"HINCRBY", []step{
		{1000, "", n(3), []string{"HSET", "h", "f", "10", "g", "abc", "sp", " 1"}},
		{1000, "HINCRBY h f 5", n(15), nil},
		{1000, "HINCRBY h f -20", n(-5), nil},
		{1000, "HINCRBY h new 3", n(3), nil},
		{1000, "HINCRBY missing f 7", n(7), nil},
		{1000, "HGET missing f", bulk("7"), nil},
		{1000, "HINCRBY h g 1", rerr(errHashNotInt), nil},
		{1000, "HINCRBY h sp 1", rerr(errHashNotInt), nil},
		{1000, "HINCRBY h f x", rerr(errNotInt), nil},
		{1000, "HINCRBY h f 1.5", rerr(errNotInt), nil},
		{1000, "HINCRBY h n 9223372036854775807", n(9223372036854775807), nil},
		{1000, "HINCRBY h n 1", rerr(errOverflow), nil},
		{1000, "HINCRBY h f -9223372036854775808", rerr(errOverflow), nil},
		{1000, "HINCRBY h f 5", n(0), nil},
		{1000, "HINCRBY h f -9223372036854775808", n(-9223372036854775808), nil},
		{1000, "HINCRBY h f -1", rerr(errOverflow), nil},
		{1000, "HSET h big 9223372036854775808", n(1), nil},
		{1000, "HINCRBY h big 1", rerr(errHashNotInt), nil},
		{1000, "SET s v", ok, nil},
		{1000, "HINCRBY s f x", rerr(errNotInt), nil},
		{1000, "HINCRBY s f 1", rerr(errWrongType), nil},
		{1000, "EXISTS nothing", n(0), nil},
		{1000, "HINCRBY nothing f x", rerr(errNotInt), nil},
		{1000, "EXISTS nothing", n(0), nil},
	}},
	{"HINCRBYFLOAT", []step{
		{1000, "HSET h f 10.5 g abc", n(2), nil},
		{1000, "HINCRBYFLOAT h f 0.1", bulk("10.6"), nil},
		{1000, "HINCRBYFLOAT h new 1e-3", bulk("0.001"), nil},
		{1000, "HINCRBYFLOAT h nf 1e308", bulk(longDouble1e308), nil},
		{1000, "HINCRBYFLOAT h g 1", rerr(errHashNotFloat), nil},
		{1000, "HINCRBYFLOAT h f abc", rerr(errNotFloat), nil},
		{1000, "HINCRBYFLOAT h f inf", rerr(errNaNOrInf), nil},
		{1000, "HINCRBYFLOAT h f nan", rerr(errNotFloat), nil},
		{1000, "HSET h m 1e4932", n(1), nil},
		{1000, "HINCRBYFLOAT h m 1e4932", rerr(errIncrNaN), nil},
		{1000, "SET s v", ok, nil},
		{1000, "HINCRBYFLOAT s f abc", rerr(errNotFloat), nil},
		{1000, "HINCRBYFLOAT s f inf", rerr(errNaNOrInf), nil},
		{1000, "HINCRBYFLOAT s f 1", rerr(errWrongType), nil},
		{1000, "HINCRBYFLOAT missing f abc", rerr(errNotFloat), nil},
		{1000, "EXISTS missing", n(0), nil},
		{1000, "HGET h f", bulk("10.6"), nil},
	}},
	{"binary fields", []step{
		{1000, "", n(2), []string{"HSET", "h\x00", "f\r\n", "v\x00", "", "\r\n"}},
		{1000, "", bulk("v\x00"), []string{"HGET", "h\x00", "f\r\n"}},
		{1000, "", bulk("\r\n"), []string{"HGET", "h\x00", ""}},
		{1000, "", n(2), []string{"HSTRLEN", "h\x00", ""}},
	}},
}

func TestHashCommands(t *testing.T) { runScenarios(t, hashCmdCases) }

var hscanCases = []scenario{
	{"HSCAN", []step{
		{1000, "HSET h f1 v1 f2 v2 g v3", n(3), nil},
		{1000, "HSCAN h 0", scanR("0", "f1", "v1", "f2", "v2", "g", "v3"), nil},
		{1000, "HSCAN h 5 COUNT 1", scanR("0", "f1", "v1", "f2", "v2", "g", "v3"), nil},
		{1000, "HSCAN h 0 MATCH f*", scanR("0", "f1", "v1", "f2", "v2"), nil},
		{1000, "HSCAN h 0 MATCH x* COUNT 100", scanR("0"), nil},
		{1000, "HSCAN h 0 match f1 match g", scanR("0", "g", "v3"), nil},
		{1000, "HSCAN h 0 COUNT 9223372036854775807", scanR("0", "f1", "v1", "f2", "v2", "g", "v3"), nil},
		{1000, "HSCAN missing 0", scanR("0"), nil},
		{1000, "HSCAN missing 0 FOO", scanR("0"), nil},
		{1000, "", n(1), []string{"HSET", "e", "", "e"}},
		{1000, "HSCAN e 0", scanR("0", "", "e"), nil},
	}},
	{"HSCAN errors", []step{
		{1000, "HSET h f v", n(1), nil},
		{1000, "SET s v", ok, nil},
		{1000, "HSCAN h x", rerr("ERR invalid cursor"), nil},
		{1000, "HSCAN missing x", rerr("ERR invalid cursor"), nil},
		{1000, "HSCAN s x", rerr("ERR invalid cursor"), nil},
		{1000, "HSCAN s 0", rerr(errWrongType), nil},
		{1000, "HSCAN s 0 FOO", rerr(errWrongType), nil},
		{1000, "HSCAN h 0 COUNT 0", rerr(errSyntax), nil},
		{1000, "HSCAN h 0 COUNT -1", rerr(errSyntax), nil},
		{1000, "HSCAN h 0 COUNT abc", rerr(errNotInt), nil},
		{1000, "HSCAN h 0 MATCH", rerr(errSyntax), nil},
		{1000, "HSCAN h 0 TYPE string", rerr(errSyntax), nil},
		{1000, "HSCAN h 0 NOVALUES", rerr(errSyntax), nil},
		{1000, "HSCAN h 0 FOO bar", rerr(errSyntax), nil},
	}},
}

func TestHScan(t *testing.T) { runScenarios(t, hscanCases) }

// hrandfieldCases hold the deterministic cases of HRANDFIELD: a hash of one
// field, counts that take all, and the errors.
var hrandfieldCases = []scenario{
	{"HRANDFIELD", []step{
		{1000, "HSET h a 1", n(1), nil},
		{1000, "HRANDFIELD h", bulk("a"), nil},
		{1000, "HRANDFIELD missing", null, nil},
		{1000, "HRANDFIELD missing 5", bulks(), nil},
		{1000, "HRANDFIELD missing 5 WITHVALUES", bulks(), nil},
		{1000, "HRANDFIELD h 0", bulks(), nil},
		{1000, "HRANDFIELD h 0 withvalues", bulks(), nil},
		{1000, "HRANDFIELD h -3", bulks("a", "a", "a"), nil},
		{1000, "HRANDFIELD h -2 WITHVALUES", bulks("a", "1", "a", "1"), nil},
		{1000, "HRANDFIELD h 5 WITHVALUES", bulks("a", "1"), nil},
		{1000, "HRANDFIELD h 1", bulks("a"), nil},
		{1000, "HRANDFIELD h 4611686018427387903 WITHVALUES", bulks("a", "1"), nil},
	}},
	{"HRANDFIELD errors", []step{
		{1000, "HSET h a 1", n(1), nil},
		{1000, "SET s v", ok, nil},
		{1000, "HRANDFIELD h 1 foo", rerr(errSyntax), nil},
		{1000, "HRANDFIELD h 1 withvalues x", rerr(errSyntax), nil},
		{1000, "HRANDFIELD h abc", rerr(errNotInt), nil},
		{1000, "HRANDFIELD h -9223372036854775808", rerr("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"), nil},
		{1000, "HRANDFIELD h 9223372036854775807 WITHVALUES", rerr(errOutOfRange), nil},
		{1000, "HRANDFIELD h 4611686018427387904 WITHVALUES", rerr(errOutOfRange), nil},
		{1000, "HRANDFIELD h -4611686018427387904 WITHVALUES", rerr(errOutOfRange), nil},
		{1000, "HRANDFIELD missing 9223372036854775807 WITHVALUES", rerr(errOutOfRange), nil},
		{1000, "HRANDFIELD s", rerr(errWrongType), nil},
		{1000, "HRANDFIELD s 1", rerr(errWrongType), nil},
		{1000, "HRANDFIELD s 0", rerr(errWrongType), nil},
		{1000, "HRANDFIELD s abc", rerr(errNotInt), nil},
		{1000, "HRANDFIELD missing abc", rerr(errNotInt), nil},
		{1000, "HRANDFIELD missing 1 foo", rerr(errSyntax), nil},
		{1000, "HRANDFIELD s 1 foo", rerr(errSyntax), nil},
	}},
}

func TestHRandFieldCases(t *testing.T) { runScenarios(t, hrandfieldCases) }

// TestHRandFieldRandom checks the shape of random replies: distinct
// fields for a positive count, repeats allowed for a negative one, values
// that belong to their fields, and no allocation proportional to a huge
// count.
func TestHRandFieldRandom(t *testing.T) {
	s := New()
	cmd := argv("HSET", "h")
	want := map[string]string{}
	for i := range 20 {
		f, v := fmt.Sprint("f", i), fmt.Sprint("v", i)
		cmd = append(cmd, []byte(f), []byte(v))
		want[f] = v
	}
	mustApply(t, s, 1000, cmd)
	seen := map[string]bool{}
	for range 200 {
		r := s.Read(1000, argv("HRANDFIELD", "h"))
		if _, ok := want[string(r.Str)]; !ok || r.Kind != resp.KindBulk {
			t.Fatalf("HRANDFIELD h = %s", fmtReply(r))
		}
		seen[string(r.Str)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("200 draws saw only %d of 20 fields", len(seen))
	}
	for _, count := range []int{1, 5, 19, 20, 21, 1000} {
		r := s.Read(1000, argv("HRANDFIELD", "h", fmt.Sprint(count), "WITHVALUES"))
		if len(r.Elems) != 2*min(count, 20) {
			t.Fatalf("count %d: %d elements", count, len(r.Elems))
		}
		distinct := map[string]bool{}
		for i := 0; i < len(r.Elems); i += 2 {
			f, v := string(r.Elems[i].Str), string(r.Elems[i+1].Str)
			if want[f] != v || distinct[f] {
				t.Fatalf("count %d: %s", count, fmtReply(r))
			}
			distinct[f] = true
		}
	}
	r := s.Read(1000, argv("HRANDFIELD", "h", "-50"))
	if len(r.Elems) != 50 {
		t.Fatalf("count -50: %d elements", len(r.Elems))
	}
	for _, e := range r.Elems {
		if _, ok := want[string(e.Str)]; !ok {
			t.Fatalf("count -50: %s", fmtReply(r))
		}
	}
	// Redis would try to build 2^63-1 replies; raftcache refuses.
	if r := s.Read(1000, argv("HRANDFIELD", "h", "-9223372036854775807")); !replyEqual(r, rerr(errOutOfRange)) {
		t.Fatalf("huge negative count: %s", fmtReply(r))
	}
	if r := s.Read(1000, argv("HRANDFIELD", "h", "9223372036854775807")); len(r.Elems) != 20 {
		t.Fatalf("huge positive count: %s", fmtReply(r))
	}
}

// TestHashEncodingConversion follows Redis's listpack to hashtable
// conversion: a field or value over 64 bytes, or over 128 fields, and
// never back.
func TestHashEncodingConversion(t *testing.T) {
	long := strings.Repeat("x", 65)
	enc := func(s *Store, key string) string { return string(s.Read(1000, argv("OBJECT", "ENCODING", key)).Str) }
	for _, c := range []struct {
		name string
		cmds [][]string
		want string
	}{
		{"small", [][]string{{"HSET", "h", "f", "v"}}, "listpack"},
		{"64-byte value", [][]string{{"HSET", "h", "f", long[:64]}}, "listpack"},
		{"65-byte value", [][]string{{"HSET", "h", "f", long}}, "hashtable"},
		{"65-byte field", [][]string{{"HSET", "h", long, "v"}}, "hashtable"},
		{"never back", [][]string{{"HSET", "h", "f", long, "g", "v"}, {"HDEL", "h", "f"}}, "hashtable"},
		{"deleted and made again", [][]string{{"HSET", "h", "f", long}, {"HDEL", "h", "f"}, {"HSET", "h", "f", "v"}}, "listpack"},
		{"HSETNX of an existing field", [][]string{{"HSET", "h", "f", "v"}, {"HSETNX", "h", "f", long}}, "listpack"},
		{"HSETNX of a new field", [][]string{{"HSET", "h", "f", "v"}, {"HSETNX", "h", "g", long}}, "hashtable"},
		{"HINCRBY with a long field", [][]string{{"HINCRBY", "h", long, "1"}}, "hashtable"},
		{"HINCRBYFLOAT with a long result", [][]string{{"HINCRBYFLOAT", "h", "f", "1e100"}}, "hashtable"},
		{"COPY keeps it", [][]string{{"HSET", "x", "f", long}, {"COPY", "x", "h"}}, "hashtable"},
		{"RENAME keeps it", [][]string{{"HSET", "x", "f", long}, {"RENAME", "x", "h"}}, "hashtable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New()
			for _, cmd := range c.cmds {
				mustApply(t, s, 1000, argv(cmd...))
			}
			if got := enc(s, "h"); got != c.want {
				t.Fatalf("encoding %q, want %q", got, c.want)
			}
		})
	}
	s := New()
	cmd := argv("HSET", "h")
	for i := range 128 {
		cmd = append(cmd, fmt.Appendf(nil, "f%d", i), []byte("v"))
	}
	mustApply(t, s, 1000, cmd)
	if got := enc(s, "h"); got != "listpack" {
		t.Fatalf("128 fields: %s", got)
	}
	mustApply(t, s, 1000, argv("HSET", "h", "f0", "again"))
	if got := enc(s, "h"); got != "listpack" {
		t.Fatalf("128 fields, one overwritten: %s", got)
	}
	mustApply(t, s, 1000, argv("HSETNX", "h", "one more", "v"))
	if got := enc(s, "h"); got != "hashtable" {
		t.Fatalf("129 fields: %s", got)
	}
	// 129 pairs that name one field: Redis 7.0 counts fields, not pairs.
	s = New()
	cmd = argv("HSET", "h")
	for range 129 {
		cmd = append(cmd, []byte("f"), []byte("v"))
	}
	mustApply(t, s, 1000, cmd)
	if got := enc(s, "h"); got != "listpack" {
		t.Fatalf("129 pairs of one field: %s", got)
	}
}
