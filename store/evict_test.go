package store

import (
	"fmt"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

func cmd(s string, a ...any) [][]byte {
	var out [][]byte
	for _, f := range splitFields(fmt.Sprintf(s, a...)) {
		out = append(out, []byte(f))
	}
	return out
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return out
}

// best samples many times and returns the highest-scoring key.
func best(s *Store, p EvictPolicy, now int64) (string, []Candidate) {
	cands := s.Sample(p, 4000, now, nil)
	top := ""
	var score uint64
	for _, c := range cands {
		if top == "" || c.Score > score {
			top, score = string(c.Key), c.Score
		}
	}
	return top, cands
}

func TestEvictionRanksByPolicy(t *testing.T) {
	const t0 = 1_000_000
	for _, tc := range []struct {
		name   string
		policy EvictPolicy
		setup  func(s *Store)
		want   string // the key ranked first
		only   []string
	}{
		{"allkeys-lru: the key read longest ago", AllKeysLRU, func(s *Store) {
			for i := range 20 {
				do(s, t0, cmd("SET k%d v", i))
			}
			for i := range 20 {
				if i != 7 {
					s.Read(t0+100_000+int64(i)*1000, cmd("GET k%d", i))
				}
			}
		}, "k7", nil},
		{"allkeys-lfu: the key used least often", AllKeysLFU, func(s *Store) {
			for i := range 20 {
				do(s, t0, cmd("SET k%d v", i))
			}
			for round := range 10 {
				for i := range 20 {
					if i != 11 {
						s.Read(t0+int64(round), cmd("GET k%d", i))
					}
				}
			}
		}, "k11", nil},
		{"volatile-ttl: the key that expires first, among keys with a TTL", VolatileTTL, func(s *Store) {
			for i := range 10 {
				do(s, t0, cmd("SET k%d v", i))
				do(s, t0, cmd("SET t%d v PX %d", i, 10_000+i*1000))
			}
		}, "t0", []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"}},
		{"volatile-lru: only keys with a TTL", VolatileLRU, func(s *Store) {
			do(s, t0, cmd("SET old v"))
			do(s, t0+1000, cmd("SET t1 v EX 100"))
			do(s, t0+2000, cmd("SET t2 v EX 100"))
		}, "t1", []string{"t1", "t2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			s.SetAccessParams(AccessParams{Policy: tc.policy, LFULogFactor: 0, LFUDecayTime: 1})
			tc.setup(s)
			got, cands := best(s, tc.policy, t0+200_000)
			if got != tc.want {
				t.Fatalf("ranked %q first, want %q", got, tc.want)
			}
			if tc.only != nil {
				for _, c := range cands {
					if !contains(tc.only, string(c.Key)) {
						t.Fatalf("sampled %q, which %s must not evict", c.Key, tc.policy)
					}
				}
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestVolatilePoliciesFindNothingWithoutTTLs(t *testing.T) {
	s := New()
	do(s, 1000, cmd("SET a 1"))
	for _, p := range []EvictPolicy{VolatileLRU, VolatileLFU, VolatileRandom, VolatileTTL} {
		if c := s.Sample(p, 5, 2000, nil); len(c) != 0 {
			t.Fatalf("%s sampled %d keys without a TTL", p, len(c))
		}
	}
	if c := s.Sample(AllKeysRandom, 5, 2000, nil); len(c) == 0 {
		t.Fatal("allkeys-random sampled nothing")
	}
}

// TestEvictRemovesOnlyWhatWasSampled checks the replicated removal: a key
// written after it was sampled survives, a deleted one is skipped, the
// others go and are counted.
func TestEvictRemovesOnlyWhatWasSampled(t *testing.T) {
	s := New()
	for _, k := range []string{"a", "b", "c", "d"} {
		do(s, 1000, cmd("SET %s v", k))
	}
	cands := s.Sample(AllKeysRandom, 400, 2000, nil)
	seen := map[string]Candidate{}
	for _, c := range cands {
		seen[string(c.Key)] = c
	}
	if len(seen) != 4 {
		t.Fatalf("sampled %d distinct keys of 4", len(seen))
	}
	do(s, 3000, cmd("SET b changed"))
	do(s, 3000, cmd("DEL c"))
	r := do(s, 4000, EvictArgs([]Candidate{seen["a"], seen["b"], seen["c"], seen["d"]}))
	if r.Kind != resp.KindInt || r.Int != 2 {
		t.Fatalf("evicted %+v keys, want 2 (a and d)", r)
	}
	for k, want := range map[string]resp.Reply{"a": resp.Null, "b": bulk("changed"), "c": resp.Null, "d": resp.Null} {
		if got := s.Read(5000, cmd("GET %s", k)); !replyEqual(got, want) {
			t.Fatalf("GET %s = %s, want %s", k, fmtReply(got), fmtReply(want))
		}
	}
	if st := s.KeyspaceStats(); st.Evicted != 2 {
		t.Fatalf("evicted counter %d, want 2", st.Evicted)
	}
}

func TestKeyspaceHitsAndMisses(t *testing.T) {
	s := New()
	do(s, 1000, cmd("SET a 1"))
	s.Read(2000, cmd("GET a"))
	s.Read(2000, cmd("GET nope"))
	s.Read(2000, cmd("MGET a nope nope2"))
	if st := s.KeyspaceStats(); st.Hits != 2 || st.Misses != 3 {
		t.Fatalf("hits %d misses %d, want 2 and 3", st.Hits, st.Misses)
	}
}

func TestObjectFreqFollowsTheLFUPolicy(t *testing.T) {
	s := New()
	do(s, 1000, cmd("SET a 1"))
	if r := s.Read(1000, cmd("OBJECT FREQ a")); r.Kind != resp.KindError {
		t.Fatalf("OBJECT FREQ without an LFU policy: %+v", r)
	}
	s.SetAccessParams(AccessParams{Policy: AllKeysLFU, LFULogFactor: 0, LFUDecayTime: 1})
	if r := s.Read(1000, cmd("OBJECT FREQ a")); r.Int != lfuInitVal {
		t.Fatalf("a new key's frequency %+v, want %d", r, lfuInitVal)
	}
	for range 10 {
		s.Read(1000, cmd("GET a"))
	}
	if r := s.Read(1000, cmd("OBJECT FREQ a")); r.Int != lfuInitVal+10 {
		t.Fatalf("after 10 reads (log factor 0): %+v, want %d", r, lfuInitVal+10)
	}
	// Two minutes idle with a decay time of 1 minute: two steps down.
	if r := s.Read(1000+120_000, cmd("OBJECT FREQ a")); r.Int != lfuInitVal+8 {
		t.Fatalf("after 2 idle minutes: %+v, want %d", r, lfuInitVal+8)
	}
	if r := s.Read(1000, cmd("OBJECT IDLETIME a")); r.Kind != resp.KindError {
		t.Fatalf("OBJECT IDLETIME under an LFU policy: %+v", r)
	}
}
