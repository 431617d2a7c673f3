package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

var delCases = []scenario{
	{"DEL counts removed keys", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "DEL a h missing", n(2), nil},
		{1000, "EXISTS a h", n(0), nil},
		{1000, "DBSIZE", n(0), nil},
	}},
	{"DEL counts a repeated key once", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "DEL a a", n(1), nil},
	}},
	{"DEL of an expired key counts nothing and removes it", []step{
		{1000, "SET a 1 PX 10", ok, nil},
		{1010, "DBSIZE", n(1), nil},
		{1010, "DEL a", n(0), nil},
		{1010, "DBSIZE", n(0), nil},
	}},
	{"UNLINK is DEL", []step{
		{1000, "SET a 1 EX 10", ok, nil},
		{1000, "SET b 1", ok, nil},
		{1000, "UNLINK a b c", n(2), nil},
		{1000, "DBSIZE", n(0), nil},
	}},
	{"EXISTS counts repeats", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "EXISTS a", n(1), nil},
		{1000, "EXISTS a a a", n(3), nil},
		{1000, "EXISTS a h missing a", n(3), nil},
		{1000, "EXISTS missing", n(0), nil},
	}},
	{"EXISTS does not see expired keys", []step{
		{1000, "SET a 1 PX 10", ok, nil},
		{1009, "EXISTS a", n(1), nil},
		{1010, "EXISTS a", n(0), nil},
	}},
}

func TestDelExists(t *testing.T) { runScenarios(t, delCases) }

func expireErrCases() []scenario {
	var cases []scenario
	for _, cmd := range []string{"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"} {
		lc := strings.ToLower(cmd)
		errTime := "ERR invalid expire time in '" + lc + "' command"
		for _, c := range []struct {
			args, want string
		}{
			{"k 10 NX XX", "ERR NX and XX, GT or LT options at the same time are not compatible"},
			{"k 10 NX GT", "ERR NX and XX, GT or LT options at the same time are not compatible"},
			{"k 10 LT NX", "ERR NX and XX, GT or LT options at the same time are not compatible"},
			{"k 10 GT LT", "ERR GT and LT options at the same time are not compatible"},
			{"k 10 lt gt xx", "ERR GT and LT options at the same time are not compatible"},
			{"k 10 FOO", "ERR Unsupported option FOO"},
			{"k 10 NX foo", "ERR Unsupported option foo"},
			// Options are checked before the number.
			{"k abc FOO", "ERR Unsupported option FOO"},
			{"k abc NX XX", "ERR NX and XX, GT or LT options at the same time are not compatible"},
			{"k abc", errNotInt},
			{"k 1.5", errNotInt},
			{"k -0", errNotInt},
			{"k 9223372036854775808", errNotInt},
			{"missing abc", errNotInt},
		} {
			cases = append(cases, scenario{cmd + " " + c.args, []step{
				{1000, "SET k v EX 100", ok, nil},
				{1000, cmd + " " + c.args, rerr(c.want), nil},
				{1000, "PTTL k", n(100000), nil},
			}})
		}
		// Overflow: seconds that overflow in milliseconds, and relative
		// times that overflow once the command's time is added.
		over := []string{"9223372036854775807", "-9223372036854775807", "9223372036854776", "-9223372036854776"}
		if cmd == "PEXPIRE" {
			over = []string{"9223372036854775807", "9223372036854774808"}
		}
		if cmd == "EXPIRE" {
			over = append(over, "9223372036854775")
		}
		if cmd == "PEXPIREAT" {
			over = nil
		}
		for _, v := range over {
			cases = append(cases, scenario{cmd + " overflow " + v, []step{
				{1000, "SET k v", ok, nil},
				{1000, cmd + " k " + v, rerr(errTime), nil},
				{1000, cmd + " missing " + v, rerr(errTime), nil},
				{1000, "TTL k", n(-1), nil},
			}})
		}
	}
	return cases
}

func TestExpireErrors(t *testing.T) { runScenarios(t, expireErrCases()) }

var expireCases = []scenario{
	{"EXPIRE", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIRE k 10", n(1), nil},
		{1000, "PTTL k", n(10000), nil},
		{1000, "TTL k", n(10), nil},
		{10999, "GET k", bulk("v"), nil},
		{11000, "GET k", null, nil},
	}},
	{"PEXPIRE", []step{
		{1000, "SET k v", ok, nil},
		{1000, "PEXPIRE k 1500", n(1), nil},
		{1000, "PTTL k", n(1500), nil},
		{2499, "EXISTS k", n(1), nil},
		{2500, "EXISTS k", n(0), nil},
	}},
	{"EXPIREAT", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIREAT k 20", n(1), nil},
		{1000, "PTTL k", n(19000), nil},
		{19999, "EXISTS k", n(1), nil},
		{20000, "EXISTS k", n(0), nil},
	}},
	{"PEXPIREAT", []step{
		{1000, "SET k v", ok, nil},
		{1000, "PEXPIREAT k 1777", n(1), nil},
		{1000, "PTTL k", n(777), nil},
		{1776, "EXISTS k", n(1), nil},
		{1777, "EXISTS k", n(0), nil},
	}},
	{"PEXPIREAT at the largest time", []step{
		{1000, "SET k v", ok, nil},
		{1000, "PEXPIREAT k 9223372036854775807", n(1), nil},
		{1000, "PTTL k", n(9223372036854775807 - 1000), nil},
	}},
	{"EXPIRE on a missing key", []step{
		{1000, "EXPIRE k 10", n(0), nil},
		{1000, "PEXPIRE k 10", n(0), nil},
		{1000, "EXPIREAT k 10", n(0), nil},
		{1000, "PEXPIREAT k 10", n(0), nil},
		{1000, "EXPIRE k -10", n(0), nil},
		{1000, "DBSIZE", n(0), nil},
	}},
	{"EXPIRE on an expired key", []step{
		{1000, "SET k v PX 10", ok, nil},
		{1010, "EXPIRE k 10", n(0), nil},
		{1010, "DBSIZE", n(0), nil},
	}},
	{"EXPIRE on a hash", []step{
		{1000, "HSET h f v", n(1), nil},
		{1000, "EXPIRE h 10", n(1), nil},
		{10999, "HGET h f", bulk("v"), nil},
		{11000, "HGET h f", null, nil},
		{11000, "HGETALL h", hmap(), nil},
	}},
	{"EXPIRE 0 deletes", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIRE k 0", n(1), nil},
		{1000, "EXISTS k", n(0), nil},
		{1000, "DBSIZE", n(0), nil},
	}},
	{"negative EXPIRE deletes", []step{
		{1000, "SET k v EX 10", ok, nil},
		{1000, "EXPIRE k -5", n(1), nil},
		{1000, "EXISTS k", n(0), nil},
		{1000, "DBSIZE", n(0), nil},
	}},
	{"negative PEXPIRE deletes", []step{
		{1000, "HSET h f v", n(1), nil},
		{1000, "PEXPIRE h -9223372036854775808", n(1), nil},
		{1000, "EXISTS h", n(0), nil},
	}},
	{"EXPIREAT in the past deletes", []step{
		{5000, "SET k v", ok, nil},
		{5000, "EXPIREAT k 4", n(1), nil},
		{5000, "EXISTS k", n(0), nil},
	}},
	{"PEXPIREAT at exactly now deletes", []step{
		{5000, "SET k v", ok, nil},
		{5000, "PEXPIREAT k 5000", n(1), nil},
		{5000, "EXISTS k", n(0), nil},
	}},
	{"PEXPIREAT one ms ahead keeps", []step{
		{5000, "SET k v", ok, nil},
		{5000, "PEXPIREAT k 5001", n(1), nil},
		{5000, "PTTL k", n(1), nil},
	}},
	{"EXPIREAT negative deletes", []step{
		{5000, "SET k v", ok, nil},
		{5000, "EXPIREAT k -9223372036854775", n(1), nil},
		{5000, "EXISTS k", n(0), nil},
	}},
	{"lower-case options", []step{
		{1000, "SET k v", ok, nil},
		{1000, "expire k 10 nx", n(1), nil},
		{1000, "pexpire k 20000 gt", n(1), nil},
		{1000, "pexpireat k 2000 Lt", n(1), nil},
		{1000, "PTTL k", n(1000), nil},
	}},
	{"NX", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIRE k 10 NX", n(1), nil},
		{1000, "EXPIRE k 20 NX", n(0), nil},
		{1000, "EXPIRE k 20 NX NX", n(0), nil},
		{1000, "TTL k", n(10), nil},
		{1000, "EXPIRE k -1 NX", n(0), nil},
		{1000, "EXISTS k", n(1), nil},
	}},
	{"XX", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIRE k 10 XX", n(0), nil},
		{1000, "TTL k", n(-1), nil},
		{1000, "EXPIRE k 10", n(1), nil},
		{1000, "EXPIRE k 20 XX", n(1), nil},
		{1000, "TTL k", n(20), nil},
	}},
	{"GT", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIRE k 100 GT", n(0), nil}, // no TTL is an infinite TTL
		{1000, "TTL k", n(-1), nil},
		{1000, "EXPIRE k 100", n(1), nil},
		{1000, "EXPIRE k 50 GT", n(0), nil},
		{1000, "EXPIRE k 100 GT", n(0), nil}, // equal is not greater
		{1000, "EXPIRE k 200 GT", n(1), nil},
		{1000, "TTL k", n(200), nil},
		{1000, "PEXPIREAT k 201001 GT", n(1), nil},
		{1000, "PTTL k", n(200001), nil},
	}},
	{"LT", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIRE k 100 LT", n(1), nil}, // less than infinite
		{1000, "EXPIRE k 300 LT", n(0), nil},
		{1000, "EXPIRE k 100 LT", n(0), nil}, // equal is not less
		{1000, "EXPIRE k 50 LT", n(1), nil},
		{1000, "TTL k", n(50), nil},
		{1000, "EXPIRE k -1 LT", n(1), nil},
		{1000, "EXISTS k", n(0), nil},
	}},
	{"XX GT", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIRE k 100 XX GT", n(0), nil},
		{1000, "EXPIRE k 100", n(1), nil},
		{1000, "EXPIRE k 200 XX GT", n(1), nil},
		{1000, "EXPIRE k 100 GT XX", n(0), nil},
		{1000, "TTL k", n(200), nil},
	}},
	{"XX LT", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIRE k 100 XX LT", n(0), nil},
		{1000, "TTL k", n(-1), nil},
		{1000, "EXPIRE k 100", n(1), nil},
		{1000, "EXPIRE k 50 LT XX", n(1), nil},
		{1000, "TTL k", n(50), nil},
	}},
	{"a negative time with GT on a key without TTL fails", []step{
		{1000, "SET k v", ok, nil},
		{1000, "EXPIRE k -1 GT", n(0), nil},
		{1000, "EXISTS k", n(1), nil},
	}},
	{"EXPIRE replaces the TTL set by SET", []step{
		{1000, "SET k v EX 100", ok, nil},
		{2000, "EXPIRE k 10", n(1), nil},
		{2000, "PTTL k", n(10000), nil},
	}},
	{"the relative forms use the command's time", []step{
		{1000, "SET k v", ok, nil},
		{7000, "PEXPIRE k 500", n(1), nil},
		{7499, "EXISTS k", n(1), nil},
		{7500, "EXISTS k", n(0), nil},
	}},
}

func TestExpire(t *testing.T) { runScenarios(t, expireCases) }

var ttlCases = []scenario{
	{"missing key", []step{
		{1000, "TTL k", n(-2), nil},
		{1000, "PTTL k", n(-2), nil},
	}},
	{"no TTL", []step{
		{1000, "SET k v", ok, nil},
		{1000, "TTL k", n(-1), nil},
		{1000, "PTTL k", n(-1), nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "TTL h", n(-1), nil},
	}},
	{"rounding", []step{
		{1000, "SET k v PX 10000", ok, nil},
		{1000, "TTL k", n(10), nil},
		{1000, "PTTL k", n(10000), nil},
		{1001, "TTL k", n(10), nil},
		{1001, "PTTL k", n(9999), nil},
		{6499, "TTL k", n(5), nil}, // 4501 ms left rounds to 5
		{6500, "TTL k", n(5), nil}, // 4500 ms left rounds half up to 5
		{6501, "TTL k", n(4), nil}, // 4499 ms left rounds to 4
		{10499, "TTL k", n(1), nil},
		{10500, "TTL k", n(1), nil},
		{10501, "TTL k", n(0), nil},
		{10999, "TTL k", n(0), nil},
		{10999, "PTTL k", n(1), nil},
		{11000, "TTL k", n(-2), nil},
		{11000, "PTTL k", n(-2), nil},
	}},
	{"TTL on an expired key is -2 but the key still counts until removed", []step{
		{1000, "SET k v PX 1", ok, nil},
		{1001, "TTL k", n(-2), nil},
		{1001, "DBSIZE", n(1), nil},
	}},
}

func TestTTL(t *testing.T) { runScenarios(t, ttlCases) }

var persistCases = []scenario{
	{"PERSIST removes the TTL", []step{
		{1000, "SET k v EX 10", ok, nil},
		{1000, "PERSIST k", n(1), nil},
		{1000, "TTL k", n(-1), nil},
		{20000, "GET k", bulk("v"), nil},
		{20000, "PERSIST k", n(0), nil},
	}},
	{"PERSIST on a key without TTL", []step{
		{1000, "SET k v", ok, nil},
		{1000, "PERSIST k", n(0), nil},
	}},
	{"PERSIST on a missing key", []step{
		{1000, "PERSIST k", n(0), nil},
	}},
	{"PERSIST on an expired key", []step{
		{1000, "SET k v PX 10", ok, nil},
		{1010, "PERSIST k", n(0), nil},
		{1010, "DBSIZE", n(0), nil},
	}},
	{"PERSIST on a hash", []step{
		{1000, "HSET h f v", n(1), nil},
		{1000, "EXPIRE h 10", n(1), nil},
		{1000, "PERSIST h", n(1), nil},
		{20000, "HGET h f", bulk("v"), nil},
	}},
}

func TestPersist(t *testing.T) { runScenarios(t, persistCases) }

var dbsizeFlushCases = []scenario{
	{"DBSIZE counts strings, hashes and expired keys not yet removed", []step{
		{1000, "DBSIZE", n(0), nil},
		{1000, "SET a 1", ok, nil},
		{1000, "SET b 1 PX 10", ok, nil},
		{1000, "HSET h f v g w", n(2), nil},
		{1000, "DBSIZE", n(3), nil},
		{5000, "DBSIZE", n(3), nil},
		{5000, "GET b", null, nil}, // a read never removes
		{5000, "DBSIZE", n(3), nil},
		{5000, "SET b 2 NX", ok, nil},
		{5000, "DBSIZE", n(3), nil},
	}},
	{"FLUSHALL", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "SET b 1 EX 10", ok, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "FLUSHALL", ok, nil},
		{1000, "DBSIZE", n(0), nil},
		{1000, "EXISTS a b h", n(0), nil},
		{1000, "SET a 2", ok, nil},
		{1000, "GET a", bulk("2"), nil},
	}},
	{"FLUSHALL SYNC and ASYNC", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "FLUSHALL SYNC", ok, nil},
		{1000, "DBSIZE", n(0), nil},
		{1000, "SET a 1", ok, nil},
		{1000, "flushall async", ok, nil},
		{1000, "DBSIZE", n(0), nil},
	}},
	{"FLUSHDB", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "FLUSHDB", ok, nil},
		{1000, "DBSIZE", n(0), nil},
		{1000, "SET a 1", ok, nil},
		{1000, "FLUSHDB ASYNC", ok, nil},
		{1000, "SET a 1", ok, nil},
		{1000, "FLUSHDB Sync", ok, nil},
		{1000, "DBSIZE", n(0), nil},
	}},
	{"FLUSHALL and FLUSHDB syntax errors change nothing", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "FLUSHALL FOO", rerr(errSyntax), nil},
		{1000, "FLUSHALL SYNC ASYNC", rerr(errSyntax), nil},
		{1000, "FLUSHALL ASYNC ASYNC", rerr(errSyntax), nil},
		{1000, "FLUSHDB FOO", rerr(errSyntax), nil},
		{1000, "FLUSHDB 0", rerr(errSyntax), nil},
		{1000, "DBSIZE", n(1), nil},
	}},
}

func TestDBSizeFlush(t *testing.T) { runScenarios(t, dbsizeFlushCases) }

var dropExpiredCases = []scenario{
	{"removes only keys expired at its time", []step{
		{1000, "SET a 1 PX 10", ok, nil},
		{1000, "SET b 1 PX 20", ok, nil},
		{1000, "SET c 1", ok, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "PEXPIRE h 5", n(1), nil},
		{1010, CmdDropExpired + " a b c h missing", n(2), nil},
		{1010, "DBSIZE", n(2), nil},
		{1010, "EXISTS b c", n(2), nil},
		{1010, "PTTL b", n(10), nil},
		{1020, CmdDropExpired + " a b", n(1), nil},
		{1020, "DBSIZE", n(1), nil},
	}},
	{"a key rewritten since it was listed survives", []step{
		{1000, "SET a 1 PX 10", ok, nil},
		{1010, "SET a 2", ok, nil},
		{1010, CmdDropExpired + " a", n(0), nil},
		{1010, "GET a", bulk("2"), nil},
	}},
	{"names are case-insensitive", []step{
		{1000, "SET a 1 PX 10", ok, nil},
		{1010, strings.ToUpper(CmdDropExpired) + " a", n(1), nil},
	}},
}

func TestDropExpired(t *testing.T) { runScenarios(t, dropExpiredCases) }

func TestExpiredKeys(t *testing.T) {
	s := New()
	if keys, next := s.ExpiredKeys(1000, 7, 10); keys != nil || next != 7 {
		t.Fatalf("empty store: got %q, %d", keys, next)
	}
	var cmds [][][]byte
	for i := range 50 {
		cmds = append(cmds, argv("SET", fmt.Sprintf("e%d", i), "v", "PXAT", fmt.Sprint(2000+i)))
		cmds = append(cmds, argv("SET", fmt.Sprintf("p%d", i), "v"))
		cmds = append(cmds, argv("SET", fmt.Sprintf("f%d", i), "v", "PXAT", "100000"))
	}
	mustApply(t, s, 1000, cmds...)

	if keys, _ := s.ExpiredKeys(1999, 0, 100); len(keys) != 0 {
		t.Fatalf("nothing expired at 1999, got %q", keys)
	}
	// At 2010, e0..e10 have expired.
	want := []string{}
	for i := range 11 {
		want = append(want, fmt.Sprintf("e%d", i))
	}
	keys, next := s.ExpiredKeys(2010, 0, 100)
	if got := sortedStrings(keys); !slices.Equal(got, sortedStrings(argv(want...))) {
		t.Fatalf("at 2010: got %q, want %q", got, want)
	}
	if next != 0 {
		t.Fatalf("a full sweep should return to its start, got %d", next)
	}

	// Sweeping in batches of 3 from any start finds every expired key
	// within one pass of the slots, and the batches respect the limit.
	seen := map[string]bool{}
	from := 5000
	for range 100 {
		var keys [][]byte
		keys, from = s.ExpiredKeys(100000, from, 3)
		if len(keys) > 3 {
			t.Fatalf("batch of %d keys, limit 3", len(keys))
		}
		for _, k := range keys {
			if !strings.HasPrefix(string(k), "e") && !strings.HasPrefix(string(k), "f") {
				t.Fatalf("%q is not expired", k)
			}
			seen[string(k)] = true
		}
		// Remove them through the log, as the shard leader does.
		args := append(argv(CmdDropExpired), keys...)
		if r := s.Apply(100000, [][][]byte{args}, nil)[0]; r.Int != int64(len(keys)) {
			t.Fatalf("dropped %d of %d", r.Int, len(keys))
		}
		checkCounts(t, s)
	}
	if len(seen) != 100 {
		t.Fatalf("saw %d expired keys, want 100", len(seen))
	}
	if got := s.Stats(); got != (Stats{Keys: 50, Expires: 0}) {
		t.Fatalf("stats %+v", got)
	}
	if keys, next := s.ExpiredKeys(200000, 42, 3); keys != nil || next != 42 {
		t.Fatalf("no TTLs left: got %q, %d", keys, next)
	}
}

func sortedStrings(b [][]byte) []string {
	out := make([]string, len(b))
	for i, k := range b {
		out[i] = string(k)
	}
	slices.Sort(out)
	return out
}

func TestStats(t *testing.T) {
	s := New()
	mustApply(t, s, 1000,
		argv("SET", "a", "1", "EX", "10"),
		argv("SET", "b", "1"),
		argv("HSET", "h", "f", "v"),
		argv("EXPIRE", "h", "5"),
		argv("SET", "c", "1", "PX", "1"),
	)
	if got := s.Stats(); got != (Stats{Keys: 4, Expires: 3}) {
		t.Fatalf("stats %+v", got)
	}
	mustApply(t, s, 2000, argv("PERSIST", "a"), argv("DEL", "b"))
	// c expired at 1001 and is still counted, as Redis counts it.
	if got := s.Stats(); got != (Stats{Keys: 3, Expires: 2}) {
		t.Fatalf("stats %+v", got)
	}
	checkCounts(t, s)
}

func TestApplyTimeNeverRunsBackwards(t *testing.T) {
	s := New()
	mustApply(t, s, 5000, argv("SET", "a", "1"))
	// A batch stamped earlier runs at the latest applied time: the PX is
	// measured from 5000, not 1000.
	mustApply(t, s, 1000, argv("SET", "b", "1", "PX", "100"))
	if got := s.LastNow(); got != 5000 {
		t.Fatalf("LastNow %d, want 5000", got)
	}
	if r := s.Read(5000, argv("PTTL", "b")); !replyEqual(r, n(100)) {
		t.Fatalf("PTTL b: %s", fmtReply(r))
	}
	mustApply(t, s, 6000, argv("SET", "c", "1"))
	if got := s.LastNow(); got != 6000 {
		t.Fatalf("LastNow %d, want 6000", got)
	}
}

func TestApplyBatch(t *testing.T) {
	s := New()
	replies := make([]resp.Reply, 0, 8)
	replies = s.Apply(1000, [][][]byte{
		argv("SET", "a", "1"),
		argv("INCR", "a"),
		argv("HSET", "a", "f", "v"),
		argv("GET", "a"),
		argv("NOSUCH", "x"),
	}, replies)
	want := []resp.Reply{ok, n(2), rerr(errWrongType), bulk("2"),
		rerr("ERR unknown command 'NOSUCH', with args beginning with: 'x' ")}
	if len(replies) != len(want) {
		t.Fatalf("%d replies, want %d", len(replies), len(want))
	}
	for i := range want {
		if !replyEqual(replies[i], want[i]) {
			t.Errorf("reply %d: got %s, want %s", i, fmtReply(replies[i]), fmtReply(want[i]))
		}
	}
	// Replies are appended to what the caller passed.
	replies = s.Apply(1000, [][][]byte{argv("GET", "a")}, replies)
	if len(replies) != 6 || !replyEqual(replies[5], bulk("2")) {
		t.Fatalf("append: %d replies", len(replies))
	}
}

func TestApplyCopiesArguments(t *testing.T) {
	s := New()
	args := argv("SET", "key", "value")
	mustApply(t, s, 1000, args)
	hargs := argv("HSET", "h", "field", "hvalue")
	mustApply(t, s, 1000, hargs)
	for _, a := range [][][]byte{args, hargs} {
		for _, b := range a {
			for i := range b {
				b[i] = 'X'
			}
		}
	}
	if r := s.Read(1000, argv("GET", "key")); !replyEqual(r, bulk("value")) {
		t.Fatalf("GET after the caller reused its buffer: %s", fmtReply(r))
	}
	if r := s.Read(1000, argv("HGETALL", "h")); !replyEqual(r, hmap("field", "hvalue")) {
		t.Fatalf("HGETALL after the caller reused its buffer: %s", fmtReply(r))
	}
}

func TestReadRefusesWrites(t *testing.T) {
	s := New()
	for _, name := range []string{"SET", "del", "HSET", "FlushAll", "expire", CmdDropExpired} {
		r := s.Read(1000, argv(name, "k", "v", "w"))
		want := "ERR write command " + strings.ToLower(name) + " sent to the read path"
		if !replyEqual(r, rerr(want)) {
			t.Errorf("%s: got %s", name, fmtReply(r))
		}
	}
	r := s.Read(1000, argv("nosuch", "a", "b"))
	if !replyEqual(r, rerr("ERR unknown command 'nosuch', with args beginning with: 'a' 'b' ")) {
		t.Errorf("unknown: got %s", fmtReply(r))
	}
}

// TestHandlers checks the store's handlers against the command table:
// which commands the store runs, and whether each writes (which the store
// takes from the table, and its internal commands declare).
func TestHandlers(t *testing.T) {
	for _, c := range []struct {
		name             string
		supported, write bool
	}{
		{"get", true, false}, {"GET", true, false}, {"set", true, true}, {"SeT", true, true},
		{"incr", true, true}, {"decr", true, true}, {"incrby", true, true}, {"decrby", true, true},
		{"del", true, true}, {"unlink", true, true}, {"exists", true, false},
		{"expire", true, true}, {"pexpire", true, true}, {"expireat", true, true}, {"pexpireat", true, true},
		{"ttl", true, false}, {"pttl", true, false}, {"persist", true, true},
		{"hset", true, true}, {"hmset", true, true}, {"hget", true, false}, {"hdel", true, true},
		{"hgetall", true, false}, {"dbsize", true, false}, {"flushall", true, true}, {"flushdb", true, true},
		{CmdDropExpired, true, true}, {CmdEvict, true, true}, {CmdTouch, true, true},
		{"setnx", true, true}, {"setex", true, true}, {"psetex", true, true}, {"getset", true, true},
		{"getdel", true, true}, {"getex", true, true}, {"mget", true, false}, {"mset", true, true},
		{"msetnx", true, true}, {"append", true, true}, {"strlen", true, false}, {"getrange", true, false},
		{"substr", true, false}, {"setrange", true, true}, {"incrbyfloat", true, true}, {"lcs", true, false},
		{"hsetnx", true, true}, {"hmget", true, false}, {"hexists", true, false}, {"hlen", true, false},
		{"hkeys", true, false}, {"hvals", true, false}, {"hstrlen", true, false}, {"hincrby", true, true},
		{"hincrbyfloat", true, true}, {"hrandfield", true, false}, {"hscan", true, false},
		{"expiretime", true, false}, {"pexpiretime", true, false}, {"type", true, false}, {"touch", true, false},
		{"keys", true, false}, {"scan", true, false}, {"randomkey", true, false}, {"rename", true, true},
		{"renamenx", true, true}, {"copy", true, true}, {"object", true, false}, {"memory", true, false},
		{CmdScan, true, false}, {CmdVersion, true, false}, {CmdTx, true, true},
		{"ping", false, false}, {"multi", false, false}, {"client", false, false},
		{"", false, false}, {strings.Repeat("x", 40), false, false}, {"raftcache.nosuch", false, false},
	} {
		h, supported := lookupHandler([]byte(c.name))
		if supported != c.supported || h.write != c.write {
			t.Errorf("handler of %q: runs %v, writes %v; want %v, %v", c.name, supported, h.write, c.supported, c.write)
		}
		if cmd := resp.Lookup([]byte(c.name)); cmd != nil && Runs(cmd) != c.supported {
			t.Errorf("Runs(%s) = %v, want %v", cmd.Name, Runs(cmd), c.supported)
		}
	}
	for _, cmd := range resp.Commands() {
		if Runs(cmd) && handlers[cmd.ID].write != cmd.IsWrite() {
			t.Errorf("%s: the store's write flag %v differs from the table's", cmd.Name, handlers[cmd.ID].write)
		}
	}
}

// TestRenameOntoExpiredKeysOfTheSameSlot: RENAME's look at an expired
// destination removes it, which shifts entries of the slot's table; the
// source must be found again, not removed at its old position. Many keys
// in one slot make such shifts certain.
func TestRenameOntoExpiredKeysOfTheSameSlot(t *testing.T) {
	for run := range 20 { // each store hashes with a seed of its own
		cmd := []string{"RENAME", "RENAMENX"}[run%2]
		s := New()
		var cmds [][][]byte
		for i := range 200 {
			cmds = append(cmds, argv("SET", fmt.Sprintf("{t}k%d", i), fmt.Sprint("v", i)))
			if i%2 == 1 {
				cmds = append(cmds, argv("PEXPIRE", fmt.Sprintf("{t}k%d", i), "10"))
			}
		}
		mustApply(t, s, 1000, cmds...)
		cmds = cmds[:0]
		for i := 0; i < 200; i += 2 {
			cmds = append(cmds, argv(cmd, fmt.Sprintf("{t}k%d", i), fmt.Sprintf("{t}k%d", i+1)))
		}
		mustApply(t, s, 2000, cmds...)
		checkCounts(t, s)
		got := dump(s)
		for i := range 200 {
			v, ok := got.Keys[fmt.Sprintf("{t}k%d", i)]
			if i%2 == 0 && ok {
				t.Fatalf("%s: {t}k%d is still there: %+v", cmd, i, v)
			}
			if i%2 == 1 && (v.Str != fmt.Sprint("v", i-1) || v.ExpireAt != 0) {
				t.Fatalf("%s: {t}k%d = %+v, want v%d", cmd, i, v, i-1)
			}
		}
	}
}
