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

	"github.com/raftcache/raftcache/test/lin"
)

// infoInt reads one integer field of INFO from the node at addr.
func infoInt(t *testing.T, addr, section, field string) int64 {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO %s on %s: %v", section, addr, err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return 0
}

// TestEvictionUnderFailover fills a three-node cluster past maxmemory
// under allkeys-lru while a reader keeps a hot set busy, and SIGKILLs a
// shard leader half way. Afterwards the hot set must be there, every node
// must have applied the same evictions (same digest), and every
// acknowledged write that is gone must be accounted for by an eviction:
// the keys missing number at least evicted_keys minus the writes whose
// outcome is unknown, and at most evicted_keys.
func TestEvictionUnderFailover(t *testing.T) {
	fc := newFaultCluster(t, 3, 3, false)
	quietDialFailures()
	n1 := fc.procs[0]
	base := infoInt(t, n1.addr(), "memory", "maxmemory_counted")
	limit := base + 1<<20
	if out := cli(t, n1.addr(), "CONFIG", "SET", "maxmemory", strconv.FormatInt(limit, 10),
		"maxmemory-policy", "allkeys-lru"); out != "OK" {
		t.Fatalf("CONFIG SET: %s", out)
	}
	for _, p := range fc.procs {
		if got := cli(t, p.addr(), "CONFIG", "GET", "maxmemory-policy"); !strings.Contains(got, "allkeys-lru") {
			t.Fatalf("%s did not get the policy: %s", p.id, got)
		}
	}
	ctx := context.Background()
	value := strings.Repeat("v", 1000)
	hot := make([]string, 20)
	for i := range hot {
		hot[i] = fmt.Sprintf("hot:%d", i)
	}
	clients := fc.clients(10 * time.Second)
	var (
		mu      sync.Mutex
		down    *proc
		acked   = map[string]bool{}
		unknown = map[string]bool{}
	)
	setKey := func(key string) {
		for attempt := 0; attempt < 100; attempt++ {
			mu.Lock()
			live := fc.liveExcept(down)
			mu.Unlock()
			p := live[attempt%len(live)]
			err := clients[p].Set(ctx, key, value, 0).Err()
			outcome, _ := lin.Classify(err)
			mu.Lock()
			switch {
			case outcome == lin.Done && err != nil:
				mu.Unlock()
				t.Errorf("SET %s: %v", key, err)
				return
			case outcome == lin.Done:
				acked[key] = true
			case outcome == lin.Unknown:
				unknown[key] = true
			}
			mu.Unlock()
			if outcome != lin.NotDone {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("SET %s refused 100 times", key)
	}
	for _, k := range hot {
		setKey(k)
	}
	// A reader per hot key, so that one stalled by the failover does not
	// leave the others' keys unread.
	stopReads := make(chan struct{})
	var readers sync.WaitGroup
	for i, k := range hot {
		readers.Go(func() {
			for {
				select {
				case <-stopReads:
					return
				case <-time.After(5 * time.Millisecond):
				}
				mu.Lock()
				live := fc.liveExcept(down)
				mu.Unlock()
				clients[live[i%len(live)]].Get(ctx, k)
			}
		})
	}
	var victim *proc
	for i := range 3000 {
		setKey(fmt.Sprintf("cold:%d", i))
		if i == 1500 {
			victim = fc.leaderOf(1, fc.procs)
			mu.Lock()
			down = victim
			mu.Unlock()
			fc.stop(victim, syscall.SIGKILL)
			fc.start(victim)
		}
		if i == 1600 {
			waitClusterOK(t, victim.addr(), 60*time.Second)
			mu.Lock()
			down = nil
			mu.Unlock()
		}
	}
	close(stopReads)
	readers.Wait()
	fc.waitHealthy(60 * time.Second)
	fc.waitConverged(fc.procs, 60*time.Second)

	var survivor *proc
	for _, p := range fc.procs {
		if p != victim {
			survivor = p
			break
		}
	}
	evicted := infoInt(t, survivor.addr(), "stats", "evicted_keys")
	if evicted == 0 {
		t.Fatal("nothing was evicted")
	}
	c := clients[survivor]
	missing, hotLost := 0, 0
	for key := range acked {
		if err := c.Get(ctx, key).Err(); err == redis.Nil {
			missing++
			if strings.HasPrefix(key, "hot:") {
				hotLost++
			}
		} else if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
	}
	if int64(missing) > evicted || int64(missing) < evicted-int64(len(unknown)) {
		t.Errorf("%d acknowledged keys are missing, but %d keys were evicted (%d writes had an unknown outcome)",
			missing, evicted, len(unknown))
	}
	if hotLost > 2 {
		t.Errorf("%d of the %d hot keys were evicted", hotLost, len(hot))
	}
	if used := infoInt(t, survivor.addr(), "memory", "maxmemory_counted"); used > limit*11/10 {
		t.Errorf("memory %d is past maxmemory %d", used, limit)
	}
	t.Logf("report: %d acknowledged writes, %d unknown, %d evicted, %d missing, %d hot keys lost",
		len(acked), len(unknown), evicted, missing, hotLost)
	fc.checkProcesses()
}
