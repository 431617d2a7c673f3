package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

// flat renders a reply's elements as strings, in order (a map reply's
// pairs flattened, as RESP2 sends them).
func flat(r resp.Reply) []string {
	out := []string{}
	for _, e := range r.Elems {
		out = append(out, string(e.Str))
	}
	return out
}

// TestHashOrderAgainstRedis builds the same hashes with the same commands
// in the store and in a live redis-server, then compares the order of
// HGETALL, HKEYS, HVALS and HSCAN, and of HRANDFIELD where Redis's order
// is defined (a count not smaller than the hash: the whole hash in order;
// a smaller positive count on a listpack: a subset in the hash's order).
// Hashes that outgrew the listpack are compared as sets.
func TestHashOrderAgainstRedis(t *testing.T) {
	c := startOracle(t)
	s := New()
	r := rand.New(rand.NewPCG(7, 14))
	const now = 1000
	run := func(args ...string) {
		t.Helper()
		a := argv(args...)
		want := oracleDo(t, c, a)
		got := do(s, now, a)
		if got.Kind == resp.KindError || want.Kind == resp.KindError {
			t.Fatalf("%q: store %s, Redis %s", args, fmtReply(got), fmtReply(want))
		}
	}
	oracleDo(t, c, argv("FLUSHALL"))
	var keys []string
	for h := range 40 {
		key := "h" + strconv.Itoa(h)
		keys = append(keys, key)
		fields := 1 + r.IntN(30)
		if h%10 == 9 {
			fields = 100 + r.IntN(60) // around hash-max-listpack-entries
		}
		for range fields + fields/2 {
			f := "f" + strconv.Itoa(r.IntN(fields))
			v := strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(40))
			if h%13 == 12 && r.IntN(50) == 0 {
				v = strings.Repeat("L", 70) // past hash-max-listpack-value
			}
			switch r.IntN(10) {
			case 0:
				run("HDEL", key, f)
			case 1:
				run("HSETNX", key, f, v)
			case 2:
				run("HINCRBY", key, "n"+f, strconv.Itoa(r.IntN(100)))
			case 3:
				run("HSET", key, f, v, "g"+f, v)
			default:
				run("HSET", key, f, v)
			}
		}
	}
	ordered, converted := 0, 0
	for _, key := range keys {
		enc := string(do(s, now, argv("OBJECT", "ENCODING", key)).Str)
		if renc := string(oracleDo(t, c, argv("OBJECT", "ENCODING", key)).Str); renc != enc {
			t.Fatalf("%s: encoding %s, Redis %s", key, enc, renc)
		}
		if enc == "" {
			continue // every field was deleted
		}
		inOrder := enc == "listpack"
		if inOrder {
			ordered++
		} else {
			converted++
		}
		n := int(do(s, now, argv("HLEN", key)).Int)
		for _, cmd := range [][]string{
			{"HGETALL", key}, {"HKEYS", key}, {"HVALS", key},
			{"HRANDFIELD", key, strconv.Itoa(n)}, {"HRANDFIELD", key, strconv.Itoa(n + 5), "WITHVALUES"},
		} {
			got, want := flat(do(s, now, argv(cmd...))), flat(oracleDo(t, c, argv(cmd...)))
			if !inOrder {
				slices.Sort(got)
				slices.Sort(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%q (%s): store %q, Redis %q", cmd, enc, got, want)
			}
		}
		for _, cmd := range [][]string{{"HSCAN", key, "0"}, {"HSCAN", key, "0", "MATCH", "f1*"}} {
			got, want := do(s, now, argv(cmd...)), oracleDo(t, c, argv(cmd...))
			g, w := flat(got.Elems[1]), flat(want.Elems[1])
			if !inOrder {
				continue // Redis's HSCAN of a hashtable pages with its own cursor
			}
			if string(got.Elems[0].Str) != "0" || string(want.Elems[0].Str) != "0" || !slices.Equal(g, w) {
				t.Errorf("%q: store %s, Redis %s", cmd, fmtReply(got), fmtReply(want))
			}
		}
		if !inOrder || n < 3 {
			continue
		}
		// A smaller count: distinct fields of the hash, in its order as
		// Redis 7.2 samples a listpack (lpRandomPairsUnique). Redis 7.0,
		// which may be the oracle, answers them in a dict's order, so
		// only the fields are compared with it.
		all := flat(do(s, now, argv("HKEYS", key)))
		for range 5 {
			cmd := argv("HRANDFIELD", key, strconv.Itoa(n-1))
			if picked := flat(do(s, now, cmd)); len(picked) != n-1 || !inOrderOf(picked, all) {
				t.Errorf("HRANDFIELD %s %d = %q, not %d fields in the order of %q", key, n-1, picked, n-1, all)
			}
			picked := flat(oracleDo(t, c, cmd))
			slices.Sort(picked)
			if len(picked) != n-1 || len(slices.Compact(picked)) != n-1 {
				t.Errorf("Redis: HRANDFIELD %s %d = %q", key, n-1, picked)
			}
		}
	}
	if ordered < 20 || converted < 2 {
		t.Fatalf("only %d listpack and %d hashtable hashes compared", ordered, converted)
	}
	t.Logf("compared %d listpack hashes in order, %d hashtable hashes as sets", ordered, converted)
}

func inOrderOf(sub, all []string) bool {
	i := 0
	for _, a := range all {
		if i < len(sub) && sub[i] == a {
			i++
		}
	}
	return i == len(sub)
}

// TestMemoryUsageAgainstRedis: MEMORY USAGE of strings and small hashes
// stays within 2x of Redis's for the same keys.
func TestMemoryUsageAgainstRedis(t *testing.T) {
	c := startOracle(t)
	s := New()
	oracleDo(t, c, argv("FLUSHALL"))
	var cmds [][]string
	for _, n := range []int{0, 1, 10, 20, 44, 45, 100, 500, 1000, 10000, 100000} {
		cmds = append(cmds, []string{"SET", fmt.Sprintf("key:%d", n), strings.Repeat("x", n)})
	}
	cmds = append(cmds, []string{"SET", "int", "12345"}, []string{"SET", "bigint", "1234567890123"})
	for _, n := range []int{1, 2, 5, 20, 100} {
		hset := []string{"HSET", fmt.Sprintf("hash:%d", n)}
		for i := range n {
			hset = append(hset, fmt.Sprintf("field:%d", i), strings.Repeat("v", 10+i%21))
		}
		cmds = append(cmds, hset)
	}
	for _, cmd := range cmds {
		oracleDo(t, c, argv(cmd...))
		mustApply(t, s, 1000, argv(cmd...))
	}
	for _, cmd := range cmds {
		key := cmd[1]
		got := s.Read(1000, argv("MEMORY", "USAGE", key)).Int
		want := oracleDo(t, c, argv("MEMORY", "USAGE", key)).Int
		if got*2 < want || got > 2*want {
			t.Errorf("MEMORY USAGE %s: %d, Redis %d", key, got, want)
		} else {
			t.Logf("MEMORY USAGE %-12s raftcache %7d  Redis %7d  (%.2f)", key, got, want, float64(got)/float64(want))
		}
	}
}
