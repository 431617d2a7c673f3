package test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"
)

// scrape fetches and parses a node's /metrics.
func scrape(t testing.TB, p *proc) map[string]*dto.MetricFamily {
	t.Helper()
	code, body, err := p.httpGet("/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics from %s: %d %v", p.id, code, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics from %s: %v", p.id, err)
	}
	return fams
}

// series returns the value of every metric of family name, keyed by its
// labels written "k=v,k=v" in the order they come (sorted by name).
func series(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	mf := fams[name]
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		v := 0.0
		switch {
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Histogram != nil:
			v = float64(m.Histogram.GetSampleCount())
		case m.Summary != nil:
			v = float64(m.Summary.GetSampleCount())
		}
		out[strings.Join(labels, ",")] = v
	}
	return out
}

// infoFields reads "name:value" lines of an INFO section (or CLUSTER INFO)
// into a map; each shardN line's "k=v,..." fields become "shardN.k".
func infoFields(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		out[name] = value
		if strings.HasPrefix(name, "shard") {
			for _, kv := range strings.Split(value, ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					out[name+"."+k] = v
				}
			}
		}
	}
	return out
}

// TestMetricsUnderLoad scrapes /metrics from a three-node cluster while
// clients write and read through every node, and checks each node's
// shard metrics against its CLUSTER INFO and INFO replication and raft,
// then, with the load stopped, the command counters against what the
// clients sent and the key gauges against DBSIZE.
func TestMetricsUnderLoad(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.waitBalanced(60 * time.Second)

	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	sets := make([]atomic.Int64, len(c.procs)) // SETs each node answered
	for i, p := range c.procs {
		for w := range 2 {
			wg.Go(func() {
				cl := plainClient(t, p.addr())
				for n := 0; ctx.Err() == nil; n++ {
					key := fmt.Sprintf("load:%s:%d:%d", p.id, w, n%500)
					err := cl.Set(ctx, key, n, 0).Err()
					var rerr redis.Error
					if err == nil || errors.As(err, &rerr) {
						sets[i].Add(1)
					}
					cl.Get(ctx, key)
				}
			})
		}
	}
	// Under load: the metrics agree with INFO and CLUSTER INFO, read just
	// after the scrape. Three rounds must agree in full; a round that
	// disagrees (a leader changed between the scrape and INFO, a new
	// leader has not applied a write yet) is retried, and the last
	// disagreement is reported if none agrees within the deadline.
	var why string
	disagree := func(format string, args ...any) bool {
		why = fmt.Sprintf(format, args...)
		return false
	}
	round := func() bool {
		leaders := map[string]string{} // shard → leader, as the metrics say
		for _, p := range c.procs {
			fams := scrape(t, p)
			repl := infoFields(cli(t, p.addr(), "INFO", "replication"))
			raft := infoFields(cli(t, p.addr(), "INFO", "raft"))
			clusterInfo := infoFields(cli(t, p.addr(), "CLUSTER", "INFO"))
			for shard := range c.shards {
				s := strconv.Itoa(shard)
				key := "shard" + s
				leader := repl[key+".leader"]
				if leader == "" || series(fams, "raftcache_shard_leader")["leader="+leader+",shard="+s] != 1 {
					return disagree("%s shard %s: INFO leader %q, metric %v", p.id, s, leader, series(fams, "raftcache_shard_leader"))
				}
				if prev, ok := leaders[s]; ok && prev != leader {
					return disagree("shard %s: led by %s for one node, %s for %s", s, prev, leader, p.id)
				}
				leaders[s] = leader
				isLeader := series(fams, "raftcache_shard_is_leader")["shard="+s]
				if (isLeader == 1) != (leader == p.id) || repl[key+".state"] != map[bool]string{true: "leader", false: "follower"}[leader == p.id] {
					return disagree("%s shard %s: is_leader %v, INFO state %q", p.id, s, isLeader, repl[key+".state"])
				}
				if term := series(fams, "raftcache_shard_term")["shard="+s]; strconv.FormatFloat(term, 'f', -1, 64) != repl[key+".term"] {
					return disagree("%s shard %s: term %v, INFO %s", p.id, s, term, repl[key+".term"])
				}
				// Indexes only grow: the scrape's are at most INFO's, read
				// after it.
				for metric, field := range map[string]string{"raftcache_shard_commit_index": "commit_index",
					"raftcache_shard_applied_index": "applied_index", "raftcache_shard_last_log_index": "last_index"} {
					m := series(fams, metric)["shard="+s]
					i, _ := strconv.ParseFloat(repl[key+"."+field], 64)
					if m <= 0 || m > i {
						return disagree("%s shard %s: %s %v, INFO %s %v", p.id, s, metric, m, field, i)
					}
				}
				lag, ok := series(fams, "raftcache_shard_replica_lag_entries")["shard="+s]
				if !ok || lag < 0 || raft[key+".lag_entries"] == "" || leader == p.id && lag != 0 {
					return disagree("%s shard %s: replica lag %v (present %v), INFO raft %q", p.id, s, lag, ok, raft[key+".lag_entries"])
				}
				if leader == p.id {
					fl := series(fams, "raftcache_shard_follower_lag_entries")
					for _, q := range c.procs {
						if q != p {
							if v, ok := fl["follower="+q.id+",shard="+s]; !ok || v < 0 {
								return disagree("leader %s has no lag for follower %s of shard %s: %v", p.id, q.id, s, fl)
							}
						}
					}
					if n := series(fams, "raftcache_shard_apply_duration_seconds")["shard="+s]; n == 0 {
						return disagree("leader %s applied nothing on shard %s under load", p.id, s)
					}
				}
			}
			ready := series(fams, "raftcache_ready")[""]
			if (ready == 1) != (clusterInfo["raftcache_ready"] == "1") || raft["raft_ready"] != clusterInfo["raftcache_ready"] {
				return disagree("%s: raftcache_ready %v, CLUSTER INFO %q, INFO raft %q", p.id, ready, clusterInfo["raftcache_ready"], raft["raft_ready"])
			}
			if n := series(fams, "raftcache_log_sync_duration_seconds")[""]; n == 0 {
				return disagree("%s: no log sync measured under load", p.id)
			}
			if len(series(fams, "raftcache_raft_commitTime")) == 0 && countLeading(leaders, p.id) > 0 {
				return disagree("%s leads shards but exports no raftcache_raft_commitTime", p.id)
			}
		}
		return len(leaders) == c.shards || disagree("leaders known for %d shards", len(leaders))
	}
	deadline := time.Now().Add(90 * time.Second)
	for agreed := 0; agreed < 3; {
		if round() {
			agreed++
		} else if time.Now().After(deadline) {
			t.Fatalf("metrics and INFO still disagree under load: %s", why)
		}
		time.Sleep(200 * time.Millisecond) // a scrape interval, much shortened
	}
	stopLoad()
	wg.Wait()

	// At rest: every counter is exact.
	c.waitConverged(c.procs, 60*time.Second)
	for i, p := range c.procs {
		fams := scrape(t, p)
		if got := series(fams, "raftcache_commands_total")["command=set"]; got != float64(sets[i].Load()) {
			t.Errorf("%s: raftcache_commands_total{command=set} = %v; clients got %d SET replies from it", p.id, got, sets[i].Load())
		}
		stats := cli(t, p.addr(), "INFO", "commandstats")
		calls := regexp.MustCompile(`cmdstat_set:calls=(\d+),`).FindStringSubmatch(stats)
		if calls == nil || calls[1] != strconv.FormatInt(sets[i].Load(), 10) {
			t.Errorf("%s: INFO commandstats %v, clients got %d SET replies", p.id, calls, sets[i].Load())
		}
		keys := 0.0
		for _, v := range series(fams, "raftcache_keys") {
			keys += v
		}
		if dbsize := cli(t, p.addr(), "DBSIZE"); strconv.FormatFloat(keys, 'f', -1, 64) != dbsize {
			t.Errorf("%s: keys over its shards %v, DBSIZE %s", p.id, keys, dbsize)
		}
		if h := fams["raftcache_command_duration_seconds"]; h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("%s: no command duration histogram", p.id)
		}
	}
	t.Logf("SETs answered per node: %d %d %d", sets[0].Load(), sets[1].Load(), sets[2].Load())
}

// clusterStateOK asks the node once whether CLUSTER INFO says
// cluster_state:ok.
func clusterStateOK(addr string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	defer c.Close()
	info, err := c.ClusterInfo(context.Background()).Result()
	return err == nil && strings.Contains(info, "cluster_state:ok")
}

func countLeading(leaders map[string]string, id string) int {
	n := 0
	for _, l := range leaders {
		if l == id {
			n++
		}
	}
	return n
}

// shardWriter writes one key of a shard as fast as it is answered, through
// whichever node answers (a plain client per node; it moves on to the
// next node when its node's connection fails), and records how long
// writes to the shard kept failing.
type shardWriter struct {
	shard   int
	key     string
	clients []*redis.Client

	mu         sync.Mutex
	acked      int64
	failStart  time.Time // first failure of the current run of failures
	longest    time.Duration
	longestAt  time.Time
	failures   map[string]int
	lastErrors []string
}

func (w *shardWriter) run(ctx context.Context) {
	node := w.shard % len(w.clients)
	for n := int64(1); ctx.Err() == nil; n++ {
		err := w.clients[node].Set(ctx, w.key, n, 0).Err()
		now := time.Now()
		w.mu.Lock()
		switch {
		case err == nil:
			w.acked = n
			if !w.failStart.IsZero() {
				if d := now.Sub(w.failStart); d > w.longest {
					w.longest, w.longestAt = d, w.failStart
				}
				w.failStart = time.Time{}
			}
		case ctx.Err() != nil:
		default:
			if w.failStart.IsZero() {
				w.failStart = now
			}
			kind := err.Error()
			var rerr redis.Error
			if !errors.As(err, &rerr) {
				kind = "connection"
				node = (node + 1) % len(w.clients) // that node is going or gone: the next
			}
			w.failures[strings.SplitN(kind, " ", 2)[0]]++
			if len(w.lastErrors) < 10 {
				w.lastErrors = append(w.lastErrors, err.Error())
			}
		}
		w.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestRollingRestartWithReadyz restarts the nodes of a cluster under
// writes to every shard one by one, as the README's procedure does: stop
// with SIGTERM, start again, and wait for the node's /readyz before the
// next. No shard may refuse writes for longer than a leadership hand-off
// takes, and every acknowledged write must be there at the end.
func TestRollingRestartWithReadyz(t *testing.T) {
	// A strict readiness (50 entries) so that a restarted node, which
	// missed a few hundred writes, is seen catching up before it is ready.
	fc := newFaultCluster(t, 3, 3, false, "--ready-max-lag", "50")
	fc.waitBalanced(60 * time.Second)
	var clients []*redis.Client
	for _, p := range fc.procs {
		clients = append(clients, redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1,
			DialTimeout: time.Second, ReadTimeout: 10 * time.Second, PoolSize: 4}))
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	ctx, stop := context.WithCancel(context.Background())
	var writers []*shardWriter
	var wg sync.WaitGroup
	for shard := range fc.shards {
		w := &shardWriter{shard: shard, key: fc.keyInShard(shard, "rolling"), clients: clients, failures: map[string]int{}}
		writers = append(writers, w)
		wg.Go(func() { w.run(ctx) })
	}
	time.Sleep(time.Second) // writes flowing before the first stop: the load's duration, not a wait for the cluster

	notReadySeen := 0
	for _, p := range fc.procs {
		exit := fc.stop(p, syscall.SIGTERM)
		time.Sleep(time.Second) // the node stays down a while, so the others' logs run ahead of its own
		fc.start(p)
		// Poll readiness as an orchestrator would, noting what it says
		// while the node catches up.
		start := time.Now()
		var reasons []string
		var clusterOK time.Duration // when CLUSTER INFO first said cluster_state:ok
		for {
			if clusterOK == 0 && clusterStateOK(p.addr()) {
				clusterOK = time.Since(start)
			}
			ok, why := p.ready()
			if ok {
				break
			}
			// One reason per kind of answer (digits aside), its first.
			kind := regexp.MustCompile(`\d+`).ReplaceAllString(why, "N")
			if !slices.ContainsFunc(reasons, func(r string) bool { return regexp.MustCompile(`\d+`).ReplaceAllString(r, "N") == kind }) {
				reasons = append(reasons, why)
			}
			if time.Since(start) > 90*time.Second {
				t.Fatalf("%s not ready 90s after restart: %v", p.id, reasons)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, r := range reasons {
			if strings.Contains(r, "entries behind") {
				notReadySeen++
				break
			}
		}
		t.Logf("%s: exited in %v, ready %v after restart (cluster_state:ok after %v); readiness said meanwhile: %q",
			p.id, exit.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), clusterOK.Round(time.Millisecond), reasons)
	}
	time.Sleep(time.Second) // writes go on after the last restart, so its hand-offs are measured too
	stop()
	wg.Wait()

	// A leadership hand-off (SIGTERM) or a move back to the preferred
	// node takes well under an election timeout (800 ms); clients also
	// need a moment to see their node's connection close and move on.
	const handOff = 2 * time.Second
	for _, w := range writers {
		w.mu.Lock()
		t.Logf("shard %d: %d writes acknowledged; longest run of refused writes %v (from %s); failures by kind %v: %q",
			w.shard, w.acked, w.longest.Round(time.Millisecond), w.longestAt.Format("15:04:05.000"), w.failures, w.lastErrors)
		if w.longest > handOff {
			t.Errorf("shard %d refused writes for %v, longer than a leadership hand-off (%v); errors: %q",
				w.shard, w.longest, handOff, w.lastErrors)
		}
		if w.acked < 100 {
			t.Errorf("shard %d: only %d writes acknowledged", w.shard, w.acked)
		}
		for i, p := range fc.procs {
			v, err := clients[i].Get(context.Background(), w.key).Int64()
			if err != nil || v < w.acked {
				t.Errorf("shard %d through %s: %s = %d, %v; last acknowledged %d", w.shard, p.id, w.key, v, err, w.acked)
			}
		}
		w.mu.Unlock()
	}
	t.Logf("restarted nodes reported lagging replicas before ready: %d of %d", notReadySeen, len(fc.procs))
	fc.checkProcesses()
}
