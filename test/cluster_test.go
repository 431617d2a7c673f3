package test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// acked records every write a client saw acknowledged: key → value.
type acked struct {
	mu sync.Mutex
	m  map[string]string
}

func (a *acked) add(k, v string) {
	a.mu.Lock()
	a.m[k] = v
	a.mu.Unlock()
}

func plainClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 15 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// writeKeys writes n keys through the given nodes in turn, pipelined, and
// records the acknowledged ones. A write whose outcome is unknown (a
// leadership change while it was in flight, such as a balancing move) is
// retried, as a client would retry an idempotent SET.
func writeKeys(t testing.TB, nodes []*proc, prefix string, n int, a *acked) {
	t.Helper()
	ctx := context.Background()
	const batch = 200
	for start := 0; start < n; start += batch {
		c := plainClient(t, nodes[(start/batch)%len(nodes)].addr())
		pending := map[string]string{}
		for i := start; i < min(start+batch, n); i++ {
			pending[fmt.Sprintf("%s:%d", prefix, i)] = fmt.Sprintf("v%d", i)
		}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt == 5 {
				t.Fatalf("%d writes of the batch at %d still failing after 5 attempts", len(pending), start)
			}
			pipe := c.Pipeline()
			cmds := make([]*redis.StatusCmd, 0, len(pending))
			for k, v := range pending {
				cmds = append(cmds, pipe.Set(ctx, k, v, 0))
			}
			_, _ = pipe.Exec(ctx)
			for _, cmd := range cmds {
				if cmd.Err() != nil {
					t.Logf("write %v failed, retrying: %v", cmd.Args()[1], cmd.Err())
					continue
				}
				k, v := cmd.Args()[1].(string), cmd.Args()[2].(string)
				a.add(k, v)
				delete(pending, k)
			}
		}
	}
}

// writeOneByOne writes n keys through addr, one command per round trip,
// so that each becomes its own log entry.
func writeOneByOne(t testing.TB, addr, prefix string, n int, a *acked) {
	t.Helper()
	c := plainClient(t, addr)
	for i := 0; i < n; i++ {
		k, v := fmt.Sprintf("%s:%d", prefix, i), fmt.Sprintf("v%d", i)
		if err := c.Set(context.Background(), k, v, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		a.add(k, v)
	}
}

// waitBalanced waits until every node leads exactly one shard (the
// cluster has as many shards as nodes).
func (c *testCluster) waitBalanced(timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, "one shard leader per node", timeout, func() bool {
		infos, ok := shardInfos(c.procs[0].addr())
		if !ok {
			return false
		}
		count := map[string]int{}
		for _, si := range infos {
			count[si.leader]++
		}
		for _, p := range c.procs {
			if count[p.id] != 1 {
				return false
			}
		}
		return true
	})
}

// checkAcked reads every acknowledged key through addr.
func checkAcked(t testing.TB, addr string, a *acked) {
	t.Helper()
	ctx := context.Background()
	c := plainClient(t, addr)
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := make([]string, 0, len(a.m))
	for k := range a.m {
		keys = append(keys, k)
	}
	const batch = 500
	for start := 0; start < len(keys); start += batch {
		pipe := c.Pipeline()
		cmds := make([]*redis.StringCmd, 0, batch)
		for _, k := range keys[start:min(start+batch, len(keys))] {
			cmds = append(cmds, pipe.Get(ctx, k))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("read back through %s: %v", addr, err)
		}
		for _, cmd := range cmds {
			k := cmd.Args()[1].(string)
			if cmd.Val() != a.m[k] {
				t.Fatalf("acknowledged write lost: %s = %q, want %q", k, cmd.Val(), a.m[k])
			}
		}
	}
}

// writeUntilOK retries a SET on a key of the shard through the node at
// addr until it is acknowledged and returns how long that took.
func writeUntilOK(t testing.TB, addr, key string, a *acked) time.Duration {
	t.Helper()
	c := plainClient(t, addr)
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for i := 0; ; i++ {
		v := fmt.Sprintf("after-failover-%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.Set(ctx, key, v, 0).Err()
		cancel()
		if err == nil {
			a.add(key, v)
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write accepted on %s within 30s: %v", key, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func without(procs []*proc, p *proc) []*proc {
	var out []*proc
	for _, q := range procs {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

// TestThreeNodeCluster forms a 3-node, 3-shard cluster from --peers,
// writes 10,000 keys through all nodes, SIGKILLs the leader of each shard
// in turn, checks that writes resume and that no acknowledged write is
// lost, restarts each killed node and waits for it to catch up, then makes
// a node catch up by snapshot install after log compaction and pauses a
// leader with SIGSTOP.
func TestThreeNodeCluster(t *testing.T) {
	requireTool(t, "redis-cli")
	c := newCluster(t, 3, 3, "--raft-trailing-logs", "64")
	c.waitBalanced(60 * time.Second)
	a := &acked{m: map[string]string{}}
	writeKeys(t, c.procs, "k", 10000, a)
	checkAcked(t, c.procs[2].addr(), a)

	// A leader's INFO shows each follower's lag.
	leader := c.leaderOf(0, c.procs)
	waitFor(t, "INFO to show both followers of shard 0 caught up", 30*time.Second, func() bool {
		info := cli(t, leader.addr(), "INFO", "replication")
		for _, line := range strings.Split(info, "\n") {
			if strings.HasPrefix(line, "shard0:") {
				_, f, ok := strings.Cut(strings.TrimSpace(line), ",followers=")
				return ok && strings.Count(f, ":0") == 2
			}
		}
		return false
	})

	t.Run("kill the leader of each shard", func(t *testing.T) {
		for shard := 0; shard < c.shards; shard++ {
			leader := c.leaderOf(shard, c.procs)
			live := without(c.procs, leader)
			leader.kill()
			took := writeUntilOK(t, live[0].addr(), c.keyInShard(shard, "failover"), a)
			t.Logf("shard %d: leader %s killed; writes resumed after %v", shard, leader.id, took.Round(time.Millisecond))
			checkAcked(t, live[1].addr(), a)
			writeKeys(t, live, fmt.Sprintf("during-%d", shard), 500, a)

			leader.start()
			waitClusterOK(t, leader.addr(), 60*time.Second)
			c.waitConverged(c.procs, 60*time.Second)
		}
		checkAcked(t, c.procs[0].addr(), a)
		// Each killed node got its shard back once it had caught up.
		c.waitBalanced(60 * time.Second)
	})

	t.Run("catch up by snapshot install", func(t *testing.T) {
		down := c.procs[2]
		live := without(c.procs, down)
		down.kill()
		writeKeys(t, live, "compacted", 2000, a)
		// Pipelined writes share log entries; single ones make enough
		// entries per shard to outnumber --raft-trailing-logs.
		writeOneByOne(t, live[0].addr(), "compacted-single", 400, a)
		for _, p := range live {
			if got := cli(t, p.addr(), "SAVE"); got != "OK" {
				t.Fatalf("SAVE on %s: %q", p.id, got)
			}
		}
		writeKeys(t, live, "after-save", 200, a)
		before := strings.Count(down.output(), "Installed remote snapshot")
		down.start()
		waitClusterOK(t, down.addr(), 60*time.Second)
		c.waitConverged(c.procs, 60*time.Second)
		if after := strings.Count(down.output(), "Installed remote snapshot"); after <= before {
			t.Fatalf("%s caught up without installing a snapshot", down.id)
		}
		checkAcked(t, down.addr(), a)
	})

	t.Run("pause a leader with SIGSTOP", func(t *testing.T) {
		leader := c.leaderOf(0, c.procs)
		live := without(c.procs, leader)
		leader.signal(syscall.SIGSTOP)
		took := writeUntilOK(t, live[0].addr(), c.keyInShard(0, "paused"), a)
		t.Logf("shard 0: leader %s paused; writes resumed after %v", leader.id, took.Round(time.Millisecond))
		time.Sleep(10*time.Second - took) // the pause itself is the fault under test
		leader.signal(syscall.SIGCONT)
		waitClusterOK(t, leader.addr(), 60*time.Second)
		writeKeys(t, c.procs, "after-pause", 300, a)
		c.waitConverged(c.procs, 60*time.Second)
		checkAcked(t, leader.addr(), a)
	})

	t.Run("add and remove a node", func(t *testing.T) {
		n4 := newProc(t, "n4", "--shards", "3", "--join")
		n4.start()
		waitFor(t, "n4 to answer PING", 30*time.Second, func() bool {
			c := plainClient(t, n4.addr())
			return c.Ping(context.Background()).Err() == nil
		})
		if out := cli(t, c.procs[0].addr(), "CLUSTER", "MEET", "127.0.0.1",
			strconv.Itoa(n4.port), strconv.Itoa(n4.clusterPort)); out != "OK" {
			t.Fatalf("CLUSTER MEET: %s", out)
		}
		writeKeys(t, append(c.procs, n4), "with-n4", 500, a)
		c.waitConverged(append(append([]*proc{}, c.procs...), n4), 60*time.Second)
		checkAcked(t, n4.addr(), a)

		n4ID := cli(t, n4.addr(), "CLUSTER", "MYID")
		if out := cli(t, c.procs[1].addr(), "CLUSTER", "FORGET", n4ID); out != "OK" {
			t.Fatalf("CLUSTER FORGET: %s", out)
		}
		writeKeys(t, c.procs, "without-n4", 500, a)
		c.waitConverged(c.procs, 60*time.Second)
		checkAcked(t, c.procs[2].addr(), a)

		// The removed node's data directory must not come back.
		n4.kill()
		n4.start()
		select {
		case <-n4.exited():
		case <-time.After(30 * time.Second):
			t.Fatal("removed node started again on its old data directory")
		}
		if !strings.Contains(n4.output(), "was removed from its cluster") {
			t.Fatalf("removed node exited without saying why:\n%s", n4.output())
		}
	})
}
