package server

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/store"
)

func TestMaxmemoryConfig(t *testing.T) {
	srv, b := startServer(t)
	c := newClient(t, srv, 2)
	ctx := t.Context()
	for _, set := range [][]any{
		{"maxmemory", "100mb"}, {"maxmemory-policy", "allkeys-lfu"}, {"maxmemory-samples", "10"},
		{"lfu-log-factor", "3"}, {"lfu-decay-time", "0"},
	} {
		if err := c.ConfigSet(ctx, set[0].(string), set[1].(string)).Err(); err != nil {
			t.Fatalf("CONFIG SET %v: %v", set, err)
		}
	}
	want := cluster.EvictionConfig{MaxMemory: 100 << 20, Policy: store.AllKeysLFU, Samples: 10, LFULogFactor: 3, LFUDecayTime: 0}
	if got := b.Eviction(); got != want {
		t.Fatalf("the backend got %+v, want %+v", got, want)
	}
	got, err := c.ConfigGet(ctx, "maxmemory*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got["maxmemory"] != "104857600" || got["maxmemory-policy"] != "allkeys-lfu" || got["maxmemory-samples"] != "10" {
		t.Fatalf("CONFIG GET maxmemory* = %v", got)
	}
	for _, bad := range []struct{ name, value, err string }{
		{"maxmemory-samples", "0", "argument must be between 1 and 64 inclusive"},
		{"maxmemory-samples", "x", "argument couldn't be parsed into an integer"},
		{"maxmemory-policy", "lru", "argument(s) must be one of the following: volatile-lru"},
		{"maxmemory", "lots", "argument must be a memory value"},
	} {
		err := c.ConfigSet(ctx, bad.name, bad.value).Err()
		if err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("CONFIG SET %s %s: %v, want %q", bad.name, bad.value, err, bad.err)
		}
	}
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"maxmemory:104857600\r\n", "maxmemory_human:100.00M\r\n", "maxmemory_policy:allkeys-lfu\r\n"} {
		if !strings.Contains(info, f) {
			t.Errorf("INFO memory lacks %q", f)
		}
	}
}

// TestOOMRefusesOnlyWhatGrowsMemory: past maxmemory under noeviction,
// commands flagged deny-oom get Redis's OOM error, alone, pipelined or
// queued in MULTI (EXEC then aborts); reads and deletions still work.
func TestOOMRefusesOnlyWhatGrowsMemory(t *testing.T) {
	srv, b := startServer(t)
	c := newClient(t, srv, 2)
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.SetEviction(ctx, cluster.EvictionConfig{MaxMemory: 1, Policy: store.NoEviction, Samples: 5}); err != nil {
		t.Fatal(err)
	}
	b.full.Store(true)
	const oom = "OOM command not allowed when used memory > 'maxmemory'."
	if err := c.Set(ctx, "k2", "v", 0).Err(); err == nil || err.Error() != oom {
		t.Fatalf("SET past maxmemory: %v, want %q", err, oom)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET past maxmemory: %q, %v", v, err)
	}
	cmds, _ := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "a", "1", 0)
		p.Get(ctx, "k")
		p.Incr(ctx, "n")
		return nil
	})
	if cmds[0].Err() == nil || cmds[0].Err().Error() != oom || cmds[1].Err() != nil || cmds[2].Err() == nil {
		t.Fatalf("pipelined past maxmemory: %v %v %v", cmds[0].Err(), cmds[1].Err(), cmds[2].Err())
	}
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "a", "1", 0)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "EXECABORT") {
		t.Fatalf("MULTI SET EXEC past maxmemory: %v", err)
	}
	if n, err := c.Del(ctx, "k").Result(); err != nil || n != 1 {
		t.Fatalf("DEL past maxmemory: %d, %v", n, err)
	}
	b.full.Store(false)
	if err := c.Set(ctx, "k2", "v", 0).Err(); err != nil {
		t.Fatalf("SET once memory is back under maxmemory: %v", err)
	}
}
