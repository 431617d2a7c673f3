package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/store"
)

// The cross-shard run (-xtx N): a 3-node raftcache cluster and a
// redis-server with appendonly (appendfsync as -fsync) get the same
// commands from go-redis plain clients — raftcache's through n1 — and the
// latency of every call is recorded. The commands are single-shard
// baselines (SET, GET, 2-key MSET and MULTI/EXEC in one shard) and their
// cross-shard counterparts, which raftcache runs as a two-phase commit over
// the shards' Raft groups. Each round measures every command at every
// concurrency against both servers in turn, the first server alternating,
// so that the machine's changes of speed hit both; the report gives the
// median over rounds of each round's percentiles.

// xtxConcurrency are the concurrency levels: one client calling in
// sequence, and 16 goroutines with a connection each.
var xtxConcurrency = []int{1, 16}

const (
	xtxValue      = "0123456789abcdef"
	xtxGetKeys    = 256 // keys per shard that GET reads
	xtxTarget     = 3.0 // the bound on cross-shard p50 ÷ SET p50
	xtxDefRounds  = 3
	xtxQuickOps   = 200
	xtxOpTimeout  = 10 * time.Second
	xtxSetupBatch = 500
)

// slotRange is the slots one shard owns, inclusive.
type slotRange struct{ first, last int }

// shardRanges reads every shard's slots from raftcache's INFO replication
// ("shard0:slots=0-5460,state=leader,..."), indexed by shard number.
func shardRanges(info string) ([]slotRange, error) {
	var out []slotRange
	for k, v := range infoFields(info) {
		num, ok := strings.CutPrefix(k, "shard")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(num)
		if err != nil || i < 0 || i > store.NumSlots {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(kv, "=")
			if name != "slots" {
				continue
			}
			a, b, _ := strings.Cut(val, "-")
			first, err1 := strconv.Atoi(a)
			last, err2 := strconv.Atoi(b)
			if err1 != nil || err2 != nil || first > last {
				return nil, fmt.Errorf("INFO replication: %s: bad slots %q", k, val)
			}
			if i >= len(out) {
				out = append(out, make([]slotRange, i+1-len(out))...)
			}
			out[i] = slotRange{first, last}
		}
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("INFO replication names %d shards with slots; the run needs at least 2", len(out))
	}
	for i, r := range out {
		if r.last == 0 && r.first == 0 && i > 0 {
			return nil, fmt.Errorf("INFO replication: no slots for shard%d", i)
		}
	}
	return out, nil
}

// keyGen makes fresh keys, all starting with its prefix, in a wanted
// shard. Not safe for concurrent use: each worker has its own.
type keyGen struct {
	prefix string
	shards []slotRange
	n      int
}

// next returns a key never returned before whose slot the given shard
// owns.
func (g *keyGen) next(shard int) string {
	r := g.shards[shard]
	for {
		g.n++
		k := g.prefix + strconv.Itoa(g.n)
		if s := store.SlotOf([]byte(k)); s >= r.first && s <= r.last {
			return k
		}
	}
}

// sameSlot returns two fresh keys sharing one hash tag, whose slot the
// given shard owns.
func (g *keyGen) sameSlot(shard int) (string, string) {
	tag := "{" + g.next(shard) + "}"
	return tag + "a", tag + "b"
}

// nearestRank is the q-quantile of sorted samples by the nearest-rank
// definition: the smallest sample with at least q of all samples at or
// below it.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(len(sorted)-1, i))]
}

// medianDuration of values (the mean of the middle two for an even count).
func medianDuration(values []time.Duration) time.Duration {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// xtxWorker is one goroutine's connection and key source.
type xtxWorker struct {
	c    *redis.Client
	keys *keyGen
	// srcs are the keys RENAME moves, created before it is timed.
	srcs []string
	// getKeys are existing keys per shard for GET.
	getKeys [][]string
}

// xtxOp is one measured command.
type xtxOp struct {
	name  string
	cross bool // its keys are in two shards
	// prepare, if set, runs untimed before the n calls of one worker.
	prepare func(ctx context.Context, w *xtxWorker, n int, shardOf func(i int) int) error
	// do is the timed call number i of worker w, in shard (or from shard
	// to shard+1) a.
	do func(ctx context.Context, w *xtxWorker, i, a int) error
}

var xtxOps = []xtxOp{
	{name: "SET (one shard)", do: func(ctx context.Context, w *xtxWorker, _, a int) error {
		return w.c.Set(ctx, w.keys.next(a), xtxValue, 0).Err()
	}},
	{name: "GET (one shard)", do: func(ctx context.Context, w *xtxWorker, i, a int) error {
		keys := w.getKeys[a]
		v, err := w.c.Get(ctx, keys[i%len(keys)]).Result()
		if err == nil && v != xtxValue {
			err = fmt.Errorf("GET: %q", v)
		}
		return err
	}},
	{name: "MSET 2 keys, 2 shards", cross: true, do: func(ctx context.Context, w *xtxWorker, _, a int) error {
		b := (a + 1) % len(w.keys.shards)
		return w.c.MSet(ctx, w.keys.next(a), xtxValue, w.keys.next(b), xtxValue).Err()
	}},
	{name: "MSET 2 keys, 1 shard", do: func(ctx context.Context, w *xtxWorker, _, a int) error {
		k1, k2 := w.keys.sameSlot(a)
		return w.c.MSet(ctx, k1, xtxValue, k2, xtxValue).Err()
	}},
	{name: "RENAME to another shard", cross: true,
		prepare: func(ctx context.Context, w *xtxWorker, n int, shardOf func(i int) int) error {
			w.srcs = w.srcs[:0]
			for i := range n {
				w.srcs = append(w.srcs, w.keys.next(shardOf(i)))
			}
			return setAll(ctx, w.c, w.srcs)
		},
		do: func(ctx context.Context, w *xtxWorker, i, a int) error {
			b := (a + 1) % len(w.keys.shards)
			return w.c.Rename(ctx, w.srcs[i], w.keys.next(b)).Err()
		}},
	{name: "MULTI 2×INCRBY, 2 shards", cross: true, do: func(ctx context.Context, w *xtxWorker, _, a int) error {
		b := (a + 1) % len(w.keys.shards)
		return incrPair(ctx, w.c, w.keys.next(a), w.keys.next(b))
	}},
	{name: "MULTI 2×INCRBY, 1 shard", do: func(ctx context.Context, w *xtxWorker, _, a int) error {
		k1, k2 := w.keys.sameSlot(a)
		return incrPair(ctx, w.c, k1, k2)
	}},
}

// incrPair runs MULTI, INCRBY k1 1, INCRBY k2 1, EXEC on fresh keys and
// checks that both counters came back as 1.
func incrPair(ctx context.Context, c *redis.Client, k1, k2 string) error {
	var a, b *redis.IntCmd
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		a = p.IncrBy(ctx, k1, 1)
		b = p.IncrBy(ctx, k2, 1)
		return nil
	})
	if err != nil {
		return err
	}
	if a.Val() != 1 || b.Val() != 1 {
		return fmt.Errorf("MULTI: INCRBY of fresh keys gave %d and %d", a.Val(), b.Val())
	}
	return nil
}

// setAll SETs keys to xtxValue, pipelined in batches.
func setAll(ctx context.Context, c *redis.Client, keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), xtxSetupBatch)]
		keys = keys[len(batch):]
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range batch {
				p.Set(ctx, k, xtxValue, 0)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("setting up keys: %w", err)
		}
	}
	return nil
}

// xtxServer is one of the two servers measured.
type xtxServer struct {
	name    string
	workers []*xtxWorker // as many as the highest concurrency
}

// xtxKey names one cell of the report.
type xtxKey struct {
	conc   int
	op     int // index in xtxOps
	server string
}

// xtxCell is what a cell's rounds measured.
type xtxCell struct {
	p50, p90, p99 []time.Duration // one per round
	samples       int
	errors        int
	firstErr      string
}

// xtxResult is the whole run.
type xtxResult struct {
	ops, rounds int
	cells       map[xtxKey]*xtxCell
	leaders     string // shard leaders before the run
	leadersEnd  string // and after, if they changed
	notes       []string
}

const (
	xtxRaftcache = "raftcache"
	xtxRedis     = "redis-server"
)

// xtxReport builds raftcache, runs the cross-shard measurement and returns
// its report.
func (h *harness) xtxReport(ctx context.Context) (string, error) {
	began := time.Now()
	loadStart := loadAverage()
	if err := h.buildRaftcache(ctx); err != nil {
		return "", err
	}
	mach := describeMachine(ctx, h.tools, h.work)
	mach.loadStart = loadStart
	if mach.raftcache == "unknown revision" && h.cfg.binary == "" {
		mach.raftcache = worktreeRevision(ctx, h.root)
	}
	ops, rounds := h.cfg.xtx, h.cfg.rounds
	if h.cfg.quick {
		ops = min(ops, xtxQuickOps)
	}
	res, err := h.runXtx(ctx, ops, rounds)
	if err != nil {
		return "", err
	}
	return res.markdown(h.cfg, mach, began, loadAverage()), nil
}

// worktreeRevision names the commit the module's directory has checked out
// (and whether it has changes), for a binary built without a VCS stamp
// (GOFLAGS=-buildvcs=false).
func worktreeRevision(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown revision"
	}
	rev := strings.TrimSpace(string(out)) + " (git HEAD of the build directory"
	if st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		rev += ", with uncommitted changes"
	}
	return rev + ")"
}

func (h *harness) runXtx(ctx context.Context, ops, rounds int) (*xtxResult, error) {
	res := &xtxResult{ops: ops, rounds: rounds, cells: map[xtxKey]*xtxCell{}}
	procs, addrs, _, err := h.startRaftcache(ctx, "xtx-raftcache", 3)
	if err != nil {
		return nil, fmt.Errorf("raftcache: %w", err)
	}
	defer h.fleet.stopGroup(procs)
	h.logf("raftcache ready on %s", strings.Join(addrs, ", "))
	rp, raddr, err := h.startRedis(ctx, "xtx-redis", "--appendonly", "yes", "--appendfsync", h.cfg.fsync)
	if rp != nil {
		defer h.fleet.stopGroup([]*process{rp})
	}
	if err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	h.logf("redis-server ready on %s", raddr)

	info, err := command(addrs[0], "INFO", "replication")
	if err != nil {
		return nil, fmt.Errorf("INFO replication: %w", err)
	}
	shards, err := shardRanges(info)
	if err != nil {
		return nil, err
	}
	res.leaders = describeLeaders(info)

	servers := []*xtxServer{{name: xtxRaftcache}, {name: xtxRedis}}
	for _, s := range servers {
		addr := addrs[0]
		if s.name == xtxRedis {
			addr = raddr
		}
		if err := s.connect(ctx, addr, shards, slices.Max(xtxConcurrency)); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		defer s.close()
	}

	// A warm-up, discarded: connections, Raft pipelines and the servers'
	// allocators get going before anything counts.
	warm := max(16, min(ops/10, 200))
	for _, s := range servers {
		for oi := range xtxOps {
			if _, err := s.measure(ctx, oi, slices.Max(xtxConcurrency), warm, "warm"); err != nil {
				return nil, fmt.Errorf("%s warm-up %s: %w", s.name, xtxOps[oi].name, err)
			}
		}
	}

	before, okBefore := h.takeCPUSnapshot()
	step, total := 0, rounds*len(xtxConcurrency)*len(xtxOps)*len(servers)
	for round := range rounds {
		for _, conc := range xtxConcurrency {
			for oi, op := range xtxOps {
				for j := range servers {
					// The server that goes first alternates.
					s := servers[(j+round+oi)%len(servers)]
					tag := fmt.Sprintf("r%dc%d", round, conc)
					m, err := s.measure(ctx, oi, conc, ops, tag)
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					if err != nil {
						return nil, fmt.Errorf("%s %s: %w", s.name, op.name, err)
					}
					step++
					k := xtxKey{conc: conc, op: oi, server: s.name}
					c := res.cells[k]
					if c == nil {
						c = &xtxCell{}
						res.cells[k] = c
					}
					c.add(m)
					h.logf("[%d/%d] round %d, %2d clients, %-26s %-12s p50 %v p99 %v, %d errors", step, total, round+1,
						conc, op.name, s.name, ms(m.p50), ms(m.p99), m.errors)
				}
			}
		}
	}
	if after, ok := h.takeCPUSnapshot(); ok && okBefore {
		if f := foreignShare(before, after); f > busyMachine {
			res.notes = append(res.notes, fmt.Sprintf("**Other processes used %.0f%% of the machine's CPU during "+
				"the measurements: the figures are noisy.**", f*100))
		} else if !math.IsNaN(f) {
			res.notes = append(res.notes, fmt.Sprintf("Other processes used %.0f%% of the machine's CPU during the "+
				"measurements.", f*100))
		}
	}
	if info, err := command(addrs[0], "INFO", "replication"); err == nil {
		if l := describeLeaders(info); l != res.leaders {
			res.leadersEnd = l
		}
	}
	return res, nil
}

// describeLeaders is "shard0 n1, shard1 n2, ..." from INFO replication.
func describeLeaders(info string) string {
	leaders := shardLeaders(info)
	var parts []string
	for i := range len(leaders) {
		name := "shard" + strconv.Itoa(i)
		parts = append(parts, name+" "+leaders[name])
	}
	return strings.Join(parts, ", ")
}

// connect opens n plain clients of one connection each, sets up the keys
// GET reads, and checks every connection with PING.
func (s *xtxServer) connect(ctx context.Context, addr string, shards []slotRange, n int) error {
	for range n {
		c := redis.NewClient(&redis.Options{
			Addr: addr, PoolSize: 1, MinIdleConns: 1,
			// No retries: a TRYAGAIN or a timeout is counted, not hidden
			// in a longer latency.
			MaxRetries:  -1,
			ReadTimeout: xtxOpTimeout, WriteTimeout: xtxOpTimeout, DialTimeout: xtxOpTimeout,
		})
		s.workers = append(s.workers, &xtxWorker{c: c})
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("PING: %w", err)
		}
	}
	g := &keyGen{prefix: "xtx:get:", shards: shards}
	getKeys := make([][]string, len(shards))
	var all []string
	for sh := range shards {
		for range xtxGetKeys {
			k := g.next(sh)
			getKeys[sh] = append(getKeys[sh], k)
			all = append(all, k)
		}
	}
	if err := setAll(ctx, s.workers[0].c, all); err != nil {
		return err
	}
	for i, w := range s.workers {
		w.getKeys = getKeys
		w.keys = &keyGen{shards: shards, prefix: fmt.Sprintf("xtx:w%d:", i)}
	}
	return nil
}

func (s *xtxServer) close() {
	for _, w := range s.workers {
		w.c.Close()
	}
}

// xtxMeasure is one round of one command at one concurrency on one server.
type xtxMeasure struct {
	p50, p90, p99 time.Duration
	samples       int
	errors        int
	firstErr      string
}

func (c *xtxCell) add(m xtxMeasure) {
	c.p50 = append(c.p50, m.p50)
	c.p90 = append(c.p90, m.p90)
	c.p99 = append(c.p99, m.p99)
	c.samples += m.samples
	c.errors += m.errors
	if c.firstErr == "" {
		c.firstErr = m.firstErr
	}
}

// measure runs ops calls of command oi split over conc workers, started
// together, and times every call that succeeds. Its error means the
// set-up (not a timed call) failed.
func (s *xtxServer) measure(ctx context.Context, oi, conc, ops int, tag string) (xtxMeasure, error) {
	op := xtxOps[oi]
	var m xtxMeasure
	samples := make([][]time.Duration, conc)
	errs := make([]int, conc)
	firstErr := make([]string, conc)
	for w := range conc {
		worker := s.workers[w]
		worker.keys.prefix = fmt.Sprintf("xtx:%s:o%d:w%d:", tag, oi, w)
		if op.prepare != nil {
			n := share(ops, conc, w)
			if err := op.prepare(ctx, worker, n, func(i int) int { return (w + i) % len(worker.keys.shards) }); err != nil {
				return m, err
			}
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range conc {
		worker := s.workers[w]
		n := share(ops, conc, w)
		samples[w] = make([]time.Duration, 0, n)
		wg.Go(func() {
			<-start
			for i := range n {
				if ctx.Err() != nil {
					return
				}
				// Workers start in different shards and go round them, so
				// each shard (and its leader) gets a third of the calls.
				a := (w + i) % len(worker.keys.shards)
				t0 := time.Now()
				err := op.do(ctx, worker, i, a)
				d := time.Since(t0)
				if err != nil {
					errs[w]++
					if firstErr[w] == "" {
						firstErr[w] = err.Error()
					}
					continue
				}
				samples[w] = append(samples[w], d)
			}
		})
	}
	close(start)
	wg.Wait()
	var all []time.Duration
	for w := range conc {
		all = append(all, samples[w]...)
		m.errors += errs[w]
		if m.firstErr == "" {
			m.firstErr = firstErr[w]
		}
	}
	slices.Sort(all)
	m.samples = len(all)
	m.p50, m.p90, m.p99 = nearestRank(all, 0.50), nearestRank(all, 0.90), nearestRank(all, 0.99)
	if len(all) == 0 && m.errors > 0 {
		return m, errors.New("every call failed: " + m.firstErr)
	}
	return m, nil
}

// share is how many of ops calls worker w of conc makes.
func share(ops, conc, w int) int {
	n := ops / conc
	if w < ops%conc {
		n++
	}
	return n
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

// markdown is the -xtx report.
func (r *xtxResult) markdown(cfg config, m machine, began time.Time, loadEnd string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# raftcache cross-shard commands\n\n")
	w("Generated by `%s` on %s (run took %v). CPU: %s, %d cores; %s; Go %s; raftcache %s; redis-server %s; "+
		"data directories on %s; load average (1 min) %s before the run, %s at its end.\n\n",
		commandLine(cfg.args), began.UTC().Format("2006-01-02 15:04 UTC"), time.Since(began).Round(time.Second),
		m.cpu, m.cores, m.kernel, m.goVersion, m.raftcache, m.redis, m.disk, m.loadStart, loadEnd)
	if cfg.quick {
		w("**Smoke test (-quick): too few calls to measure anything; only a full run's figures count.**\n\n")
	}
	fsync := "always"
	if cfg.fsync == "everysec" {
		fsync = "everysec (raftcache `--fsync everysec`)"
	}
	w("A 3-node raftcache cluster (`--shards %d`%s) and a redis-server with appendonly yes, appendfsync %s, "+
		"both on 127.0.0.1. go-redis v9 plain clients (not cluster clients, no retries), one connection each, "+
		"talk to raftcache's n1 and to redis-server. Every command is called %d times per concurrency level and "+
		"round: by one client in sequence (1 client) or split over 16 goroutines with a connection each "+
		"(16 clients). Each call is timed alone; p50/p90/p99 are nearest-rank percentiles of one round's sorted "+
		"samples, and the table gives the median over %d rounds of each. In every round each command runs against "+
		"both servers, the first one alternating.\n\n", raftcacheShards, raftcacheArgsNote(cfg), fsync, r.ops, r.rounds)
	w("Keys are fresh for every call (except GET's, %d existing keys per shard), so concurrent calls do not "+
		"touch the same keys. A call's first key is in shard 0, 1 or 2 in turn and a cross-shard call's second key "+
		"is in the next shard, so every shard leader takes its share; n1 leads one shard and forwards the others' "+
		"writes. Shard leaders: %s.", xtxGetKeys, r.leaders)
	if r.leadersEnd != "" {
		w(" **They changed during the run: %s at its end.**", r.leadersEnd)
	}
	w("\n\n")

	for _, conc := range xtxConcurrency {
		clients := "1 client"
		if conc > 1 {
			clients = fmt.Sprintf("%d clients", conc)
		}
		w("## %s\n\n", clients)
		w("| command | raftcache p50 (ms) | p90 | p99 | redis-server p50 (ms) | raftcache ÷ redis p50 | ÷ raftcache SET p50 | errors (raftcache / redis) |\n")
		w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
		set := r.p50(conc, 0, xtxRaftcache)
		for oi, op := range xtxOps {
			rc, rd := r.cells[xtxKey{conc, oi, xtxRaftcache}], r.cells[xtxKey{conc, oi, xtxRedis}]
			rcP50, rdP50 := r.p50(conc, oi, xtxRaftcache), r.p50(conc, oi, xtxRedis)
			toSet := "—"
			if oi > 1 && set > 0 {
				toSet = fmt.Sprintf("%.2f×", float64(rcP50)/float64(set))
				if op.cross {
					toSet = "**" + toSet + "**"
				}
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", op.name, ms(rcP50), ms(medianDuration(rc.p90)), ms(medianDuration(rc.p99)),
				ms(rdP50), ratio(rcP50, rdP50), toSet, errCell(rc, rd))
		}
		w("\n")
		mset, rename := r.ratioToSet(conc, 2), r.ratioToSet(conc, 4)
		verdict := "met"
		if mset > xtxTarget || rename > xtxTarget {
			verdict = "**not met**"
		}
		w("Target (cross-shard 2-key MSET and RENAME p50 ≤ %.0f× single-shard SET p50): %s — MSET %.2f×, RENAME %.2f× "+
			"(MULTI/EXEC across shards %.2f×). The same ratio within each round: MSET %s; RENAME %s; MULTI/EXEC %s.\n\n",
			xtxTarget, verdict, mset, rename, r.ratioToSet(conc, 5),
			r.roundRatios(conc, 2), r.roundRatios(conc, 4), r.roundRatios(conc, 5))
	}
	w("## Notes\n\n")
	w("- The bold column is the issue's key ratio: a cross-shard command's p50 over raftcache's single-shard SET p50 " +
		"in the same run and concurrency; the same ratio is given for the single-shard 2-key commands for comparison.\n")
	w("- The target's other half, \"single-shard commands no slower than before\", needs a run of the build before the " +
		"change: `-raftcache` takes another binary; this run measures one build.\n")
	w("- Errors are calls that failed (TRYAGAIN, a timeout, ...): they are counted and left out of the percentiles; " +
		"the first one's text is given.\n")
	for _, n := range r.notes {
		w("- %s\n", n)
	}
	return b.String()
}

func (r *xtxResult) p50(conc, oi int, server string) time.Duration {
	c := r.cells[xtxKey{conc, oi, server}]
	if c == nil {
		return 0
	}
	return medianDuration(c.p50)
}

// roundRatios lists, round by round, command oi's raftcache p50 over
// raftcache's SET p50 of the same round.
func (r *xtxResult) roundRatios(conc, oi int) string {
	set, c := r.cells[xtxKey{conc, 0, xtxRaftcache}], r.cells[xtxKey{conc, oi, xtxRaftcache}]
	if set == nil || c == nil {
		return "—"
	}
	var parts []string
	for i := range min(len(set.p50), len(c.p50)) {
		if set.p50[i] > 0 {
			parts = append(parts, fmt.Sprintf("%.2f×", float64(c.p50[i])/float64(set.p50[i])))
		}
	}
	return strings.Join(parts, ", ")
}

// ratioToSet is command oi's raftcache p50 over raftcache's SET p50.
func (r *xtxResult) ratioToSet(conc, oi int) float64 {
	set := r.p50(conc, 0, xtxRaftcache)
	if set == 0 {
		return math.NaN()
	}
	return float64(r.p50(conc, oi, xtxRaftcache)) / float64(set)
}

func ratio(a, b time.Duration) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f", float64(a)/float64(b))
}

func errCell(rc, rd *xtxCell) string {
	if rc == nil || rd == nil {
		return "—"
	}
	s := fmt.Sprintf("%d / %d", rc.errors, rd.errors)
	for _, c := range []*xtxCell{rc, rd} {
		if c.firstErr != "" {
			s += "; " + cell(c.firstErr)
		}
	}
	return s
}

func raftcacheArgsNote(cfg config) string {
	var extra []string
	if cfg.fsync == "everysec" {
		extra = append(extra, "--fsync everysec")
	}
	extra = append(extra, cfg.raftcacheArgs...)
	if len(extra) == 0 {
		return ", default flags"
	}
	return ", " + strings.Join(extra, " ")
}

// commandLine is the command that produced a report, arguments quoted
// where the shell would need it.
func commandLine(args []string) string {
	parts := []string{"go run ./test/bench"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
