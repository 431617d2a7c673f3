package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/test/compat"
)

// Client compatibility against one real raftcache node (three shards, so
// multi-key commands cross shards): go-redis in RESP2 and RESP3,
// redis-cli's --pipe and --scan modes, and redis-benchmark.

func startNode(t *testing.T) *proc {
	t.Helper()
	p := newProc(t, "n1", "--shards", "3")
	p.start()
	waitClusterOK(t, p.addr(), 30*time.Second)
	return p
}

func TestGoRedisAgainstNode(t *testing.T) {
	p := startNode(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := redis.NewClient(&redis.Options{Addr: p.addr(), Protocol: proto, MaxRetries: -1})
			defer c.Close()
			k := func(s string) string { return fmt.Sprintf("r%d:%s", proto, s) }

			if err := c.Ping(ctx).Err(); err != nil {
				t.Fatalf("PING: %v", err)
			}
			bin := "a\x00b\r\nc"
			if err := c.Set(ctx, k("bin"), bin, 0).Err(); err != nil {
				t.Fatal(err)
			}
			if v, err := c.Get(ctx, k("bin")).Result(); err != nil || v != bin {
				t.Fatalf("GET binary = %q, %v", v, err)
			}
			var pairs []any
			var keys []string
			for i := 0; i < 30; i++ {
				keys = append(keys, k(fmt.Sprintf("m%d", i)))
				pairs = append(pairs, keys[i], i)
			}
			if err := c.MSet(ctx, pairs...).Err(); err != nil {
				t.Fatalf("MSET across shards: %v", err)
			}
			vals, err := c.MGet(ctx, keys...).Result()
			if err != nil || len(vals) != 30 || vals[29] != "29" || vals[0] != "0" {
				t.Fatalf("MGET = %v, %v", vals, err)
			}
			if f, err := c.IncrByFloat(ctx, k("f"), 0.1).Result(); err != nil || f != 0.1 {
				t.Fatalf("INCRBYFLOAT = %v, %v", f, err)
			}
			if err := c.HSet(ctx, k("h"), "a", "1", "b", "2").Err(); err != nil {
				t.Fatal(err)
			}
			if m, err := c.HGetAll(ctx, k("h")).Result(); err != nil || len(m) != 2 || m["b"] != "2" {
				t.Fatalf("HGETALL = %v, %v", m, err)
			}

			// A transaction in one hash slot, and WATCH with a retry loop.
			tag := k("{tx}")
			cmds, err := c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
				pl.Set(ctx, tag+"a", "1", 0)
				pl.IncrBy(ctx, tag+"a", 41)
				pl.Get(ctx, tag+"a")
				return nil
			})
			if err != nil || len(cmds) != 3 || cmds[2].(*redis.StringCmd).Val() != "42" {
				t.Fatalf("MULTI/EXEC = %v, %v", cmds, err)
			}
			err = c.Watch(ctx, func(tx *redis.Tx) error {
				n, err := tx.Get(ctx, tag+"a").Int()
				if err != nil {
					return err
				}
				_, err = tx.TxPipelined(ctx, func(pl redis.Pipeliner) error {
					pl.Set(ctx, tag+"a", n+1, 0)
					return nil
				})
				return err
			}, tag+"a")
			if err != nil {
				t.Fatalf("WATCH transaction: %v", err)
			}
			// Two keys of different shards share a transaction all the
			// same: it runs atomically across the shards.
			x, y := k("x0"), ""
			for i := 1; y == ""; i++ {
				if cand := k(fmt.Sprintf("x%d", i)); shardOf(t, c, cand) != shardOf(t, c, x) {
					y = cand
				}
			}
			_, err = c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
				pl.Set(ctx, x, "1", 0)
				pl.Set(ctx, y, "1", 0)
				return nil
			})
			if err != nil {
				t.Fatalf("a transaction over two shards: %v", err)
			}
			if v, err := c.MGet(ctx, x, y).Result(); err != nil || v[0] != "1" || v[1] != "1" {
				t.Fatalf("after a transaction over two shards: %v %v", v, err)
			}

			var scanned []string
			it := c.Scan(ctx, 0, k("m*"), 7).Iterator()
			for it.Next(ctx) {
				scanned = append(scanned, it.Val())
			}
			slices.Sort(scanned)
			want := slices.Clone(keys)
			slices.Sort(want)
			if it.Err() != nil || !slices.Equal(scanned, want) {
				t.Fatalf("SCAN MATCH = %v, %v", scanned, it.Err())
			}
			cfg, err := c.ConfigGet(ctx, "save").Result()
			if err != nil || len(cfg) != 1 || cfg["save"] != "" {
				t.Fatalf("CONFIG GET save = %v, %v", cfg, err)
			}
			info, err := c.ClientInfo(ctx).Result()
			if err != nil || info.Resp != proto {
				t.Fatalf("CLIENT INFO = %+v, %v", info, err)
			}
			if s, err := c.Info(ctx, "server", "keyspace").Result(); err != nil ||
				!strings.Contains(s, "redis_mode:cluster") || !strings.Contains(s, "# Keyspace") {
				t.Fatalf("INFO = %q, %v", s, err)
			}
			if n, err := c.Del(ctx, keys...).Result(); err != nil || n != 30 {
				t.Fatalf("DEL = %d, %v", n, err)
			}
		})
	}
}

// shardOf reads the shard of key from INFO replication's slot ranges.
func shardOf(t *testing.T, c *redis.Client, key string) int {
	t.Helper()
	slot, err := c.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	info, _ := c.Info(context.Background(), "replication").Result()
	for _, line := range strings.Split(info, "\r\n") {
		var id, first, last int
		if n, _ := fmt.Sscanf(line, "shard%d:slots=%d-%d", &id, &first, &last); n == 3 && int(slot) >= first && int(slot) <= last {
			return id
		}
	}
	t.Fatalf("no shard for slot %d", slot)
	return -1
}

// TestRedisCLIPipeAndScan feeds a few thousand commands through
// redis-cli --pipe, then lists keys with --scan --pattern.
func TestRedisCLIPipeAndScan(t *testing.T) {
	bin := requireTool(t, "redis-cli")
	p := startNode(t)
	var proto bytes.Buffer
	const n = 3000
	for i := 0; i < n; i++ {
		var args []string
		switch i % 3 {
		case 0:
			args = []string{"SET", fmt.Sprintf("pipe:%d", i), fmt.Sprintf("v\r\n%d", i)}
		case 1:
			args = []string{"HSET", fmt.Sprintf("pipeh:%d", i), "f", strconv.Itoa(i)}
		case 2:
			args = []string{"INCR", "pipe:counter"}
		}
		fmt.Fprintf(&proto, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&proto, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	host, port, _ := net.SplitHostPort(p.addr())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "--pipe")
	cmd.Stdin = &proto
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --pipe: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("errors: 0, replies: %d", n)) {
		t.Fatalf("redis-cli --pipe output:\n%s", out)
	}
	if got := cli(t, p.addr(), "GET", "pipe:counter"); got != strconv.Itoa(n/3) {
		t.Fatalf("counter after the pipe = %q", got)
	}
	keys := strings.Split(cli(t, p.addr(), "--scan", "--pattern", "pipe:*"), "\n")
	if len(keys) != n/3+1 {
		t.Fatalf("--scan --pattern pipe:* listed %d keys, want %d", len(keys), n/3+1)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] || !strings.HasPrefix(k, "pipe:") {
			t.Fatalf("--scan listed %q (twice or outside the pattern)", k)
		}
		seen[k] = true
	}
	if got := cli(t, p.addr(), "--scan", "--pattern", "pipeh:*"); strings.Count(got, "\n")+1 != n/3 {
		t.Fatalf("--scan --pattern pipeh:* listed %d keys", strings.Count(got, "\n")+1)
	}
}

// TestRedisBenchmark runs redis-benchmark's tests of the command families
// raftcache serves; every test must finish without an error reply.
func TestRedisBenchmark(t *testing.T) {
	bin := requireTool(t, "redis-benchmark")
	p := startNode(t)
	host, port, _ := net.SplitHostPort(p.addr())
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// -r spreads the keys (MSET's ten keys then span shards); --csv
	// prints one line per finished test.
	cmd := exec.CommandContext(ctx, bin, "-h", host, "-p", port,
		"-t", "set,get,incr,mset,hset", "-n", "2000", "-r", "1000", "--csv")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("redis-benchmark did not finish in time\n%s\n%s", stdout.String(), stderr.String())
		}
		t.Fatalf("redis-benchmark: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String() + stderr.String()
	if strings.Contains(out, "rror") || strings.Contains(out, "WARNING") {
		t.Fatalf("redis-benchmark reported a problem:\n%s", out)
	}
	for _, test := range []string{`"SET"`, `"GET"`, `"INCR"`, `"HSET"`, `"MSET (10 keys)"`} {
		if !strings.Contains(stdout.String(), test+",") {
			t.Fatalf("redis-benchmark did not finish %s:\n%s", test, out)
		}
	}
	t.Logf("redis-benchmark against one node:\n%s", stdout.String())
}

// TestCompatTableAgainstNode runs the compatibility table (test/compat)
// against the real binary; server's tests run it in-process and against
// redis-server.
func TestCompatTableAgainstNode(t *testing.T) {
	p := startNode(t)
	compat.Run(t, p.addr(), false)
}
