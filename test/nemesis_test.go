package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/test/lin"
)

// Environment variables that shape the fault tests; see the README.
const (
	envSeed     = "RAFTCACHE_SEED"           // the run's seed (default: the clock)
	envDuration = "RAFTCACHE_FAULT_DURATION" // how long faults are injected (default 40s)
	envFaults   = "RAFTCACHE_FAULTS"         // comma-separated fault names to use (default: all)
	envArtifact = "RAFTCACHE_ARTIFACTS"      // where violation reports go (default: the temp dir)
)

// testSeed returns the seed of this run and prints it.
func testSeed(t testing.TB) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv(envSeed); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSeed, s, err)
		}
		seed = n
	}
	t.Logf("seed %d (%s=%d repeats the run's choices)", seed, envSeed, seed)
	return seed
}

// faultDuration is how long the faults go on: 40s unless the environment
// asks for a long run.
func faultDuration(t testing.TB) time.Duration {
	t.Helper()
	if s := os.Getenv(envDuration); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s=%q: %v", envDuration, s, err)
		}
		return d
	}
	return 40 * time.Second
}

// nemesis injects faults into a faultCluster, one at a time, each bounded
// in time and undone before the next, and keeps a record of them.
type nemesis struct {
	t     *testing.T
	fc    *faultCluster
	rng   *rand.Rand
	clock func() time.Duration // the history's clock

	notes  []lin.Annotation
	spans  []faultSpan
	kills  []leaderKill
	counts map[string]int
}

// faultSpan is one fault: when it was applied, undone, and when the
// cluster was healthy again.
type faultSpan struct {
	name                  string
	start, end, recovered time.Duration
}

// leaderKill is one SIGKILL of a shard's leader.
type leaderKill struct {
	shard int
	node  string
	at    time.Duration
}

// fault is one kind of fault: run applies it, holds it and undoes it.
type fault struct {
	name  string
	proxy bool // needs the network proxy
	run   func(n *nemesis) string
}

// faults are the kinds of fault the nemesis knows.
var faults = []fault{
	{name: "kill-leader", run: func(n *nemesis) string {
		shard := n.rng.IntN(n.fc.shards)
		p := n.fc.leaderOf(shard, n.fc.procs)
		n.kills = append(n.kills, leaderKill{shard, p.id, n.clock()})
		n.fc.stop(p, syscall.SIGKILL)
		n.hold(2*time.Second, 4*time.Second)
		n.fc.start(p)
		return fmt.Sprintf("SIGKILL %s (leader of shard %d), restarted", p.id, shard)
	}},
	{name: "kill-node", run: func(n *nemesis) string {
		p := n.randomProc()
		n.fc.stop(p, syscall.SIGKILL)
		n.hold(time.Second, 4*time.Second)
		n.fc.start(p)
		return fmt.Sprintf("SIGKILL %s, restarted", p.id)
	}},
	{name: "pause", run: func(n *nemesis) string {
		p, why := n.victim()
		n.fc.pause(p)
		d := n.hold(2*time.Second, 5*time.Second)
		n.fc.resume(p)
		return fmt.Sprintf("SIGSTOP %s%s for %v, SIGCONT", p.id, why, d.Round(time.Millisecond))
	}},
	{name: "pause-leader", run: func(n *nemesis) string {
		// A leader frozen while it may hold a read lease, thawed only once
		// another node leads its shard and has acknowledged a write: reads
		// that reached it meanwhile must not be served from its old state.
		shard := n.rng.IntN(n.fc.shards)
		p := n.fc.leaderOf(shard, n.fc.procs)
		n.fc.pause(p)
		start := time.Now()
		took := "no new leader within 20s"
		if n.writeElsewhere(shard, p, 20*time.Second) {
			took = fmt.Sprintf("another leader took a write after %v", time.Since(start).Round(time.Millisecond))
		}
		n.fc.resume(p)
		return fmt.Sprintf("SIGSTOP %s (leader of shard %d) until %s, SIGCONT", p.id, shard, took)
	}},
	{name: "restart-follower", run: func(n *nemesis) string {
		// A follower that promised its leader not to vote for another
		// (the leader's lease rests on it) crashes and is back at once.
		shard := n.rng.IntN(n.fc.shards)
		leader := n.fc.leaderOf(shard, n.fc.procs)
		followers := n.fc.liveExcept(leader)
		p := followers[n.rng.IntN(len(followers))]
		n.fc.stop(p, syscall.SIGKILL)
		n.fc.start(p)
		return fmt.Sprintf("SIGKILL %s (a follower of shard %d, led by %s), restarted at once", p.id, shard, leader.id)
	}},
	{name: "isolate", proxy: true, run: func(n *nemesis) string {
		p, why := n.victim()
		n.fc.proxy.partition([]string{p.id}, n.others(p))
		d := n.hold(3*time.Second, 6*time.Second)
		n.fc.proxy.heal()
		return fmt.Sprintf("isolate %s%s for %v", p.id, why, d.Round(time.Millisecond))
	}},
	{name: "split", proxy: true, run: func(n *nemesis) string {
		ids := n.ids()
		n.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		minority, majority := ids[:len(ids)/2], ids[len(ids)/2:]
		n.fc.proxy.partition(minority, majority)
		d := n.hold(3*time.Second, 6*time.Second)
		n.fc.proxy.heal()
		return fmt.Sprintf("split %v | %v for %v", minority, majority, d.Round(time.Millisecond))
	}},
	{name: "partial", proxy: true, run: func(n *nemesis) string {
		// Two nodes lose each other but both still reach the rest: a
		// non-transitive partition.
		ids := n.ids()
		n.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		n.fc.proxy.partition(ids[:1], ids[1:2])
		d := n.hold(3*time.Second, 6*time.Second)
		n.fc.proxy.heal()
		return fmt.Sprintf("cut %s <-> %s (both reach the others) for %v", ids[0], ids[1], d.Round(time.Millisecond))
	}},
	{name: "one-way", proxy: true, run: func(n *nemesis) string {
		// A leader that can send but not hear, or hear but not send.
		shard := n.rng.IntN(n.fc.shards)
		leader := n.fc.leaderOf(shard, n.fc.procs)
		var desc []string
		for _, other := range n.others(leader) {
			from, to := leader.id, other
			if n.rng.IntN(2) == 0 {
				from, to = to, from
			}
			n.fc.proxy.block(from, to)
			desc = append(desc, from+" -> "+to)
		}
		d := n.hold(3*time.Second, 6*time.Second)
		n.fc.proxy.heal()
		return fmt.Sprintf("drop %s (shard %d's leader %s) for %v", strings.Join(desc, ", "), shard, leader.id,
			d.Round(time.Millisecond))
	}},
	{name: "latency", proxy: true, run: func(n *nemesis) string {
		ids := n.ids()
		var desc []string
		for _, a := range ids {
			for _, b := range ids {
				if a != b {
					d := time.Duration(20+n.rng.IntN(180)) * time.Millisecond
					n.fc.proxy.slow(a, b, d)
					desc = append(desc, fmt.Sprintf("%s->%s %v", a, b, d))
				}
			}
		}
		d := n.hold(3*time.Second, 6*time.Second)
		n.fc.proxy.heal()
		return fmt.Sprintf("latency %s for %v", strings.Join(desc, ", "), d.Round(time.Millisecond))
	}},
	{name: "rolling-restart", run: func(n *nemesis) string {
		// As the README's rolling restart does: the next node goes only
		// once the restarted one is ready (/readyz: every shard led and
		// its replicas caught up), not merely when cluster_state is ok.
		var took []string
		for _, p := range n.fc.procs {
			exit := n.fc.stop(p, syscall.SIGTERM)
			n.fc.start(p)
			ready := p.waitReady(n.fc.t, 90*time.Second)
			took = append(took, fmt.Sprintf("%s exited in %v, ready %v after restart", p.id,
				exit.Round(time.Millisecond), ready.Round(time.Millisecond)))
		}
		return "SIGTERM and restart every node in turn: " + strings.Join(took, ", ")
	}},
}

// selectFaults returns the faults this run uses: RAFTCACHE_FAULTS, or
// every kind (those needing the proxy only when there is one).
func selectFaults(t testing.TB, withProxy bool) []fault {
	t.Helper()
	var out []fault
	want := os.Getenv(envFaults)
	for _, f := range faults {
		if want != "" && !slices.Contains(strings.Split(want, ","), f.name) {
			continue
		}
		if f.proxy && !withProxy {
			continue
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		t.Fatalf("%s=%q names no fault", envFaults, want)
	}
	return out
}

// hold keeps a fault in place for a random time in [lo, hi]: the sleep
// is the fault's duration.
func (n *nemesis) hold(lo, hi time.Duration) time.Duration {
	d := lo + time.Duration(n.rng.Int64N(int64(hi-lo)+1))
	time.Sleep(d)
	return d
}

func (n *nemesis) randomProc() *proc { return n.fc.procs[n.rng.IntN(len(n.fc.procs))] }

// writeElsewhere waits, within timeout, until a node other than old leads
// shard and acknowledges a write to it (to a key the workload never
// uses); it reports whether that happened.
func (n *nemesis) writeElsewhere(shard int, old *proc, timeout time.Duration) bool {
	var via *proc
	for _, p := range n.fc.procs {
		if p != old {
			via = p
			break
		}
	}
	c := redis.NewClient(&redis.Options{Addr: via.addr(), MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second})
	defer c.Close()
	key := n.fc.keyInShard(shard, "nemesis")
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		infos, ok := shardInfos(via.addr())
		if ok && infos[shard].leader != "" && infos[shard].leader != old.id {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := c.Set(ctx, key, "x", 0).Err()
			cancel()
			if err == nil {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// victim picks a node: half the time the leader of a random shard.
func (n *nemesis) victim() (*proc, string) {
	if n.rng.IntN(2) == 0 {
		shard := n.rng.IntN(n.fc.shards)
		return n.fc.leaderOf(shard, n.fc.procs), fmt.Sprintf(" (leader of shard %d)", shard)
	}
	return n.randomProc(), ""
}

func (n *nemesis) ids() []string {
	var out []string
	for _, p := range n.fc.procs {
		out = append(out, p.id)
	}
	return out
}

func (n *nemesis) others(p *proc) []string {
	return slices.DeleteFunc(n.ids(), func(id string) bool { return id == p.id })
}

// run injects faults until the deadline: a shuffled round of every kind
// (a leader kill first, so every run measures a failover), again and
// again, each followed by a wait for the cluster to be healthy and a
// short calm.
func (n *nemesis) run(until time.Time, kinds []fault) {
	var order []fault
	for i := 0; time.Now().Before(until); i++ {
		if len(order) == 0 {
			order = slices.Clone(kinds)
			n.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			if i == 0 {
				if j := slices.IndexFunc(order, func(f fault) bool { return f.name == "kill-leader" }); j > 0 {
					order[0], order[j] = order[j], order[0]
				}
			}
		}
		f := order[0]
		order = order[1:]
		start := n.clock()
		desc := f.run(n)
		end := n.clock()
		n.notes = append(n.notes, lin.Annotation{Tag: "faults", Start: start, End: end, Description: f.name, Details: desc})
		n.counts[f.name]++
		n.fc.waitHealthy(90 * time.Second)
		n.spans = append(n.spans, faultSpan{f.name, start, end, n.clock()})
		n.t.Logf("fault %d at %v: %s; healthy again after %v", i+1, start.Round(time.Millisecond), desc,
			(n.clock() - end).Round(time.Millisecond))
		n.hold(500*time.Millisecond, 1500*time.Millisecond)
	}
}

// faultDuring names the fault whose span (from its start until the
// cluster was healthy again) overlaps [from, to] the most.
func (n *nemesis) faultDuring(from, to time.Duration) string {
	best, bestOverlap := "no fault", time.Duration(0)
	for i, f := range n.spans {
		if overlap := min(to, f.recovered) - max(from, f.start); overlap > bestOverlap {
			best, bestOverlap = fmt.Sprintf("fault %d, %s", i+1, f.name), overlap
		}
	}
	return best
}

func (n *nemesis) countReport() string {
	var parts []string
	for name, c := range n.counts {
		parts = append(parts, fmt.Sprintf("%s×%d", name, c))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
