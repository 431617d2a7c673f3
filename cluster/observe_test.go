package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestShardMetrics checks what a shard and its node measure: the apply
// histogram, leader changes, last contact, the snapshot's size and age,
// the log's sync histogram and hook, and readiness of a single node.
func TestShardMetrics(t *testing.T) {
	n := openReady(t, testConfig(t, t.TempDir(), 1))
	defer closeNode(t, n)
	var hooked atomic.Int64
	n.OnLogSync(func(time.Duration) { hooked.Add(1) })
	s := n.Shards()[0]
	before := n.LogSyncLatency().Count
	m := s.Metrics()
	if m.SnapshotSize != 0 || !m.SnapshotTime.IsZero() {
		t.Fatalf("snapshot before any: size %d, time %v", m.SnapshotSize, m.SnapshotTime)
	}
	const writes = 20
	for i := range writes {
		propose(t, n, "SET", "k"+strconv.Itoa(i), "v")
	}
	m = s.Metrics()
	if m.Apply.Count < writes {
		t.Errorf("apply histogram counted %d entries after %d sequential writes", m.Apply.Count, writes)
	}
	if p := m.Apply.Percentile(50); p <= 0 || p > 10*time.Second {
		t.Errorf("apply p50 = %v", p)
	}
	if m.LeaderChanges < 1 {
		t.Errorf("leader changes = %d, want at least the first election", m.LeaderChanges)
	}
	if m.LastContact != 0 {
		t.Errorf("last contact on the leader = %v, want 0", m.LastContact)
	}
	if age := time.Since(m.LastAppendedAt); age < 0 || age > time.Minute {
		t.Errorf("last applied entry appended %v ago", age)
	}
	if got := n.LogSyncLatency().Count - before; got < writes {
		t.Errorf("log sync histogram counted %d syncs for %d sequential writes", got, writes)
	}
	if got := hooked.Load(); got < writes {
		t.Errorf("log sync hook saw %d syncs for %d sequential writes", got, writes)
	}
	n.OnLogSync(nil)

	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	m = s.Metrics()
	if m.SnapshotSize <= 0 || m.SnapshotTerm != m.Term {
		t.Errorf("snapshot size %d term %d (shard term %d)", m.SnapshotSize, m.SnapshotTerm, m.Term)
	}
	if age := time.Since(m.SnapshotTime); age < 0 || age > time.Minute {
		t.Errorf("snapshot taken %v ago (%v)", age, m.SnapshotTime)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	r := n.Readiness(ctx)
	if !r.Ready || r.Reason != "" || len(r.Shards) != 1 || r.Shards[0].Entries != 0 || r.Shards[0].Leader != "n1" {
		t.Fatalf("single node readiness = %+v", r)
	}
}

// openCluster opens nodes nodes (closed when the test ends unless the test
// sets their entry to nil after closing them) with shards shards on loopback.
func openCluster(t *testing.T, nodes, shards int) []*Node {
	t.Helper()
	var peers []Peer
	var cfgs []Config
	for i := 1; i <= nodes; i++ {
		cfg := testConfig(t, t.TempDir(), shards)
		cfg.NodeID = "n" + strconv.Itoa(i)
		cfg.Addr = freeAddr(t)
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 500*time.Millisecond, 500*time.Millisecond, 250*time.Millisecond
		cfgs = append(cfgs, cfg)
		peers = append(peers, Peer{ID: cfg.NodeID, Addr: cfg.Addr, ClusterAddr: cfg.ClusterAddr})
	}
	var out []*Node
	for _, cfg := range cfgs {
		cfg.Peers = peers
		n, err := Open(cfg, zaptest.NewLogger(t).Named(cfg.NodeID))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	t.Cleanup(func() {
		for _, n := range out { // nil: closed by the test
			if n == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = n.Close(ctx)
			cancel()
		}
	})
	return out
}

// waitReadiness polls n's readiness until it is want, and returns it.
func waitReadiness(t *testing.T, n *Node, want bool, timeout time.Duration) Readiness {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		r := n.Readiness(ctx)
		cancel()
		if r.Ready == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: readiness still %+v after %v", n.ID(), r, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReadinessFollowsLeaders: every node of a healthy cluster is ready,
// its followers measured against their leaders; a node whose peers are
// gone is not.
func TestReadinessFollowsLeaders(t *testing.T) {
	nodes := openCluster(t, 3, 2)
	for _, n := range nodes {
		r := waitReadiness(t, n, true, 30*time.Second)
		for _, l := range r.Shards {
			// Seconds is unknown (-1) while the replica has applied no
			// command entry since it started.
			if l.Leader == "" || l.Entries < 0 || l.Seconds < -1 || (l.Entries == 0) != (l.Seconds == 0) || l.Err != nil {
				t.Errorf("%s shard %d: %+v", n.ID(), l.Shard, l)
			}
		}
	}
	// Writes through any node reach the leaders; the followers catch up.
	for i := range 30 {
		n := nodes[i%3]
		shard := i % 2
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := n.Propose(ctx, shard, [][][]byte{args("SET", fmt.Sprintf("k%d", i), "v")})
		cancel()
		if err != nil {
			t.Fatalf("write %d through %s: %v", i, n.ID(), err)
		}
	}
	for _, n := range nodes {
		waitReadiness(t, n, true, 30*time.Second)
	}

	for i := 1; i < len(nodes); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := nodes[i].Close(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		nodes[i] = nil
	}
	// The closing nodes may have handed their shards to nodes[0] first: it
	// then leads a shard it cannot make ready without them.
	r := waitReadiness(t, nodes[0], false, 30*time.Second)
	if !strings.Contains(r.Reason, "leader") && !strings.Contains(r.Reason, "leads it") {
		t.Fatalf("reason %q names neither a missing leader nor a leadership it cannot use", r.Reason)
	}
}
