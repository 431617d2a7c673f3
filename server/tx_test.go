package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestWatchRetryLoopsCountExactly runs go-redis's optimistic-locking
// pattern (WATCH, GET, MULTI/SET/EXEC, retry on abort) from several
// clients at once: every increment must land exactly once, which holds
// only if EXEC aborts whenever the watched key changed in between.
func TestWatchRetryLoopsCountExactly(t *testing.T) {
	srv, _ := startServer(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx := t.Context()
			key := fmt.Sprintf("counter%d", proto)
			const workers, each = 4, 25
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				c := newClient(t, srv, proto)
				wg.Go(func() {
					for i := 0; i < each; i++ {
						for {
							err := c.Watch(ctx, func(tx *redis.Tx) error {
								n, err := tx.Get(ctx, key).Int()
								if err != nil && !errors.Is(err, redis.Nil) {
									return err
								}
								_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
									p.Set(ctx, key, n+1, 0)
									return nil
								})
								return err
							}, key)
							if errors.Is(err, redis.TxFailedErr) {
								continue // another worker won: retry
							}
							if err != nil {
								t.Errorf("watch loop: %v", err)
								return
							}
							break
						}
					}
				})
			}
			wg.Wait()
			got, err := newClient(t, srv, proto).Get(ctx, key).Int()
			if err != nil || got != workers*each {
				t.Fatalf("counter = %d, %v; want %d", got, err, workers*each)
			}
		})
	}
}

// TestTxPipelineGoRedis checks go-redis's MULTI/EXEC pipeline: replies
// in order, per-command errors kept in place, one shard's keys.
func TestTxPipelineGoRedis(t *testing.T) {
	srv, _ := startServer(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx := t.Context()
			c := newClient(t, srv, proto)
			k := func(s string) string { return "{tx" + strconv.Itoa(proto) + "}" + s }
			var incr *redis.IntCmd
			var get *redis.StringCmd
			var hgetall *redis.MapStringStringCmd
			cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, k("s"), "text", 0)
				incr = p.Incr(ctx, k("s")) // runtime error inside EXEC
				p.HSet(ctx, k("h"), "a", "1", "b", "2")
				hgetall = p.HGetAll(ctx, k("h"))
				get = p.Get(ctx, k("s"))
				p.Ping(ctx)
				return nil
			})
			if err == nil || err.Error() != "ERR value is not an integer or out of range" {
				t.Fatalf("TxPipelined error = %v, want the INCR error", err)
			}
			if len(cmds) != 6 || incr.Err() == nil || get.Val() != "text" ||
				hgetall.Val()["a"] != "1" || hgetall.Val()["b"] != "2" {
				t.Fatalf("replies: incr %v, get %q, hgetall %v", incr.Err(), get.Val(), hgetall.Val())
			}
			// A plain connection's transaction over two shards runs
			// whole, as on one Redis.
			var setA, incrB *redis.StatusCmd
			var incr2 *redis.IntCmd
			c.Del(ctx, "a", "b", "c") // a, b and c: three shards of the fake
			_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				setA = p.Set(ctx, "a", "1", 0)
				incr2 = p.IncrBy(ctx, "b", 2)
				incrB = p.Set(ctx, "c", "x", 0)
				return nil
			})
			if err != nil || setA.Val() != "OK" || incr2.Val() != 2 || incrB.Val() != "OK" {
				t.Fatalf("cross-shard transaction: %v (%v %v %v)", err, setA, incr2, incrB)
			}
			if v, err := c.MGet(ctx, "a", "b", "c").Result(); err != nil || v[0] != "1" || v[1] != "2" || v[2] != "x" {
				t.Fatalf("after the cross-shard transaction: %v %v", v, err)
			}
		})
	}
}

// TestTransactionIsOneBatch checks that a transaction reaches the backend
// as one Propose batch (one Raft entry), guard first, reads included.
func TestTransactionIsOneBatch(t *testing.T) {
	srv, b := startServer(t)
	rc := dialRaw(t, srv)
	rc.send("SET {t}a 1\r\n")
	rc.expect(ok)
	rc.send("WATCH {t}a\r\n")
	rc.expect(ok)
	before := b.proposals()
	rc.send("MULTI\r\nINCR {t}a\r\nGET {t}a\r\nPING\r\nEXEC\r\n")
	rc.expect(ok + queued + queued + queued + arr(integer(2), bulk("2"), simple("PONG")))
	got := b.proposals()[len(before):]
	if len(got) != 1 || len(got[0]) != 3 || string(got[0][0][0]) != "raftcache.tx" ||
		string(got[0][1][0]) != "INCR" || string(got[0][2][0]) != "GET" {
		t.Fatalf("proposals for the transaction: %q", got)
	}
}

// TestQueuedArgumentsAreCopied pipelines a transaction so that redcon
// reuses its read buffer between queueing and EXEC.
func TestQueuedArgumentsAreCopied(t *testing.T) {
	srv, _ := startServer(t)
	c := newClient(t, srv, 2)
	ctx := context.Background()
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < 200; i++ {
			p.Set(ctx, fmt.Sprintf("{q}%d", i), fmt.Sprintf("value-%d", i), 0)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if v, err := c.Get(ctx, fmt.Sprintf("{q}%d", i)).Result(); err != nil || v != fmt.Sprintf("value-%d", i) {
			t.Fatalf("GET {q}%d = %q, %v", i, v, err)
		}
	}
}

// TestCrossShardCommandsInMulti: commands whose own keys span shards,
// queued with others that use their results, run in order as one
// transaction (at the coordinator, under every shard's locks), and a
// watched key that changed aborts them all.
func TestCrossShardCommandsInMulti(t *testing.T) {
	srv, b := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	// a, b and c are in three shards of the fake.
	var rename, copied *redis.StatusCmd
	var incr *redis.IntCmd
	var cp *redis.IntCmd
	var get *redis.StringCmd
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "a", "1", time.Hour)
		rename = p.Rename(ctx, "a", "b")
		incr = p.Incr(ctx, "b")
		cp = p.Copy(ctx, "b", "c", 0, false)
		get = p.Get(ctx, "c")
		copied = p.Set(ctx, "a", "x", 0)
		return nil
	})
	if err != nil || rename.Val() != "OK" || incr.Val() != 2 || cp.Val() != 1 || get.Val() != "2" || copied.Val() != "OK" {
		t.Fatalf("transaction: %v: rename %v incr %v copy %v get %v", err, rename, incr, cp, get)
	}
	if v, err := c.MGet(ctx, "a", "b", "c").Result(); err != nil || v[0] != "x" || v[1] != "2" || v[2] != "2" {
		t.Fatalf("after: %v %v", v, err)
	}
	if ttl := c.TTL(ctx, "c").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("the TTL did not travel with RENAME and COPY: %v", ttl)
	}
	for shard := range 3 {
		if b.shards[shard].HasXLocks() {
			t.Fatalf("shard %d holds locks after EXEC", shard)
		}
	}
	// WATCH: another client's change aborts the whole transaction.
	other := newClient(t, srv, 2)
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		other.Set(ctx, "c", "changed", 0)
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Rename(ctx, "b", "c")
			return nil
		})
		return err
	}, "c")
	if err != redis.TxFailedErr {
		t.Fatalf("EXEC after a watched key changed: %v", err)
	}
	if v, err := c.MGet(ctx, "b", "c").Result(); err != nil || v[0] != "2" || v[1] != "changed" {
		t.Fatalf("an aborted transaction changed keys: %v %v", v, err)
	}
	info := c.Info(ctx, "stats").Val()
	for _, want := range []string{"raftcache_xtx_committed:1\r\n", "raftcache_xtx_aborted:1\r\n", "raftcache_xtx_tryagain:0\r\n"} {
		if !strings.Contains(info, want) {
			t.Fatalf("INFO stats lacks %q:\n%s", want, info)
		}
	}
}

// TestPipelinedCrossShardMSets: consecutive pipelined MSETs over several
// shards take effect together, as one cross-shard transaction, in order.
func TestPipelinedCrossShardMSets(t *testing.T) {
	srv, b := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	before := len(b.proposals())
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range 20 {
			p.MSet(ctx, "a", i, "b", i, fmt.Sprintf("k%d", i), i)
		}
		return nil
	})
	if err != nil || len(cmds) != 20 {
		t.Fatalf("pipeline: %v (%d replies)", err, len(cmds))
	}
	for _, cmd := range cmds {
		if cmd.(*redis.StatusCmd).Val() != "OK" {
			t.Fatalf("reply: %v", cmd)
		}
	}
	if v, err := c.MGet(ctx, "a", "b", "k0", "k19").Result(); err != nil || v[0] != "19" || v[1] != "19" || v[2] != "0" || v[3] != "19" {
		t.Fatalf("after: %v %v", v, err)
	}
	if n := len(b.proposals()) - before; n > 5 {
		t.Fatalf("20 pipelined MSETs made %d proposals, want one transaction's (≤ 5)", n)
	}
}
