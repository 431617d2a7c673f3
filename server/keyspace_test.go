package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/raftcache/raftcache/store"
	"github.com/redis/go-redis/v9"
)

// TestScanReturnsEveryKey walks the keyspace with SCAN at several COUNT
// values while other keys are written and removed: every key present
// from the first call to the last must be returned, and nothing outside
// the pattern.
func TestScanReturnsEveryKey(t *testing.T) {
	srv, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	const n = 500
	want := map[string]bool{}
	pairs := make([]any, 0, 2*n)
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("stay:%d", i)
		want[k] = true
		pairs = append(pairs, k, i)
	}
	if err := c.MSet(ctx, pairs...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(ctx, "stay:hash", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	want["stay:hash"] = true

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // churn: keys that come and go during the scans
		w := newClient(t, srv, 2)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("churn:%d", i%50)
			if err := w.Set(context.Background(), k, i, 0).Err(); err != nil {
				t.Errorf("churn SET: %v", err)
				return
			}
			if err := w.Del(context.Background(), k).Err(); err != nil {
				t.Errorf("churn DEL: %v", err)
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	for _, count := range []int64{0, 1, 7, 100, 1 << 40} {
		t.Run(fmt.Sprintf("COUNT=%d", count), func(t *testing.T) {
			seen := map[string]bool{}
			it := c.Scan(ctx, 0, "stay:*", count).Iterator()
			for it.Next(ctx) {
				seen[it.Val()] = true
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
			for k := range want {
				if !seen[k] {
					t.Fatalf("SCAN with COUNT %d missed %q (saw %d keys)", count, k, len(seen))
				}
			}
			if len(seen) != len(want) {
				t.Fatalf("SCAN returned %d keys, want %d", len(seen), len(want))
			}
		})
	}
	var hashes []string
	it := c.ScanType(ctx, 0, "*", 10, "hash").Iterator()
	for it.Next(ctx) {
		hashes = append(hashes, it.Val())
	}
	if it.Err() != nil || !slices.Equal(hashes, []string{"stay:hash"}) {
		t.Fatalf("SCAN TYPE hash = %v, %v", hashes, it.Err())
	}
	keys, err := c.Keys(ctx, "stay:4?").Result()
	slices.Sort(keys)
	if err != nil || len(keys) != 10 || keys[0] != "stay:40" || keys[9] != "stay:49" {
		t.Fatalf("KEYS stay:4? = %v, %v", keys, err)
	}
}

// TestMultiKeyAcrossShards checks MGET, MSET, DEL and EXISTS over keys of
// every shard through go-redis, replies in key order.
func TestMultiKeyAcrossShards(t *testing.T) {
	srv, b := startServer(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx := t.Context()
			c := newClient(t, srv, proto)
			var keys []string
			var pairs []any
			for i := 0; i < 60; i++ {
				k := fmt.Sprintf("mk%d:%d", proto, i)
				keys = append(keys, k)
				pairs = append(pairs, k, fmt.Sprintf("v\x00%d", i))
			}
			before := len(b.proposals())
			if err := c.MSet(ctx, pairs...).Err(); err != nil {
				t.Fatal(err)
			}
			// One cross-shard transaction: two shards prepared, the
			// third (the highest) decides and sets its own pairs, then
			// the two commit theirs.
			var steps []string
			for _, batch := range b.proposals()[before:] {
				for _, cmd := range batch {
					steps = append(steps, string(cmd[0]))
				}
			}
			slices.Sort(steps)
			want := []string{store.CmdXCommit, store.CmdXCommit, store.CmdXDecide, store.CmdXPrepare, store.CmdXPrepare}
			if !slices.Equal(steps, want) {
				t.Fatalf("MSET over three shards proposed %q, want %q", steps, want)
			}
			for shard := range 3 {
				if b.shards[shard].HasXLocks() {
					t.Fatalf("shard %d still holds locks after MSET", shard)
				}
			}
			vals, err := c.MGet(ctx, append(keys, "missing")...).Result()
			if err != nil || len(vals) != 61 || vals[60] != nil {
				t.Fatalf("MGET = %v, %v", vals, err)
			}
			for i, v := range vals[:60] {
				if v != fmt.Sprintf("v\x00%d", i) {
					t.Fatalf("MGET[%d] = %q", i, v)
				}
			}
			if n, err := c.Exists(ctx, keys...).Result(); err != nil || n != 60 {
				t.Fatalf("EXISTS = %d, %v", n, err)
			}
			if n, err := c.Del(ctx, keys[:30]...).Result(); err != nil || n != 30 {
				t.Fatalf("DEL = %d, %v", n, err)
			}
			// MSETNX over keys 30.. (present) and new ones: nothing set;
			// over new keys only: all set.
			fresh := []any{fmt.Sprintf("nx%d:a", proto), "1", fmt.Sprintf("nx%d:b", proto), "2", fmt.Sprintf("nx%d:c", proto), "3"}
			if ok, err := c.MSetNX(ctx, append(fresh, keys[59], "x")...).Result(); err != nil || ok {
				t.Fatalf("MSETNX with an existing key = %v, %v", ok, err)
			}
			if n, err := c.Exists(ctx, fresh[0].(string), fresh[2].(string), fresh[4].(string)).Result(); err != nil || n != 0 {
				t.Fatalf("a refused MSETNX set %d keys (%v)", n, err)
			}
			if ok, err := c.MSetNX(ctx, fresh...).Result(); err != nil || !ok {
				t.Fatalf("MSETNX of new keys = %v, %v", ok, err)
			}
			if n, err := c.Exists(ctx, fresh[0].(string), fresh[2].(string), fresh[4].(string)).Result(); err != nil || n != 3 {
				t.Fatalf("MSETNX set %d of 3 keys (%v)", n, err)
			}
		})
	}
}

// TestRandomKeyReachesEveryShard asks RANDOMKEY until it has seen a key
// of each shard.
func TestRandomKeyReachesEveryShard(t *testing.T) {
	srv, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	if err := c.MSet(ctx, "a", 1, "b", 1, "c", 1).Err(); err != nil { // shards 2, 0, 1
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 300 && len(seen) < 3; i++ {
		k, err := c.RandomKey(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		seen[k] = true
	}
	if len(seen) != 3 {
		t.Fatalf("RANDOMKEY returned only %v", seen)
	}
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RandomKey(ctx).Result(); err != redis.Nil {
		t.Fatalf("RANDOMKEY on an empty keyspace: %v", err)
	}
}
