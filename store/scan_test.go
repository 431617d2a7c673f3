package store

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

const errCursor = "ERR invalid cursor"

// scanReplayCases are the SCAN cases whose replies Redis shares: the
// errors, and calls that return the whole (small) keyspace with cursor 0.
var scanReplayCases = []scenario{
	{"SCAN small keyspace", []step{
		{1000, "MSET a 1 b 2 c 3", ok, nil},
		{1000, "HSET h f v", n(1), nil},
		{1000, "SCAN 0", scanR("0", "a", "b", "c", "h"), nil},
		{1000, "", scanR("0", "a", "b", "c", "h"), []string{"SCAN", ""}},
		{1000, "SCAN -0", scanR("0", "a", "b", "c", "h"), nil},
		{1000, "SCAN 0 COUNT 9223372036854775807", scanR("0", "a", "b", "c", "h"), nil},
		{1000, "SCAN 0 TYPE string", scanR("0", "a", "b", "c"), nil},
		{1000, "SCAN 0 type STRING", scanR("0", "a", "b", "c"), nil},
		{1000, "SCAN 0 TYPE hash", scanR("0", "h"), nil},
		{1000, "SCAN 0 TYPE list", scanR("0"), nil},
		{1000, "SCAN 0 TYPE nosuch", scanR("0"), nil},
		{1000, "SCAN 0 MATCH a*", scanR("0", "a"), nil},
		{1000, "SCAN 0 MATCH a* MATCH [bc]", scanR("0", "b", "c"), nil},
		{1000, "SCAN 0 MATCH * TYPE hash COUNT 100", scanR("0", "h"), nil},
	}},
	{"SCAN errors", []step{
		{1000, "SET a 1", ok, nil},
		{1000, "", rerr(errCursor), []string{"SCAN", " 1"}},
		{1000, "SCAN 1x", rerr(errCursor), nil},
		{1000, "SCAN 0x10", rerr(errCursor), nil},
		{1000, "SCAN -", rerr(errCursor), nil},
		{1000, "SCAN +", rerr(errCursor), nil},
		{1000, "SCAN 18446744073709551616", rerr(errCursor), nil},
		{1000, "SCAN -18446744073709551616", rerr(errCursor), nil},
		{1000, "SCAN 0 COUNT 0", rerr(errSyntax), nil},
		{1000, "SCAN 0 COUNT -1", rerr(errSyntax), nil},
		{1000, "SCAN 0 COUNT abc", rerr(errNotInt), nil},
		{1000, "SCAN 0 COUNT 9223372036854775808", rerr(errNotInt), nil},
		{1000, "SCAN 0 FOO", rerr(errSyntax), nil},
		{1000, "SCAN 0 FOO bar", rerr(errSyntax), nil},
		{1000, "SCAN 0 MATCH", rerr(errSyntax), nil},
		{1000, "SCAN 0 TYPE", rerr(errSyntax), nil},
		{1000, "SCAN 0 COUNT 1 TYPE", rerr(errSyntax), nil},
		{1000, "SCAN 0 COUNT abc FOO", rerr(errNotInt), nil},
		{1000, "SCAN 0 FOO COUNT abc", rerr(errSyntax), nil},
		{1000, "SCAN x FOO", rerr(errCursor), nil},
	}},
}

func TestScanReplayable(t *testing.T) { runScenarios(t, scanReplayCases) }

// Keys in known slots: slotOf("a") is 15495, slotOf("b") 3300, "c" 7365;
// "{a}x" shares a's slot.
var scanSlotCases = []scenario{
	{"SCAN returns whole slots and the next slot", []step{
		{1000, "MSET a 1 b 2 c 3 {a}x 4", ok, nil},
		{1000, "SCAN 0 COUNT 1", scanR("3301", "b"), nil},
		{1000, "SCAN 3301 COUNT 1", scanR("7366", "c"), nil},
		{1000, "SCAN 7366 COUNT 1", scanR("15496", "a", "{a}x"), nil},
		{1000, "SCAN 15496 COUNT 1", scanR("0"), nil},
		{1000, "SCAN 3300 COUNT 2", scanR("7366", "b", "c"), nil},
		{1000, "SCAN 3300 COUNT 3", scanR("15496", "b", "c", "a", "{a}x"), nil},
		{1000, "SCAN 15495", scanR("0", "a", "{a}x"), nil},
		{1000, "SCAN 15496", scanR("0"), nil},
		{1000, "SCAN 16383", scanR("0"), nil},
		{1000, "SCAN 16384", scanR("0"), nil},
		{1000, "SCAN -1", scanR("0"), nil},
		{1000, "SCAN 18446744073709551615 COUNT 5", scanR("0"), nil},
		// COUNT counts the keys visited, not those MATCH or TYPE keep.
		{1000, "SCAN 0 COUNT 1 MATCH a", scanR("3301"), nil},
		{1000, "SCAN 0 COUNT 3 MATCH a", scanR("15496", "a"), nil},
	}},
	{"SCAN skips expired keys but counts them as visited", []step{
		{1000, "SET b 1 PX 10", ok, nil},
		{1000, "SET c 1", ok, nil},
		{1010, "SCAN 0 COUNT 1", scanR("3301"), nil},
		{1010, "SCAN 3301 COUNT 1", scanR("7366", "c"), nil},
	}},
	{CmdScan, []step{
		{1000, "MSET a 1 b 2 c 3 {a}x 4", ok, nil},
		{1000, CmdScan + " 0 8191", scanR("8192", "b", "c"), nil},
		{1000, CmdScan + " 0 8191 COUNT 1", scanR("3301", "b"), nil},
		{1000, CmdScan + " 3301 8191 COUNT 1", scanR("7366", "c"), nil},
		{1000, CmdScan + " 7366 8191 COUNT 1", scanR("8192"), nil},
		{1000, CmdScan + " 8192 16383", scanR("0", "a", "{a}x"), nil},
		{1000, CmdScan + " 8192 16383 MATCH {a}* TYPE string", scanR("0", "{a}x"), nil},
		{1000, CmdScan + " 8192 16383 TYPE hash", scanR("0"), nil},
		{1000, CmdScan + " 3300 3300", scanR("3301", "b"), nil},
		{1000, CmdScan + " 16383 16383", scanR("0"), nil},
		{1000, CmdScan + " 16384 100", scanR("0"), nil},
		{1000, CmdScan + " 0 0", scanR("1"), nil},
		{1000, CmdScan + " x 100", rerr(errCursor), nil},
		{1000, CmdScan + " 200 100", rerr("ERR invalid arguments for internal command 'raftcache.scan'"), nil},
		{1000, CmdScan + " 0 16384", rerr("ERR invalid arguments for internal command 'raftcache.scan'"), nil},
		{1000, CmdScan + " 0 -1", rerr("ERR invalid arguments for internal command 'raftcache.scan'"), nil},
		{1000, CmdScan + " 0", rerr("ERR invalid arguments for internal command 'raftcache.scan'"), nil},
		{1000, CmdScan + " 0 100 COUNT 0", rerr(errSyntax), nil},
		{1000, CmdScan + " 0 100 FOO", rerr(errSyntax), nil},
	}},
}

func TestScanSlots(t *testing.T) {
	for _, k := range []string{"a", "b", "c", "{a}x"} {
		t.Logf("slot of %q: %d", k, slotOf(k))
	}
	runScenarios(t, scanSlotCases)
}

// TestScanFullIteration checks SCAN's guarantee while writes go on
// between calls: every key present from the start of an iteration to its
// end is returned exactly once, and nothing that never existed is
// returned.
func TestScanFullIteration(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 20 {
		s := New()
		var cmds [][][]byte
		for i := range 2000 {
			cmds = append(cmds, argv("SET", fmt.Sprintf("stable:%d", i), "v"))
			if i%4 == 0 {
				cmds = append(cmds, argv("SET", fmt.Sprintf("{t%d}:%d", i%50, i), "v")) // slots with many keys
			}
		}
		mustApply(t, s, 1000, cmds...)
		count := 1 + rng.IntN(300)
		seen := map[string]int{}
		cursor := "0"
		calls := 0
		for {
			r := s.Read(1000, argv("SCAN", cursor, "COUNT", strconv.Itoa(count)))
			for _, k := range r.Elems[1].Elems {
				seen[string(k.Str)]++
			}
			cursor = string(r.Elems[0].Str)
			calls++
			if cursor == "0" {
				break
			}
			// Writes between calls: new keys, deletions of churn keys,
			// overwrites of stable ones, a hash, an expiry.
			var w [][][]byte
			for j := range 20 {
				w = append(w, argv("SET", fmt.Sprintf("churn:%d:%d", calls, j), "v"))
				w = append(w, argv("DEL", fmt.Sprintf("churn:%d:%d", calls-1, j)))
				w = append(w, argv("SET", fmt.Sprintf("stable:%d", rng.IntN(2000)), "changed"))
			}
			w = append(w, argv("HSET", fmt.Sprintf("churnh:%d", calls), "f", "v"))
			w = append(w, argv("PEXPIRE", fmt.Sprintf("churn:%d:0", calls), "1"))
			mustApply(t, s, 1000, w...)
		}
		for i := range 2000 {
			if k := fmt.Sprintf("stable:%d", i); seen[k] != 1 {
				t.Fatalf("round %d (COUNT %d): %q returned %d times", round, count, k, seen[k])
			}
		}
		for k, times := range seen {
			if times != 1 {
				t.Fatalf("round %d: %q returned %d times", round, k, times)
			}
		}
		if count <= 10 && calls < 100 {
			t.Fatalf("round %d: COUNT %d took only %d calls", round, count, calls)
		}
	}
}

// TestScanHugeCount checks that COUNT does not size anything.
func TestScanHugeCount(t *testing.T) {
	s := New()
	mustApply(t, s, 1000, argv("SET", "a", "1"), argv("HSET", "h", "f", "v"))
	allocs := testing.AllocsPerRun(10, func() {
		s.Read(1000, argv("SCAN", "0", "COUNT", "9223372036854775807"))
		s.Read(1000, argv("HSCAN", "h", "0", "COUNT", "9223372036854775807"))
		s.Read(1000, argv(CmdScan, "0", "16383", "COUNT", "9223372036854775807"))
	})
	if allocs > 100 {
		t.Fatalf("%v allocations", allocs)
	}
}

func TestParseCursor(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"", 0, true}, {"123", 123, true}, {"+5", 5, true}, {"-0", 0, true},
		{"00012", 12, true}, {"-1", 1<<64 - 1, true}, {"18446744073709551615", 1<<64 - 1, true},
		{"-18446744073709551615", 1, true},
		{"18446744073709551616", 0, false}, {"-", 0, false}, {"+", 0, false}, {" 1", 0, false},
		{"1 ", 0, false}, {"0x1", 0, false}, {"--1", 0, false}, {"1.0", 0, false},
	} {
		got, ok := ParseCursor([]byte(c.in))
		if got != c.want || ok != c.ok {
			t.Errorf("ParseCursor(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestScanReplyShape checks the reply types: a bulk cursor and an array.
func TestScanReplyShape(t *testing.T) {
	s := New()
	r := s.Read(1000, argv("SCAN", "0"))
	if r.Kind != resp.KindArray || len(r.Elems) != 2 || r.Elems[0].Kind != resp.KindBulk || r.Elems[1].Kind != resp.KindArray {
		t.Fatalf("SCAN reply %s", fmtReply(r))
	}
	b := resp.AppendReply(nil, &r, resp.RESP3)
	if string(b) != "*2\r\n$1\r\n0\r\n*0\r\n" {
		t.Fatalf("RESP3 %q", b)
	}
}
