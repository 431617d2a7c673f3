package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftcache/raftcache/store"
)

func TestNearestRank(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		samples []time.Duration
		q       float64
		want    time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.5, 7 * time.Millisecond},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2), 0.5, 1 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.9, 4 * time.Millisecond},
		{hundred, 0.50, 50 * time.Millisecond},
		{hundred, 0.90, 90 * time.Millisecond},
		{hundred, 0.99, 99 * time.Millisecond},
		{hundred[:99], 0.99, 99 * time.Millisecond}, // ceil(98.01) = 99th
	} {
		if got := nearestRank(tc.samples, tc.q); got != tc.want {
			t.Errorf("nearestRank(%d samples, %v) = %v, want %v", len(tc.samples), tc.q, got, tc.want)
		}
	}
	if got := medianDuration([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median of 3, 1, 2 = %v", got)
	}
	if got := medianDuration([]time.Duration{4, 1, 2, 8}); got != 3 {
		t.Errorf("median of 4, 1, 2, 8 = %v", got)
	}
}

func TestShardRanges(t *testing.T) {
	info := "# Replication\r\nrole:master\r\n" +
		"shard1:slots=5461-10921,state=follower,leader=n2,term=2\r\n" +
		"shard0:slots=0-5460,state=leader,leader=n1,term=2\r\n" +
		"shard2:slots=10922-16383,state=follower,leader=n3,term=3\r\n"
	got, err := shardRanges(info)
	if err != nil {
		t.Fatal(err)
	}
	want := []slotRange{{0, 5460}, {5461, 10921}, {10922, 16383}}
	if !slices.Equal(got, want) {
		t.Fatalf("shardRanges = %v, want %v", got, want)
	}
	if _, err := shardRanges("role:master\r\nshard0:slots=0-16383,state=leader\r\n"); err == nil {
		t.Error("one shard: no error")
	}
	if _, err := shardRanges("shard0:slots=0-5460\r\nshard2:slots=10922-16383\r\n"); err == nil {
		t.Error("shard1 missing: no error")
	}
	if d := describeLeaders(info); d != "shard0 n1, shard1 n2, shard2 n3" {
		t.Errorf("describeLeaders = %q", d)
	}
}

func TestKeyGen(t *testing.T) {
	shards := []slotRange{{0, 5460}, {5461, 10921}, {10922, 16383}}
	g := &keyGen{prefix: "t:", shards: shards}
	seen := map[string]bool{}
	in := func(k string, sh int) bool {
		s := store.SlotOf([]byte(k))
		return s >= shards[sh].first && s <= shards[sh].last
	}
	for i := range 300 {
		sh := i % 3
		k := g.next(sh)
		if !in(k, sh) || seen[k] || !strings.HasPrefix(k, "t:") {
			t.Fatalf("next(%d) = %q: slot %d, seen before %v", sh, k, store.SlotOf([]byte(k)), seen[k])
		}
		seen[k] = true
		a, b := g.sameSlot(sh)
		if store.SlotOf([]byte(a)) != store.SlotOf([]byte(b)) || !in(a, sh) || a == b || seen[a] || seen[b] {
			t.Fatalf("sameSlot(%d) = %q, %q", sh, a, b)
		}
		seen[a], seen[b] = true, true
	}
}

func TestShare(t *testing.T) {
	for _, tc := range []struct{ ops, conc int }{{2000, 16}, {200, 16}, {7, 16}, {5, 1}} {
		sum := 0
		for w := range tc.conc {
			n := share(tc.ops, tc.conc, w)
			if d := n - tc.ops/tc.conc; d < 0 || d > 1 {
				t.Errorf("share(%d, %d, %d) = %d", tc.ops, tc.conc, w, n)
			}
			sum += n
		}
		if sum != tc.ops {
			t.Errorf("shares of %d over %d sum to %d", tc.ops, tc.conc, sum)
		}
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"-xtx", "2000", "-raftcache-args", "--log-store bolt"})
	if want := `go run ./test/bench -xtx 2000 -raftcache-args "--log-store bolt"`; got != want {
		t.Errorf("commandLine = %s, want %s", got, want)
	}
}
