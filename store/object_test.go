package store

import (
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

const errLFU = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."

var objectCases = []scenario{
	{"OBJECT ENCODING of strings as SET stores them", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "OBJECT ENCODING a", bulk("int"), nil},
		{1000, "SET a -5", ok, nil},
		{1000, "OBJECT ENCODING a", bulk("int"), nil},
		{1000, "SET a 9223372036854775807", ok, nil},
		{1000, "OBJECT ENCODING a", bulk("int"), nil},
		{1000, "SET a 9223372036854775808", ok, nil},
		{1000, "OBJECT ENCODING a", bulk("embstr"), nil},
		{1000, "SET a 012", ok, nil},
		{1000, "object encoding a", bulk("embstr"), nil},
		{1000, "SET a -0", ok, nil},
		{1000, "OBJECT ENCODING a", bulk("embstr"), nil},
		{1000, "", ok, []string{"SET", "a", ""}},
		{1000, "OBJECT ENCODING a", bulk("embstr"), nil},
		{1000, "", ok, []string{"SET", "a", strings.Repeat("x", 44)}},
		{1000, "OBJECT ENCODING a", bulk("embstr"), nil},
		{1000, "", ok, []string{"SET", "a", strings.Repeat("x", 45)}},
		{1000, "OBJECT ENCODING a", bulk("raw"), nil},
		{1000, "", ok, []string{"SET", "a", strings.Repeat("1", 45)}},
		{1000, "OBJECT ENCODING a", bulk("raw"), nil},
		{1000, "OBJECT ENCODING missing", null, nil},
	}},
	{"OBJECT ENCODING after other writes", []step{
		{1000, "MSET m 123 n 12345678901234567890123456789012345678901234567", ok, nil},
		{1000, "OBJECT ENCODING m", bulk("int"), nil},
		{1000, "OBJECT ENCODING n", bulk("raw"), nil},
		{1000, "SETNX sn 5", n(1), nil},
		{1000, "OBJECT ENCODING sn", bulk("int"), nil},
		{1000, "SETEX se 100 7", ok, nil},
		{1000, "OBJECT ENCODING se", bulk("int"), nil},
		{1000, "GETSET g 7", null, nil},
		{1000, "OBJECT ENCODING g", bulk("int"), nil},
		{1000, "SET f 1.5", ok, nil},
		{1000, "INCRBYFLOAT f 1.5", bulk("3"), nil},
		{1000, "OBJECT ENCODING f", bulk("embstr"), nil},
		{1000, "APPEND ap 12", n(2), nil},
		{1000, "OBJECT ENCODING ap", bulk("int"), nil},
		{1000, "APPEND ap 3", n(3), nil},
		{1000, "OBJECT ENCODING ap", bulk("raw"), nil},
		{1000, "SET i 5", ok, nil},
		{1000, "", n(1), []string{"APPEND", "i", ""}},
		{1000, "OBJECT ENCODING i", bulk("raw"), nil},
		{1000, "INCR i", n(6), nil},
		{1000, "OBJECT ENCODING i", bulk("int"), nil},
		{1000, "SETRANGE i 0 7", n(1), nil},
		{1000, "OBJECT ENCODING i", bulk("raw"), nil},
		{1000, "SETRANGE sr 0 1", n(1), nil},
		{1000, "OBJECT ENCODING sr", bulk("raw"), nil},
		{1000, "COPY ap apc", n(1), nil},
		{1000, "OBJECT ENCODING apc", bulk("raw"), nil},
		{1000, "GETEX ap PERSIST", bulk("123"), nil},
		{1000, "OBJECT ENCODING ap", bulk("raw"), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "OBJECT ENCODING h", bulk("listpack"), nil},
	}},
	{"OBJECT REFCOUNT", []step{
		{1000, "SET a 9999", ok, nil},
		{1000, "OBJECT REFCOUNT a", n(2147483647), nil},
		{1000, "SET a 0", ok, nil},
		{1000, "OBJECT REFCOUNT a", n(2147483647), nil},
		{1000, "SET a 10000", ok, nil},
		{1000, "OBJECT REFCOUNT a", n(1), nil},
		{1000, "SET a -1", ok, nil},
		{1000, "OBJECT REFCOUNT a", n(1), nil},
		{1000, "INCR a", n(0), nil},
		{1000, "OBJECT REFCOUNT a", n(2147483647), nil},
		{1000, "COPY a b", n(1), nil},
		{1000, "OBJECT REFCOUNT b", n(1), nil},
		{1000, "OBJECT ENCODING b", bulk("int"), nil},
		{1000, "RENAME a c", ok, nil},
		{1000, "OBJECT REFCOUNT c", n(2147483647), nil},
		{1000, "SET s x", ok, nil},
		{1000, "OBJECT REFCOUNT s", n(1), nil},
		{1000, "HSET h f 1", n(1), nil},
		{1000, "OBJECT REFCOUNT h", n(1), nil},
		{1000, "OBJECT REFCOUNT missing", null, nil},
	}},
	{"OBJECT FREQ and IDLETIME", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "OBJECT FREQ a", rerr(errLFU), nil},
		{1000, "OBJECT FREQ missing", null, nil},
		{1000, "OBJECT IDLETIME a", n(0), nil},
		{1000, "OBJECT IDLETIME missing", null, nil},
	}},
	{"OBJECT errors", []step{
		{1000, "OBJECT FOO a", rerr("ERR unknown subcommand 'FOO'. Try OBJECT HELP."), nil},
		{1000, "object foo", rerr("ERR unknown subcommand 'foo'. Try OBJECT HELP."), nil},
		{1000, "OBJECT ENCODING", rerr("ERR wrong number of arguments for 'object|encoding' command"), nil},
		{1000, "OBJECT encoding a b", rerr("ERR wrong number of arguments for 'object|encoding' command"), nil},
		{1000, "OBJECT HELP x", rerr("ERR wrong number of arguments for 'object|help' command"), nil},
		{1000, "OBJECT REFCOUNT", rerr("ERR wrong number of arguments for 'object|refcount' command"), nil},
	}},
	{"OBJECT HELP", []step{
		{1000, "OBJECT HELP", objectHelpReply(), nil},
		{1000, "object help", objectHelpReply(), nil},
	}},
}

func objectHelpReply() resp.Reply {
	elems := make([]resp.Reply, len(objectHelp))
	for i, l := range objectHelp {
		elems[i] = resp.Simple(l)
	}
	return arr(elems...)
}

func TestObject(t *testing.T) { runScenarios(t, objectCases) }

var objectTimeCases = []scenario{
	{"OBJECT IDLETIME counts from the last access", []step{
		{1000, "SET a 1", ok, nil},
		{1999, "OBJECT IDLETIME a", n(0), nil},
		{2000, "OBJECT IDLETIME a", n(1), nil},
		{61500, "OBJECT IDLETIME a", n(60), nil},
		{61500, "TYPE a", simple("string"), nil}, // asks about the key: no access
		{61500, "OBJECT IDLETIME a", n(60), nil},
		{62500, "GET a", bulk("1"), nil}, // a read is an access
		{63500, "OBJECT IDLETIME a", n(1), nil},
		{63500, "INCR a", n(2), nil},
		{63999, "OBJECT IDLETIME a", n(0), nil}, // whole seconds, like Redis's LRU clock
		{70000, "EXPIRE a 100", n(1), nil},
		{71000, "OBJECT IDLETIME a", n(1), nil},
		{75000, "SET a 1 NX", null, nil}, // no write, but an access, as in Redis
		{76000, "OBJECT IDLETIME a", n(1), nil},
		{74000, "OBJECT IDLETIME a", n(0), nil}, // a reader's clock behind
	}},
}

func TestObjectOverTime(t *testing.T) { runScenarios(t, objectTimeCases) }

func TestStrEncoding(t *testing.T) {
	for _, c := range []struct {
		v    string
		want encoding
	}{
		{"0", encIntShared}, {"9999", encIntShared}, {"10000", encInt}, {"-1", encInt},
		{"-9223372036854775808", encInt}, {"9223372036854775807", encInt},
		{"9223372036854775808", encEmbstr}, {"+1", encEmbstr}, {" 1", encEmbstr}, {"1 ", encEmbstr},
		{"-0", encEmbstr}, {"00", encEmbstr}, {"", encEmbstr}, {"1.0", encEmbstr},
		{strings.Repeat("a", 44), encEmbstr}, {strings.Repeat("a", 45), encRaw},
	} {
		if got := strEncoding([]byte(c.v)); got != c.want {
			t.Errorf("strEncoding(%q) = %s, want %s", c.v, encodingNames[got], encodingNames[c.want])
		}
	}
}
