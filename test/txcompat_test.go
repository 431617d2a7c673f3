package test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftcache/raftcache/test/redisoracle"
)

// A txStep is one command of a scripted session, sent on one of the
// session's two connections (0 runs the transaction, 1 stands for another
// client). Its raw reply must equal redis-server's byte for byte, unless
// check is set: then both replies must satisfy check instead (a TTL that
// has run down a little). waitGone polls the step's key (args[1]) with
// EXISTS until it is gone, within a deadline, and records nothing.
type txStep struct {
	conn     int
	args     []string
	check    func(reply []byte) error
	waitGone bool
}

// txCase is a scripted session over the placeholders $a, $b, $c (three
// keys) and $m (a key no step creates).
type txCase struct {
	name  string
	steps []txStep
}

func on(conn int, args ...string) txStep { return txStep{conn: conn, args: args} }

func do(args ...string) txStep { return on(0, args...) }

// intNear is a step whose integer reply must lie in (lo, hi].
func intNear(lo, hi int64, args ...string) txStep {
	return txStep{args: args, check: func(r []byte) error {
		s := string(r)
		if !strings.HasPrefix(s, ":") || !strings.HasSuffix(s, "\r\n") {
			return fmt.Errorf("%q is not an integer reply", s)
		}
		n, err := strconv.ParseInt(s[1:len(s)-2], 10, 64)
		if err != nil || n <= lo || n > hi {
			return fmt.Errorf("%q, want an integer in (%d, %d]", s, lo, hi)
		}
		return nil
	}}
}

func waitGone(conn int, key string) txStep {
	return txStep{conn: conn, args: []string{"EXISTS", key}, waitGone: true}
}

// txCases are the sessions compared with Redis: transactions (MULTI,
// EXEC, DISCARD, WATCH) and the multi-key commands that must be atomic
// (RENAME, RENAMENX, COPY, MSETNX, MSET, LCS). Each runs once with its
// keys in one shard and once with them spread over three shards.
var txCases = []txCase{
	{"multi-exec", []txStep{
		do("MULTI"), do("SET", "$a", "1"), do("INCR", "$a"), do("SET", "$b", "x"), do("GET", "$b"),
		do("GET", "$a"), do("INCR", "$c"), do("GET", "$m"), do("EXEC"),
		do("GET", "$a"), do("GET", "$b"), do("GET", "$c"),
	}},
	{"watch-changed", []txStep{
		do("SET", "$a", "0"), do("WATCH", "$a", "$b"), do("GET", "$a"),
		on(1, "SET", "$b", "other"),
		do("MULTI"), do("SET", "$a", "1"), do("SET", "$c", "2"), do("EXEC"),
		do("GET", "$a"), do("GET", "$b"), do("GET", "$c"),
	}},
	{"watch-unchanged", []txStep{
		do("SET", "$a", "0"), do("WATCH", "$a", "$b"), do("GET", "$a"), do("GET", "$b"),
		on(1, "GET", "$a"), on(1, "SET", "$m", "unrelated"), on(1, "DEL", "$m"),
		do("MULTI"), do("INCR", "$a"), do("SET", "$b", "y"), do("SET", "$c", "z"), do("EXEC"),
		do("MGET", "$a", "$b", "$c"),
	}},
	{"watch-deleted", []txStep{
		do("SET", "$a", "1"), do("WATCH", "$a"),
		on(1, "DEL", "$a"),
		do("MULTI"), do("SET", "$b", "1"), do("SET", "$c", "1"), do("EXEC"),
		do("EXISTS", "$a", "$b", "$c"),
	}},
	{"watch-expired", []txStep{
		do("SET", "$a", "1", "PX", "400"), do("WATCH", "$a", "$c"),
		waitGone(1, "$a"),
		do("MULTI"), do("SET", "$b", "1"), do("SET", "$c", "1"), do("EXEC"),
		do("EXISTS", "$a", "$b", "$c"),
	}},
	{"watch-then-unwatch", []txStep{
		do("WATCH", "$a", "$b"), on(1, "SET", "$b", "1"), do("UNWATCH"),
		do("MULTI"), do("SET", "$a", "2"), do("INCR", "$b"), do("EXEC"),
		do("MGET", "$a", "$b"),
	}},
	{"exec-abort", []txStep{
		do("SET", "$c", "5"),
		do("MULTI"), do("SET", "$a", "1"), do("SET", "$b"), do("INCR", "$c"), do("NOSUCHCOMMAND", "$a"),
		do("EXEC"),
		do("EXISTS", "$a", "$b"), do("GET", "$c"), do("EXEC"),
	}},
	{"runtime-error", []txStep{
		do("SET", "$b", "notanumber"), do("HSET", "$c", "f", "v"),
		do("MULTI"), do("SET", "$a", "1"), do("INCR", "$b"), do("GET", "$c"), do("INCR", "$a"),
		do("HSET", "$b", "f", "x"), do("SET", "$c", "s"), do("EXEC"),
		do("MGET", "$a", "$b", "$c"),
	}},
	{"discard", []txStep{
		do("SET", "$a", "1"), do("WATCH", "$b"),
		do("MULTI"), do("SET", "$a", "2"), do("SET", "$b", "2"), do("DISCARD"),
		do("MGET", "$a", "$b"), do("EXEC"), do("DISCARD"),
		on(1, "SET", "$b", "3"),
		do("MULTI"), do("SET", "$c", "3"), do("EXEC"), // DISCARD unwatched $b
		do("MGET", "$a", "$b", "$c"),
	}},
	{"nesting", []txStep{
		do("MULTI"), do("WATCH", "$a"), do("MULTI"), do("SET", "$a", "1"), do("SET", "$b", "2"), do("EXEC"),
		do("MGET", "$a", "$b"),
		do("WATCH", "$a", "$b"), do("WATCH", "$c"), on(1, "SET", "$c", "3"),
		do("MULTI"), do("GET", "$a"), do("EXEC"),
	}},
	{"rename", []txStep{
		do("SET", "$a", "v", "EX", "100"),
		do("RENAME", "$a", "$b"), do("EXISTS", "$a"), do("GET", "$b"),
		intNear(90_000, 100_000, "PTTL", "$b"),
		do("RENAME", "$a", "$b"), do("RENAME", "$m", "$c"),
		do("SET", "$c", "old"),
		do("RENAME", "$b", "$c"), do("GET", "$c"), intNear(90_000, 100_000, "PTTL", "$c"),
		do("SET", "$a", "persistent"), do("RENAME", "$a", "$c"), do("PTTL", "$c"), do("GET", "$c"),
		do("HSET", "$a", "f", "1", "g", "2"), do("RENAME", "$a", "$b"),
		do("TYPE", "$b"), do("HGETALL", "$b"), do("EXISTS", "$a"),
		do("RENAME", "$a"),
	}},
	{"renamenx", []txStep{
		do("SET", "$a", "1"), do("SET", "$b", "2"),
		do("RENAMENX", "$a", "$b"), do("MGET", "$a", "$b"),
		do("RENAMENX", "$a", "$c"), do("MGET", "$a", "$b", "$c"),
		do("RENAMENX", "$m", "$a"),
	}},
	{"copy", []txStep{
		do("SET", "$a", "v", "EX", "100"),
		do("COPY", "$a", "$b"), do("GET", "$b"), intNear(90_000, 100_000, "PTTL", "$b"), do("GET", "$a"),
		do("SET", "$c", "old"),
		do("COPY", "$a", "$c"), do("GET", "$c"),
		do("COPY", "$a", "$c", "REPLACE"), do("GET", "$c"), intNear(90_000, 100_000, "PTTL", "$c"),
		do("COPY", "$m", "$b"), do("COPY", "$m", "$b", "REPLACE"), do("GET", "$b"),
		do("HSET", "$a", "f", "x"), do("DEL", "$a"), do("HSET", "$a", "f", "x", "g", "y"),
		do("COPY", "$a", "$b"), do("COPY", "$a", "$b", "REPLACE"), do("HGETALL", "$b"), do("TTL", "$b"),
		do("COPY", "$a", "$b", "BOGUS"),
	}},
	{"msetnx", []txStep{
		do("MSETNX", "$a", "1", "$b", "2"), do("MGET", "$a", "$b", "$c"),
		do("MSETNX", "$c", "3", "$a", "9"), do("MGET", "$a", "$b", "$c"),
		do("MSETNX", "$c", "3", "$m"),
	}},
	{"mset-mget", []txStep{
		do("MSET", "$a", "1", "$b", "2", "$c", "3"), do("MGET", "$a", "$b", "$c", "$m"),
		do("MSET", "$a", "x", "$b", "y", "$a", "z"), do("MGET", "$a", "$b", "$c"),
	}},
	{"lcs", []txStep{
		do("SET", "$a", "ohmytext"), do("SET", "$b", "mynewtext"),
		do("LCS", "$a", "$b"), do("LCS", "$a", "$b", "LEN"), do("LCS", "$a", "$b", "IDX"),
		do("LCS", "$a", "$b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
		do("LCS", "$a", "$m"), do("LCS", "$a", "$b", "LEN", "IDX"),
		do("HSET", "$c", "f", "v"), do("LCS", "$a", "$c"),
	}},
	{"multi-multikey", []txStep{
		do("SET", "$a", "v"),
		do("MULTI"), do("RENAME", "$a", "$b"), do("COPY", "$b", "$c"), do("MSETNX", "$a", "1", "$m", "2"),
		do("RENAMENX", "$c", "$b"), do("LCS", "$b", "$c"), do("EXEC"),
		do("MGET", "$a", "$b", "$c", "$m"),
	}},
}

// txPlacements names where a case's keys live: the shard of $a, $b, $c
// and $m.
var txPlacements = []struct {
	name   string
	shards [4]int
}{
	{"same-shard", [4]int{0, 0, 0, 0}},
	{"cross-shard", [4]int{0, 1, 2, 1}},
}

// txKeys maps a case's placeholders to keys, unique to the case and the
// placement, in the placement's shards (of a node with three).
func txKeys(layout *testCluster, prefix string, shards [4]int) map[string]string {
	out := map[string]string{}
	for i, ph := range []string{"$a", "$b", "$c", "$m"} {
		out[ph] = layout.keyInShard(shards[i], prefix+":"+ph[1:])
	}
	return out
}

// runTxCase runs steps on two fresh connections to addr and returns one
// reply per recorded step.
func runTxCase(t *testing.T, addr string, steps []txStep, keys map[string]string) [][]byte {
	t.Helper()
	var conns [2]*redisoracle.Conn
	for i := range conns {
		c, err := redisoracle.Dial(addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		defer c.Close()
		conns[i] = c
	}
	var out [][]byte
	for _, st := range steps {
		args := make([]string, len(st.args))
		for i, a := range st.args {
			if k, ok := keys[a]; ok {
				a = k
			}
			args[i] = a
		}
		if st.waitGone {
			waitFor(t, args[1]+" to expire on "+addr, 10*time.Second, func() bool {
				r, err := conns[st.conn].Do(args...)
				return err == nil && string(r) == ":0\r\n"
			})
			continue
		}
		r, err := conns[st.conn].Do(args...)
		if err != nil {
			t.Fatalf("%s: %v: %v", addr, args, err)
		}
		out = append(out, r)
	}
	return out
}

// TestTransactionsMatchRedis runs scripted transactions and atomic
// multi-key commands against redis-server, a one-node raftcache and a
// three-node cluster (three shards each) through plain connections, with
// the keys in one shard and spread over three, and compares every reply
// byte for byte, error texts included. A plain connection must see one
// keyspace: a transaction or command across shards runs atomically with
// Redis's semantics. A connection that routes by slot must still be
// refused with CROSSSLOT.
func TestTransactionsMatchRedis(t *testing.T) {
	redisAddr := redisoracle.Start(t)
	one := newCluster(t, 1, 3)
	three := newCluster(t, 3, 3)
	targets := []struct {
		name string
		addr string
	}{
		{"one-node", one.procs[0].addr()},
		{"three-nodes", three.procs[1].addr()},
	}
	for _, pl := range txPlacements {
		t.Run(pl.name, func(t *testing.T) {
			for _, tc := range txCases {
				t.Run(tc.name, func(t *testing.T) {
					keys := txKeys(one, "tx:"+pl.name+":"+tc.name, pl.shards)
					want := runTxCase(t, redisAddr, tc.steps, keys)
					for _, target := range targets {
						t.Run(target.name, func(t *testing.T) {
							got := runTxCase(t, target.addr, tc.steps, keys)
							compareTxReplies(t, tc.steps, keys, want, got)
						})
					}
				})
			}
		})
	}
	t.Run("cluster-aware-crossslot", func(t *testing.T) {
		keys := txKeys(one, "tx:aware", [4]int{0, 1, 2, 1})
		for _, target := range targets {
			for _, first := range [][]string{{"CLUSTER", "SLOTS"}, {"CLUSTER", "SHARDS"}, {"READONLY"}} {
				c, err := redisoracle.Dial(target.addr)
				if err != nil {
					t.Fatalf("dial %s: %v", target.addr, err)
				}
				if r, err := c.Do(first...); err != nil || strings.HasPrefix(string(r), "-") {
					t.Fatalf("%s %v: %q, %v", target.name, first, r, err)
				}
				for _, args := range [][]string{
					{"RENAME", keys["$a"], keys["$b"]},
					{"MSETNX", keys["$a"], "1", keys["$c"], "2"},
				} {
					r, err := c.Do(args...)
					const want = "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
					if err != nil || string(r) != want {
						t.Errorf("%s after %v: %v answered %q (%v), want %q", target.name, first, args, r, err, want)
					}
				}
				c.Close()
			}
		}
	})
}

// compareTxReplies reports every step whose reply differs from Redis's.
func compareTxReplies(t *testing.T, steps []txStep, keys map[string]string, want, got [][]byte) {
	t.Helper()
	i := 0
	for _, st := range steps {
		if st.waitGone {
			continue
		}
		cmd := strings.Join(st.args, " ")
		for ph, k := range keys {
			cmd = strings.ReplaceAll(cmd, ph, k)
		}
		switch {
		case st.check != nil:
			if err := st.check(want[i]); err != nil {
				t.Errorf("step %d %q: redis-server %v (the check is wrong)", i, cmd, err)
			}
			if err := st.check(got[i]); err != nil {
				t.Errorf("step %d %q: %v", i, cmd, err)
			}
		case string(got[i]) != string(want[i]):
			t.Errorf("step %d %q:\n got  %q\n want %q (redis-server)", i, cmd, got[i], want[i])
		}
		i++
	}
}
