package main

import (
	"context"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/raftcache/raftcache/store"
	"github.com/raftcache/raftcache/test/redisoracle"
)

// failoverResult is what -failover and -steady measured.
type failoverResult struct {
	kills    []killResult
	steady   time.Duration // how long the steady run lasted; 0: none
	changes  []string      // leader changes seen during the steady run
	requests int64         // requests the steady load completed
	err      string
}

// killResult is one SIGKILL of a shard leader.
type killResult struct {
	shard  int
	node   string
	outage time.Duration // from the kill until a write to the shard was acknowledged
	err    string
}

// runFailover starts a three-node raftcache cluster under a steady
// redis-benchmark load (SET and GET, -P 1, through every node), then, with
// -steady, lets it run and counts leader changes, and with -failover N,
// SIGKILLs the leader of each shard in turn N times: the outage is the time
// from the kill until a probe writing to that shard through another node
// every few milliseconds is acknowledged. The killed node is restarted and
// the cluster left to rebalance before the next kill.
func (h *harness) runFailover(ctx context.Context) *failoverResult {
	res := &failoverResult{}
	procs, addrs, _, err := h.startRaftcache(ctx, "failover", 3)
	if err != nil {
		res.err = "start: " + err.Error()
		return res
	}
	defer h.fleet.stopGroup(procs)
	load := h.startLoad(ctx, procs, addrs)
	defer load.stop()

	if h.cfg.steady > 0 {
		// Start counting once the start-up elections and leadership
		// balancing are over: no term has moved for 10 seconds (waiting
		// 2 minutes at most).
		settled, since, giveUp := shardTerms(addrs), time.Now(), time.Now().Add(2*time.Minute)
		for time.Since(since) < 10*time.Second && time.Now().Before(giveUp) && ctx.Err() == nil {
			time.Sleep(time.Second)
			if now := shardTerms(addrs); !maps.Equal(now, settled) {
				settled, since = now, time.Now()
			}
		}
		before := shardTerms(addrs)
		h.logf("steady: %v of load, watching for leader changes", h.cfg.steady)
		start := time.Now()
		tick := time.NewTicker(time.Second)
		last := before
		for time.Since(start) < h.cfg.steady && ctx.Err() == nil {
			<-tick.C
			now := shardTerms(addrs)
			for shard, term := range now {
				if prev, ok := last[shard]; ok && term.term != prev.term {
					res.changes = append(res.changes, fmt.Sprintf("%s: term %d (leader %s) → %d (leader %s) at %v",
						shard, prev.term, prev.leader, term.term, term.leader, time.Since(start).Round(time.Second)))
				}
				last[shard] = term
			}
		}
		tick.Stop()
		res.steady = time.Since(start)
		h.logf("steady: %d leader changes", len(res.changes))
	}

	for i := range h.cfg.failover {
		if ctx.Err() != nil {
			break
		}
		shard := i % raftcacheShards
		k := h.killLeader(ctx, procs, addrs, shard, load)
		res.kills = append(res.kills, k)
		h.logf("failover %d/%d: shard %d, %s killed: %v %s", i+1, h.cfg.failover, shard, k.node, k.outage, k.err)
	}
	res.requests = load.completed()
	return res
}

type shardTerm struct {
	term   uint64
	leader string
}

// shardTerms reads every shard's term and leader from the first node that
// answers.
func shardTerms(addrs []string) map[string]shardTerm {
	for _, a := range addrs {
		info, err := command(a, "INFO", "replication")
		if err != nil {
			continue
		}
		out := map[string]shardTerm{}
		for k, v := range infoFields(info) {
			if !strings.HasPrefix(k, "shard") {
				continue
			}
			var st shardTerm
			for _, kv := range strings.Split(v, ",") {
				name, val, _ := strings.Cut(kv, "=")
				switch name {
				case "term":
					st.term, _ = strconv.ParseUint(val, 10, 64)
				case "leader":
					st.leader = val
				}
			}
			out[k] = st
		}
		return out
	}
	return map[string]shardTerm{}
}

// keyOfShard returns a key whose slot falls in shard of raftcacheShards
// (the slot ranges raftcache lays out: contiguous, in order).
func keyOfShard(shard int) string {
	for i := 0; ; i++ {
		k := "failover-probe:" + strconv.Itoa(i)
		slot := int(store.SlotOf([]byte(k)))
		if slot >= shard*store.NumSlots/raftcacheShards && slot < (shard+1)*store.NumSlots/raftcacheShards {
			return k
		}
	}
}

// killLeader SIGKILLs the leader of shard, measures the outage, restarts
// the node and waits until the cluster is whole and balanced again.
func (h *harness) killLeader(ctx context.Context, procs []*process, addrs []string, shard int, load *loadGen) killResult {
	res := killResult{shard: shard}
	leaders := shardTerms(addrs)
	leader := leaders["shard"+strconv.Itoa(shard)].leader
	idx := slices.IndexFunc(procs, func(p *process) bool { return strings.HasSuffix(p.name, "-"+leader) })
	if idx < 0 {
		res.err = fmt.Sprintf("no leader of shard %d known (%q)", shard, leader)
		return res
	}
	victim := procs[idx]
	res.node = leader
	via := addrs[(idx+1)%len(addrs)]
	key := keyOfShard(shard)
	if _, err := probeSet(via, key, 5*time.Second); err != nil {
		res.err = "probe before the kill: " + err.Error()
		return res
	}
	load.pause(idx)
	start := time.Now()
	_ = victim.cmd.Process.Signal(syscall.SIGKILL)
	<-victim.done
	deadline := start.Add(30 * time.Second)
	for {
		// A long timeout: a write that waits on the node for the new leader
		// is acknowledged the moment there is one.
		if _, err := probeSet(via, key, 5*time.Second); err == nil {
			res.outage = time.Since(start)
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			res.err = "no write acknowledged within 30s"
			break
		}
	}
	p, err := h.fleet.restart(victim)
	if err != nil {
		res.err = "restart: " + err.Error()
		return res
	}
	procs[idx] = p
	load.resume(idx)
	if err := waitUntil(ctx, "the cluster whole again", 60*time.Second, procs, func() bool {
		for _, a := range addrs {
			if !clusterOK(a) {
				return false
			}
		}
		info, err := command(addrs[0], "INFO", "replication")
		return err == nil && balanced(shardLeaders(info), []string{"n1", "n2", "n3"})
	}); err != nil && res.err == "" {
		res.err = err.Error()
	}
	return res
}

// probeSet sends one SET on a fresh connection and waits up to timeout for
// +OK.
func probeSet(addr, key string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	c, err := redisoracle.DialTimeout(addr, timeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	r, err := c.Do("SET", key, strconv.FormatInt(start.UnixNano(), 10))
	if err != nil {
		return 0, err
	}
	if string(r) != "+OK\r\n" {
		return 0, fmt.Errorf("SET: %q", r)
	}
	return time.Since(start), nil
}

// loadRequests is -n of each load run: runs end often, so that the
// requests they completed are counted.
const loadRequests = 5000

// loadGen keeps one redis-benchmark running against every node that is
// up: SET and GET, -P 1, 16 clients each.
type loadGen struct {
	h      *harness
	mu     sync.Mutex
	addrs  []string
	cmds   []*exec.Cmd
	paused []bool
	done   int64
	stopCh chan struct{}
	wg     sync.WaitGroup
}

func (h *harness) startLoad(ctx context.Context, procs []*process, addrs []string) *loadGen {
	l := &loadGen{h: h, addrs: addrs, cmds: make([]*exec.Cmd, len(addrs)), paused: make([]bool, len(addrs)),
		stopCh: make(chan struct{})}
	for i := range addrs {
		l.wg.Go(func() { l.keep(ctx, i) })
	}
	return l
}

// keep runs redis-benchmark against node i again and again until stopped,
// skipping the time the node is down.
func (l *loadGen) keep(ctx context.Context, i int) {
	for {
		select {
		case <-l.stopCh:
			return
		default:
		}
		l.mu.Lock()
		paused := l.paused[i]
		l.mu.Unlock()
		if paused || ctx.Err() != nil {
			select {
			case <-l.stopCh:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		host, port, _ := strings.Cut(l.addrs[i], ":")
		cmd := exec.CommandContext(ctx, l.h.tools.redisBenchmark, "-h", host, "-p", port, "-c", "16", "-P", "1",
			"-r", "100000", "-n", strconv.Itoa(loadRequests), "-t", "set,get", "--csv")
		l.mu.Lock()
		l.cmds[i] = cmd
		l.mu.Unlock()
		if out, err := cmd.Output(); err == nil {
			if rows, perr := parseCSV(string(out)); perr == nil {
				l.mu.Lock()
				l.done += int64(len(rows) * loadRequests)
				l.mu.Unlock()
			}
		}
	}
}

// pause stops the load on node i (about to be killed) until resume.
func (l *loadGen) pause(i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paused[i] = true
	if c := l.cmds[i]; c != nil && c.Process != nil {
		_ = c.Process.Kill()
	}
}

func (l *loadGen) resume(i int) {
	l.mu.Lock()
	l.paused[i] = false
	l.mu.Unlock()
}

func (l *loadGen) completed() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

func (l *loadGen) stop() {
	close(l.stopCh)
	l.mu.Lock()
	for _, c := range l.cmds {
		if c != nil && c.Process != nil {
			_ = c.Process.Kill()
		}
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// markdown is the failover section of the report.
func (f *failoverResult) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Failover\n\n")
	if f.err != "" {
		w("failed: %s\n\n", cell(f.err))
		return b.String()
	}
	w("A three-node cluster (`--shards 3`, default flags) under a steady load: one `redis-benchmark -c 16 -P 1 -t set,get` " +
		"per node, restarted as needed.\n\n")
	if f.steady > 0 {
		w("Steady run of %v: %d leader changes.\n\n", f.steady.Round(time.Second), len(f.changes))
		for _, c := range f.changes {
			w("- %s\n", c)
		}
		if len(f.changes) > 0 {
			w("\n")
		}
	}
	if len(f.kills) > 0 {
		var outages []time.Duration
		for _, k := range f.kills {
			if k.err == "" {
				outages = append(outages, k.outage)
			}
		}
		slices.Sort(outages)
		w("SIGKILL of a shard's leader, %d times: the write outage is the time from the kill until a write to that shard, "+
			"sent through another node every few milliseconds, was acknowledged.\n\n", len(f.kills))
		if len(outages) > 0 {
			w("| kills | p50 | p90 | max | min |\n| ---: | ---: | ---: | ---: | ---: |\n")
			w("| %d | %v | %v | %v | %v |\n\n", len(outages), pct(outages, 0.5), pct(outages, 0.9),
				outages[len(outages)-1].Round(time.Millisecond), outages[0].Round(time.Millisecond))
		}
		w("| # | shard | killed | outage |\n| ---: | ---: | --- | ---: |\n")
		for i, k := range f.kills {
			o := k.outage.Round(time.Millisecond).String()
			if k.err != "" {
				o = "failed: " + cell(k.err)
			}
			w("| %d | %d | %s | %s |\n", i+1, k.shard, k.node, o)
		}
		w("\n")
	}
	w("Requests the load completed meanwhile (in runs that ended cleanly): %d.\n", f.requests)
	return b.String()
}

// pct is the q-quantile of sorted durations (nearest rank).
func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(len(sorted)-1, i))].Round(time.Millisecond)
}
