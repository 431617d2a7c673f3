package test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/raftcache/raftcache/test/lin"
)

// checkTimeout bounds the linearizability checker. A check that runs out
// of time is a failure to investigate (the history grew too large or
// tangled to decide), never a pass.
const checkTimeout = 5 * time.Minute

// workloadKeys picks perShard string keys and hashPerShard hash keys in
// every shard.
func workloadKeys(c *testCluster, perShard, hashPerShard int) (str, hash []string) {
	for s := range c.shards {
		for i := range perShard {
			str = append(str, c.keyInShard(s, fmt.Sprintf("lin:s%d:%d", s, i)))
		}
		for i := range hashPerShard {
			hash = append(hash, c.keyInShard(s, fmt.Sprintf("lin:h%d:%d", s, i)))
		}
	}
	return str, hash
}

// TestLinearizability runs ten clients (six plain clients spread over the
// nodes, four ClusterClients) against three nodes while a nemesis kills,
// pauses, partitions and slows them, then checks the recorded history
// with porcupine, the final state of every key, the replicas, and the
// processes. RAFTCACHE_FAULT_DURATION=10m makes it a long run.
func TestLinearizability(t *testing.T) {
	seed := testSeed(t)
	duration := faultDuration(t)
	fc := newFaultCluster(t, 3, 3, true)
	strKeys, hashKeys := workloadKeys(fc.testCluster, 5, 2)
	w := startWorkload(t, workloadConfig{
		seed: seed, nodes: fc.addrs(), plain: 6, cluster: 4,
		strKeys: strKeys, hashKeys: hashKeys, fields: 3,
		rate: 20, opTimeout: 12 * time.Second,
	}, fc.shardOfKey)
	marks := fc.logMarks()
	waitFor(t, "writes acknowledged on every shard", 30*time.Second, func() bool { return w.ackedSince(fc.shards, 0) })
	time.Sleep(2 * time.Second) // a calm stretch before the first fault, for comparison

	n := &nemesis{t: t, fc: fc, rng: rand.New(rand.NewPCG(uint64(seed), 0xfa017)), clock: w.rec.Now, counts: map[string]int{}}
	faultsFrom := w.rec.Now()
	n.run(time.Now().Add(duration), selectFaults(t, true))
	faultsTo := w.rec.Now()

	fc.healAll()
	fc.waitHealthy(90 * time.Second)
	healed := w.rec.Now()
	waitFor(t, "writes acknowledged on every shard after the faults", 30*time.Second, func() bool {
		return w.ackedSince(fc.shards, healed)
	})
	w.stop()
	fc.waitConverged(fc.procs, 60*time.Second)
	w.finalReads(t, fc.addrs())
	verdict := lin.Check(w.rec.Ops(), checkTimeout)

	st := w.rec.Stats()
	var report strings.Builder
	fmt.Fprintf(&report, "faults for %v: %s\n", (faultsTo - faultsFrom).Round(time.Second), n.countReport())
	fmt.Fprintf(&report, "operations %d: acknowledged %d (with %d final reads), ambiguous (outcome unknown, left open) %d; "+
		"writes refused with a definite error (never applied) %d\n", w.invoked.Load(), st.OK, w.finalReadCount, st.Unknown, st.Failed)
	fmt.Fprintf(&report, "outcomes: %s\n", w.classReport())
	elections := fc.countLogs(marks, "entering leader state")
	transfers := fc.countLogs(marks, "moving shard leadership to its preferred node")
	outage := w.longestOutage(fc.shards, faultsFrom, faultsTo)
	for s := range fc.shards {
		o := outage[s]
		fmt.Fprintf(&report, "shard %d: %d leaders elected (%d of them balancing transfers); longest write outage %v from %v (%s)\n",
			s, elections[s], transfers[s], o.length.Round(time.Millisecond), o.from.Round(time.Millisecond),
			n.faultDuring(o.from, o.from+o.length))
	}
	worst := map[string]time.Duration{}
	for _, f := range n.spans {
		// From the fault until the cluster was healthy again.
		for _, o := range w.longestOutage(fc.shards, f.start, f.recovered) {
			worst[f.name] = max(worst[f.name], o.length)
		}
	}
	var names []string
	for name := range worst {
		names = append(names, name)
	}
	slices.Sort(names)
	fmt.Fprintf(&report, "longest write outage of any shard, by fault:")
	for _, name := range names {
		fmt.Fprintf(&report, " %s %v;", name, worst[name].Round(time.Millisecond))
	}
	fmt.Fprintln(&report)
	for _, k := range n.kills {
		took := w.resumedAfter(k.shard, k.at)
		fmt.Fprintf(&report, "leader kill: %s, leader of shard %d, SIGKILLed at %v; writes resumed after %v\n",
			k.node, k.shard, k.at.Round(time.Millisecond), took.Round(time.Millisecond))
		if took < 0 || took > 30*time.Second {
			t.Errorf("writes to shard %d did not resume within 30s of its leader's kill (%v)", k.shard, took)
		}
	}
	fmt.Fprintf(&report, "linearizability: %v", verdict)
	t.Logf("report (seed %d):\n%s", seed, report.String())

	if os.Getenv(envArtifact) != "" {
		keepArtifacts(t, fc, seed, w.rec)
	}
	checkVerdict(t, seed, w.rec.Ops(), verdict, n.notes)
	for _, s := range w.rec.FailedWritesSeen() {
		t.Errorf("a write refused with a definite error was applied: %s", s)
	}
	fc.checkProcesses()
}

// checkVerdict fails the test unless the history is linearizable; for a
// violation it writes porcupine's visualization (and the history as
// JSON) and prints where.
func checkVerdict(t *testing.T, seed int64, ops []lin.Op, v lin.Verdict, notes []lin.Annotation) {
	t.Helper()
	switch v.Result {
	case porcupine.Ok:
		return
	case porcupine.Unknown:
		t.Errorf("the linearizability checker ran out of time (%v): not a pass; the history is too large or "+
			"tangled to decide and must be investigated (rerun with %s=%d)", v, envSeed, seed)
		return
	}
	path := artifactPath(t, fmt.Sprintf("raftcache-linearizability-%d", seed))
	if err := lin.Visualize(ops, v.Illegal, notes, path+".html"); err != nil {
		t.Errorf("write the visualization: %v", err)
	}
	if b, err := json.Marshal(ops); err == nil {
		_ = os.WriteFile(path+".json", b, 0o644)
	}
	t.Errorf("history not linearizable: %v\nvisualization: %s.html (open in a browser)\nhistory: %s.json\n"+
		"rerun with %s=%d", v, path, path, envSeed, seed)
}

// keepArtifacts writes every node's log and the history to
// RAFTCACHE_ARTIFACTS, pass or fail, for a long run to be studied.
func keepArtifacts(t *testing.T, fc *faultCluster, seed int64, rec *lin.Recorder) {
	base := artifactPath(t, fmt.Sprintf("raftcache-linearizability-%d", seed))
	for _, p := range fc.procs {
		if err := os.WriteFile(base+"-"+p.id+".log", []byte(p.output()), 0o644); err != nil {
			t.Errorf("keep the log of %s: %v", p.id, err)
		}
	}
	if b, err := json.Marshal(rec.Ops()); err == nil {
		_ = os.WriteFile(base+".json", b, 0o644)
	}
	t.Logf("logs and history kept as %s-*.log and %s.json; the history's time 0 is %s",
		base, base, rec.Start().UTC().Format("15:04:05.000"))
}

// artifactPath returns a path for a report that outlives the test's
// temporary directories.
func artifactPath(t testing.TB, name string) string {
	dir := os.Getenv(envArtifact)
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact dir: %v", err)
	}
	return filepath.Join(dir, name)
}

// TestCheckerCatchesStaleCache proves the checker on a real cluster: the
// workload runs with a deliberately broken client-side cache that answers
// GETs with the last value the client saw, and porcupine must report the
// stale reads (the unit tests in test/lin feed it synthetic violations).
func TestCheckerCatchesStaleCache(t *testing.T) {
	seed := testSeed(t)
	fc := newFaultCluster(t, 1, 3, false)
	strKeys, _ := workloadKeys(fc.testCluster, 1, 0)
	w := startWorkload(t, workloadConfig{
		seed: seed, nodes: fc.addrs(), plain: 4, cluster: 2, strKeys: strKeys,
		rate: 50, opTimeout: 12 * time.Second, staleCache: true,
	}, fc.shardOfKey)
	// Wait for a cache answer that no linearization can explain, so that
	// the verdict below does not depend on luck.
	waitFor(t, "a provably stale cache answer", 60*time.Second, func() bool { return w.provablyStale() >= 3 })
	w.stop()
	w.finalReads(t, fc.addrs())
	v := lin.Check(w.rec.Ops(), time.Minute)
	t.Logf("broken cache: %d provably stale answers; checker: %v", w.provablyStale(), v)
	if v.Result != porcupine.Illegal {
		t.Fatalf("the checker did not catch stale reads: %v", v)
	}
	path := filepath.Join(t.TempDir(), "stale.html")
	if err := lin.Visualize(w.rec.Ops(), v.Illegal[:1], nil, path); err != nil {
		t.Fatalf("visualize: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("visualization not written: %v", err)
	}
}
