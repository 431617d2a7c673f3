package test

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/store"
)

// testCluster is a set of raftcache processes started from one --peers
// list.
type testCluster struct {
	t      testing.TB
	shards int
	procs  []*proc
}

// newCluster starts n nodes with the given shards and extra flags and
// waits until each reports cluster_state:ok.
func newCluster(t testing.TB, n, shards int, extra ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, shards: shards}
	var peers []string
	for i := 1; i <= n; i++ {
		p := newProc(t, "n"+strconv.Itoa(i))
		c.procs = append(c.procs, p)
		peers = append(peers, fmt.Sprintf("%s=127.0.0.1:%d@%d", p.id, p.port, p.clusterPort))
	}
	for _, p := range c.procs {
		p.extra = append([]string{"--shards", strconv.Itoa(shards), "--peers", strings.Join(peers, ",")}, extra...)
		p.start()
	}
	for _, p := range c.procs {
		waitClusterOK(t, p.addr(), 60*time.Second)
	}
	return c
}

func (c *testCluster) proc(id string) *proc {
	for _, p := range c.procs {
		if p.id == id {
			return p
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

// shardOfKey mirrors the node's layout: contiguous slot ranges, shard i
// owning slots i*NumSlots/n up to (i+1)*NumSlots/n - 1 (slot*n/NumSlots
// alone is one shard short at some boundaries, such as slot 5461 of 3).
func (c *testCluster) shardOfKey(key string) int {
	slot := store.SlotOf([]byte(key))
	i := slot * c.shards / store.NumSlots
	if slot >= (i+1)*store.NumSlots/c.shards {
		i++
	}
	return i
}

// keyInShard returns a key, unique for tag, that lives in shard.
func (c *testCluster) keyInShard(shard int, tag string) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s:%d", tag, i)
		if c.shardOfKey(k) == shard {
			return k
		}
	}
}

// shardInfo is one "shardN:" line of INFO replication.
type shardInfo struct {
	leader       string
	state        string
	appliedIndex uint64
	commitIndex  uint64
	snapIndex    uint64
	leaseMS      uint64 // how long the leader's read lease still runs
}

// shardInfos asks the node at addr for its view of every shard; ok is
// false if the node does not answer.
func shardInfos(addr string) (map[int]shardInfo, bool) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return nil, false
	}
	out := map[int]shardInfo{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, fields, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "shard") {
			continue
		}
		id, err := strconv.Atoi(strings.TrimPrefix(name, "shard"))
		if err != nil {
			continue
		}
		var si shardInfo
		for _, kv := range strings.Split(fields, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseUint(v, 10, 64)
			switch k {
			case "leader":
				si.leader = v
			case "state":
				si.state = v
			case "applied_index":
				si.appliedIndex = n
			case "commit_index":
				si.commitIndex = n
			case "snapshot_index":
				si.snapIndex = n
			case "lease_ms":
				si.leaseMS = n
			}
		}
		out[id] = si
	}
	return out, true
}

// leaderOf waits until the live nodes agree on a leader of shard and
// returns it.
func (c *testCluster) leaderOf(shard int, live []*proc) *proc {
	c.t.Helper()
	var leader string
	waitFor(c.t, fmt.Sprintf("a leader of shard %d", shard), 30*time.Second, func() bool {
		leader = ""
		for _, p := range live {
			infos, ok := shardInfos(p.addr())
			if !ok {
				return false
			}
			l := infos[shard].leader
			if l == "" || (leader != "" && l != leader) {
				return false
			}
			leader = l
		}
		return leader != ""
	})
	return c.proc(leader)
}

// digest returns DEBUG DIGEST of the node at addr.
func digest(t testing.TB, addr string) string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	d, err := c.Do(context.Background(), "DEBUG", "DIGEST").Text()
	if err != nil {
		t.Fatalf("DEBUG DIGEST on %s: %v", addr, err)
	}
	return d
}

// waitConverged waits until every node in procs has applied the same
// entries and reports the same digest.
func (c *testCluster) waitConverged(procs []*proc, timeout time.Duration) {
	c.t.Helper()
	var last []string
	waitFor(c.t, "replicas to converge", timeout, func() bool {
		last = last[:0]
		for _, p := range procs {
			last = append(last, p.id+"="+digest(c.t, p.addr()))
		}
		for i := 1; i < len(last); i++ {
			if strings.SplitN(last[i], "=", 2)[1] != strings.SplitN(last[0], "=", 2)[1] {
				return false
			}
		}
		return true
	})
}

// signal sends sig to the running process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v to %s: %v", sig, p.id, err)
	}
}

// output returns everything the process printed so far (all runs).
func (p *proc) output() string { return p.allLogs.String() }

// exited is closed when the current run of the process ends.
func (p *proc) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}
