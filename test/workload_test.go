package test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/test/lin"
)

// workloadConfig shapes a workload: how many clients of each kind, which
// keys, how fast.
type workloadConfig struct {
	seed     int64
	nodes    []string // client addresses; plain clients are spread over them
	plain    int      // workers with a plain go-redis Client on one node
	cluster  int      // workers with a go-redis ClusterClient
	strKeys  []string // GET, SET, INCR, DEL, EXPIRE
	hashKeys []string // HSET, HGET, DEL, EXPIRE
	fields   int      // fields per hash key
	// rate is each worker's operations per second, kept modest so that a
	// ten-minute history stays checkable.
	rate      float64
	opTimeout time.Duration
	// staleCache deliberately breaks the clients: each keeps the last
	// value it read or wrote per key and answers most GETs from it without
	// asking the server. Only GET and SET are sent.
	staleCache bool
}

// expireTTL is the TTL every EXPIRE gives: far longer than any run, so a
// key never expires during a history and the model can treat EXPIRE as
// "does the key exist" (see lin.Model).
const expireTTL = 7 * 24 * 3600

// workload runs the clients and records every operation in rec.
type workload struct {
	cfg     workloadConfig
	rec     *lin.Recorder
	shardOf func(key string) int
	uniq    atomic.Int64
	invoked atomic.Int64 // operations sent to the server
	// finalReadCount is how many reads finalReads added to the history.
	finalReadCount int
	cancel         context.CancelFunc
	wg             sync.WaitGroup

	mu        sync.Mutex
	acks      map[int][]time.Duration // shard → completion times of acknowledged writes
	classes   map[string]int          // outcome and error class → count
	sets      map[string][]setSpan    // key → acknowledged SETs (staleCache only)
	staleHits int                     // cache answers provably stale (staleCache only)
}

type setSpan struct {
	call, ret time.Duration
	value     string
}

// quietDialFailures stops go-redis from logging every refused dial:
// under faults they are expected, and thousands of them bury the report.
var quietDialFailures = sync.OnceFunc(func() { redis.SetLogger(dialFilter{log.New(os.Stderr, "redis: ", log.LstdFlags)}) })

type dialFilter struct{ l *log.Logger }

func (f dialFilter) Printf(_ context.Context, format string, v ...any) {
	if msg := fmt.Sprintf(format, v...); !strings.Contains(msg, "failed to dial") {
		f.l.Print(msg)
	}
}

// startWorkload starts cfg's workers; stop ends them.
func startWorkload(t testing.TB, cfg workloadConfig, shardOf func(string) int) *workload {
	quietDialFailures()
	ctx, cancel := context.WithCancel(context.Background())
	w := &workload{cfg: cfg, rec: lin.NewRecorder(), shardOf: shardOf, cancel: cancel,
		acks: map[int][]time.Duration{}, classes: map[string]int{}, sets: map[string][]setSpan{}}
	for i := range cfg.plain + cfg.cluster {
		var c doer
		var name string
		if i < cfg.plain {
			addr := cfg.nodes[i%len(cfg.nodes)]
			c = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1,
				ReadTimeout: cfg.opTimeout, WriteTimeout: cfg.opTimeout, PoolSize: 1})
			name = "plain@" + addr
		} else {
			c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: cfg.nodes, MaxRedirects: -1, MaxRetries: -1,
				DialTimeout: time.Second, DialerRetries: 1, ReadTimeout: cfg.opTimeout, WriteTimeout: cfg.opTimeout,
				PoolSize: 1, ClusterStateReloadInterval: 2 * time.Second})
			name = "cluster"
		}
		rng := rand.New(rand.NewPCG(uint64(cfg.seed), uint64(i)))
		w.wg.Go(func() {
			defer c.Close()
			w.worker(ctx, c, name, rng)
		})
	}
	t.Cleanup(w.stop)
	return w
}

// stop ends the workers and waits for their last operations.
func (w *workload) stop() {
	w.cancel()
	w.wg.Wait()
}

// next draws an operation.
func (w *workload) next(rng *rand.Rand) lin.Input {
	if w.cfg.staleCache {
		k := w.cfg.strKeys[rng.IntN(len(w.cfg.strKeys))]
		if rng.IntN(10) < 6 {
			return lin.Input{Kind: lin.Get, Key: k}
		}
		return lin.Input{Kind: lin.Set, Key: k, Value: lin.SetValue(w.uniq.Add(1))}
	}
	r := rng.IntN(100)
	if r < 25 {
		k := w.cfg.hashKeys[rng.IntN(len(w.cfg.hashKeys))]
		f := fmt.Sprintf("f%d", rng.IntN(w.cfg.fields))
		switch {
		case r < 12:
			return lin.Input{Kind: lin.HSet, Key: k, Field: f, Value: lin.HashValue(w.uniq.Add(1))}
		case r < 23:
			return lin.Input{Kind: lin.HGet, Key: k, Field: f}
		case r < 24:
			return lin.Input{Kind: lin.Del, Key: k}
		}
		return lin.Input{Kind: lin.Expire, Key: k, TTL: expireTTL}
	}
	k := w.cfg.strKeys[rng.IntN(len(w.cfg.strKeys))]
	switch {
	case r < 55:
		return lin.Input{Kind: lin.Get, Key: k}
	case r < 75:
		return lin.Input{Kind: lin.Set, Key: k, Value: lin.SetValue(w.uniq.Add(1))}
	case r < 91:
		return lin.Input{Kind: lin.Incr, Key: k}
	case r < 95:
		return lin.Input{Kind: lin.Del, Key: k}
	}
	return lin.Input{Kind: lin.Expire, Key: k, TTL: expireTTL}
}

// cacheEntry is a stale-cache value and when it was learnt.
type cacheEntry struct {
	out    lin.Output
	filled time.Duration
}

// doer is what the workers need of a go-redis Client or ClusterClient.
type doer interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
	Close() error
}

func (w *workload) worker(ctx context.Context, c doer, name string, rng *rand.Rand) {
	client := w.rec.NewClient()
	cache := map[string]cacheEntry{}
	interval := time.Duration(float64(time.Second) / w.cfg.rate)
	for ctx.Err() == nil {
		began := time.Now()
		in := w.next(rng)
		if e, ok := cache[in.Key]; ok && in.Kind == lin.Get && rng.IntN(10) < 7 {
			now := w.rec.Now()
			w.rec.Add(lin.Op{Client: client, Input: in, Output: e.out, Call: now, Return: now, Note: name + " (cache)"})
			w.noteCacheHit(in.Key, e, now)
			w.pace(ctx, began, interval, rng)
			continue
		}
		// Operations run to their own end, not the workload's: the final
		// operations' outcomes matter as much as the others'.
		opCtx, cancel := context.WithTimeout(context.Background(), w.cfg.opTimeout+3*time.Second)
		w.invoked.Add(1)
		call := w.rec.Now()
		cmd := c.Do(opCtx, in.Args()...)
		ret := w.rec.Now()
		cancel()
		outcome, class := lin.Classify(cmd.Err())
		switch outcome {
		case lin.Done:
			out := outputOf(in, cmd, class)
			w.rec.Add(lin.Op{Client: client, Input: in, Output: out, Call: call, Return: ret, Note: name})
			if in.Kind.IsWrite() && out.Err == "" {
				w.ack(in, call, ret)
			}
			if w.cfg.staleCache && out.Err == "" {
				switch in.Kind {
				case lin.Get:
					cache[in.Key] = cacheEntry{out, ret}
				case lin.Set:
					cache[in.Key] = cacheEntry{lin.Output{Str: in.Value}, ret}
				}
			}
		case lin.NotDone:
			w.rec.Failed(in)
			w.count("not done: " + class)
		case lin.Unknown:
			w.count("unknown: " + class)
			if in.Kind.IsWrite() {
				w.rec.Add(lin.Op{Client: client, Input: in, Output: lin.Output{Unknown: true}, Call: call, Return: ret,
					Note: name + ": " + cmd.Err().Error()})
				client = w.rec.NewClient() // the open operation keeps the old one
			}
		}
		if outcome != lin.Done {
			// Back off a little so a node that is down is not hammered.
			interval := max(interval, 50*time.Millisecond)
			w.pace(ctx, began, interval, rng)
			continue
		}
		w.pace(ctx, began, interval, rng)
	}
}

// pace waits out the rest of a worker's interval, with some jitter.
func (w *workload) pace(ctx context.Context, began time.Time, interval time.Duration, rng *rand.Rand) {
	wait := time.Until(began.Add(interval/2 + time.Duration(rng.Int64N(int64(interval)))))
	if wait <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(wait):
	}
}

// outputOf turns a completed command's reply into the model's Output.
func outputOf(in lin.Input, cmd *redis.Cmd, errClass string) lin.Output {
	if errClass != "" {
		return lin.Output{Err: errClass}
	}
	switch in.Kind {
	case lin.Get, lin.HGet:
		if cmd.Err() == redis.Nil {
			return lin.Output{Nil: true}
		}
		s, _ := cmd.Text()
		return lin.Output{Str: s}
	case lin.Set:
		s, _ := cmd.Text()
		return lin.Output{Str: s}
	}
	n, err := cmd.Int64()
	if err != nil {
		return lin.Output{Err: "unparsable reply: " + err.Error()}
	}
	return lin.Output{Int: n}
}

func (w *workload) ack(in lin.Input, call, ret time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	shard := w.shardOf(in.Key)
	w.acks[shard] = append(w.acks[shard], ret)
	if w.cfg.staleCache && in.Kind == lin.Set {
		w.sets[in.Key] = append(w.sets[in.Key], setSpan{call, ret, in.Value})
	}
	w.classes["acknowledged write"]++
}

func (w *workload) count(class string) {
	w.mu.Lock()
	w.classes[class]++
	w.mu.Unlock()
}

// noteCacheHit counts a cache answer as provably stale when another SET
// of the key began after the cached value was learnt and was acknowledged
// before the cached read began: with unique values, no linearization can
// put the cached value after it.
func (w *workload) noteCacheHit(key string, e cacheEntry, at time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.sets[key] {
		if s.call > e.filled && s.ret < at && s.value != e.out.Str {
			w.staleHits++
			return
		}
	}
}

func (w *workload) provablyStale() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.staleHits
}

// ackedSince reports whether every shard has an acknowledged write that
// completed after at.
func (w *workload) ackedSince(shards int, at time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for s := range shards {
		a := w.acks[s]
		if len(a) == 0 || a[len(a)-1] <= at {
			return false
		}
	}
	return true
}

// outage is a stretch without acknowledged writes on a shard.
type outage struct {
	from, length time.Duration
}

// longestOutage returns, per shard, the longest time between two
// acknowledged writes (or between from and the first, or the last and to)
// within [from, to].
func (w *workload) longestOutage(shards int, from, to time.Duration) []outage {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]outage, shards)
	for s := range shards {
		a := slices.Clone(w.acks[s])
		slices.Sort(a)
		prev := from
		for _, t := range a {
			if t < from {
				continue
			}
			if t > to {
				break
			}
			if t-prev > out[s].length {
				out[s] = outage{prev, t - prev}
			}
			prev = t
		}
		if to-prev > out[s].length {
			out[s] = outage{prev, to - prev}
		}
	}
	return out
}

// resumedAfter returns how long after at the shard's next write was
// acknowledged, or -1 if none was.
func (w *workload) resumedAfter(shard int, at time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	best := time.Duration(-1)
	for _, t := range w.acks[shard] {
		if t > at && (best < 0 || t-at < best) {
			best = t - at
		}
	}
	return best
}

// classReport summarises the error classes seen.
func (w *workload) classReport() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for c, n := range w.classes {
		parts = append(parts, fmt.Sprintf("%s=%d", c, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// finalReads reads every key (and every field of every hash key) through
// each address, after the faults, and adds the reads to the history: the
// checker then proves every acknowledged write survived. Reads change
// nothing, so one that fails is retried.
func (w *workload) finalReads(t testing.TB, addrs []string) {
	t.Helper()
	var ins []lin.Input
	for _, k := range w.cfg.strKeys {
		ins = append(ins, lin.Input{Kind: lin.Get, Key: k})
	}
	for _, k := range w.cfg.hashKeys {
		for f := range w.cfg.fields {
			ins = append(ins, lin.Input{Kind: lin.HGet, Key: k, Field: fmt.Sprintf("f%d", f)})
		}
	}
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: w.cfg.opTimeout})
		client := w.rec.NewClient()
		for _, in := range ins {
			deadline := time.Now().Add(30 * time.Second)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), w.cfg.opTimeout+3*time.Second)
				call := w.rec.Now()
				cmd := c.Do(ctx, in.Args()...)
				ret := w.rec.Now()
				cancel()
				outcome, class := lin.Classify(cmd.Err())
				if outcome == lin.Done {
					w.rec.Add(lin.Op{Client: client, Input: in, Output: outputOf(in, cmd, class), Call: call, Return: ret,
						Note: "final read@" + addr})
					w.finalReadCount++
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("final read %s through %s: %v", in, addr, cmd.Err())
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		c.Close()
	}
}
