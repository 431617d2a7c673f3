package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap/zaptest"
)

// nodeSet is several Nodes of one cluster in this process, on loopback
// ports, each with its own data directory.
type nodeSet struct {
	t     *testing.T
	cfgs  []Config
	nodes []*Node
}

// newNodeSet starts n nodes with the given number of shards, edit
// applied to every config, and waits until every node knows every shard's
// leader.
func newNodeSet(t *testing.T, n, shards int, edit func(*Config)) *nodeSet {
	t.Helper()
	ns := &nodeSet{t: t}
	var peers []Peer
	for i := 1; i <= n; i++ {
		cfg := testConfig(t, t.TempDir(), shards)
		cfg.NodeID = fmt.Sprintf("n%d", i)
		cfg.Addr = freeAddr(t)
		peers = append(peers, Peer{ID: cfg.NodeID, Addr: cfg.Addr, ClusterAddr: cfg.ClusterAddr})
		ns.cfgs = append(ns.cfgs, cfg)
	}
	for i := range ns.cfgs {
		ns.cfgs[i].Peers = peers
		if edit != nil {
			edit(&ns.cfgs[i])
		}
		node, err := Open(ns.cfgs[i], zaptest.NewLogger(t))
		if err != nil {
			t.Fatalf("open %s: %v", ns.cfgs[i].NodeID, err)
		}
		ns.nodes = append(ns.nodes, node)
	}
	t.Cleanup(func() {
		for _, node := range ns.nodes {
			if node != nil {
				closeNode(t, node)
			}
		}
	})
	for _, node := range ns.nodes {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		err := node.WaitReady(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// leader waits for a node to lead shard id, ready for reads, and returns it.
func (ns *nodeSet) leader(id int) *Node {
	ns.t.Helper()
	var found *Node
	waitUntil(ns.t, fmt.Sprintf("a ready leader of shard %d", id), 20*time.Second, func() bool {
		for _, node := range ns.nodes {
			if node != nil && node.shards[id].Status().ReadyForLinearRead {
				found = node
				return true
			}
		}
		return false
	})
	return found
}

// waitForLeader waits until this replica knows a leader of the shard and
// returns its ID. It wakes on the leader observations the shard already
// broadcasts (leaderChanged), not on a timer.
func (s *Shard) waitForLeader(ctx context.Context) (string, error) {
	for {
		changed := s.leaderChanged() // taken before the check: no change is missed
		if id := s.Leader(); id != "" {
			return id, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("wait for a leader of shard %d: %w", s.id, ctx.Err())
		}
	}
}

// waitForApplied waits until this replica's store has applied every
// command entry up to index (fsm.applied; raft's AppliedIndex runs ahead
// of the store). Pass an index that appliedIndex returned.
func (s *Shard) waitForApplied(ctx context.Context, index uint64) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.appliedIndex() < index {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("wait for shard %d to apply index %d (at %d): %w",
				s.id, index, s.appliedIndex(), ctx.Err())
		}
	}
	return nil
}

// appliedIndex is the index of the newest command entry this replica's
// store applied. On a leader, after Propose returns, it covers the write.
func (s *Shard) appliedIndex() uint64 { return s.fsm.applied.Load() }

// waitForReadyLeader waits until this node leads the shard in a term
// whose post-election barrier is done (its leadership room is open).
func (s *Shard) waitForReadyLeader(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if _, ok := s.leaderReady(); ok {
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("wait for this node to lead shard %d, ready: %w", s.id, ctx.Err())
		}
	}
}

// looseTimeouts gives a multi-node test room on a busy 2-core machine
// under -race: an election on a missed heartbeat would make the test about
// that election instead.
func looseTimeouts(c *Config) {
	c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 500*time.Millisecond, 500*time.Millisecond, 250*time.Millisecond
}

// steadyLeaders is looseTimeouts without balancing: for tests that take
// a shard's leader and expect it to stay (the balancer would move it to
// its preferred node a few seconds after the cluster is ready).
func steadyLeaders(c *Config) {
	looseTimeouts(c)
	c.NoBalance = true
}

// node returns the running node with the given ID.
func (ns *nodeSet) node(id string) *Node {
	ns.t.Helper()
	for _, node := range ns.nodes {
		if node != nil && node.ID() == id {
			return node
		}
	}
	ns.t.Fatalf("no running node %s", id)
	return nil
}

// followerOf returns a running node that does not lead shard id.
func (ns *nodeSet) followerOf(id int) *Node {
	ns.t.Helper()
	leader := ns.leader(id)
	for _, node := range ns.nodes {
		if node != nil && node != leader {
			return node
		}
	}
	ns.t.Fatalf("shard %d has no follower", id)
	return nil
}

// waitSameLeader waits until every running node knows the same leader of
// shard id, and returns its ID.
func (ns *nodeSet) waitSameLeader(id int) string {
	ns.t.Helper()
	ctx, cancel := context.WithTimeout(ns.t.Context(), 20*time.Second)
	defer cancel()
	for {
		var leader string
		agree := true
		for _, node := range ns.nodes {
			if node == nil {
				continue
			}
			got, err := node.shards[id].waitForLeader(ctx)
			if err != nil {
				ns.t.Fatal(err)
			}
			if leader == "" {
				leader = got
			}
			agree = agree && got == leader
		}
		if agree {
			return leader
		}
		select {
		case <-ctx.Done():
			ns.t.Fatalf("nodes disagree on the leader of shard %d", id)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitApplied waits until every running node's replica of shard id has
// applied the command entries up to index (see waitForApplied).
func (ns *nodeSet) waitApplied(id int, index uint64) {
	ns.t.Helper()
	ctx, cancel := context.WithTimeout(ns.t.Context(), 20*time.Second)
	defer cancel()
	for _, node := range ns.nodes {
		if node == nil {
			continue
		}
		if err := node.shards[id].waitForApplied(ctx, index); err != nil {
			ns.t.Fatalf("%s: %v", node.ID(), err)
		}
	}
}

// stop closes the running node with the given ID; the cleanup skips it.
func (ns *nodeSet) stop(id string) {
	ns.t.Helper()
	for i, node := range ns.nodes {
		if node != nil && node.ID() == id {
			closeNode(ns.t, node)
			ns.nodes[i] = nil
			return
		}
	}
	ns.t.Fatalf("no running node %s", id)
}

// waitUntil polls cond every 10 ms until it holds or timeout passes.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLeaseServesReadsWithoutRoundTrips(t *testing.T) {
	ns := newNodeSet(t, 3, 1, nil)
	leader := ns.leader(0)
	s := leader.shards[0]
	waitUntil(t, "a lease", 10*time.Second, func() bool { return s.lease.holds(s.raft.CurrentTerm()) })
	ctx := t.Context()
	if _, err := leader.Propose(ctx, 0, [][][]byte{args("SET", "k", "v")}); err != nil {
		t.Fatal(err)
	}
	rounds, leased := s.verify.rounds.Load(), s.leaseReads.Load()
	for range 100 {
		rs, err := leader.ReadBatch(ctx, 0, [][][]byte{args("GET", "k")}, nil)
		if err != nil || string(rs[0].Str) != "v" {
			t.Fatalf("GET k = %+v, %v", rs, err)
		}
	}
	if got := s.verify.rounds.Load() - rounds; got > 5 {
		t.Errorf("100 reads under a lease took %d VerifyLeader rounds", got)
	}
	if got := s.leaseReads.Load() - leased; got < 95 {
		t.Errorf("only %d of 100 reads were served under the lease", got)
	}
	// A transfer ends the lease before it starts.
	var to *Node
	for _, node := range ns.nodes {
		if node != leader {
			to = node
			break
		}
	}
	term := s.raft.CurrentTerm()
	if err := s.transfer(func() raft.Future {
		return s.raft.LeadershipTransferToServer(raft.ServerID(to.ID()), raft.ServerAddress(to.cfg.ClusterAddr))
	}); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if s.lease.holds(term) || s.lease.holds(s.raft.CurrentTerm()) {
		t.Fatal("the old leader still holds a lease after handing leadership over")
	}
	newLeader := ns.leader(0)
	ns2 := newLeader.shards[0]
	waitUntil(t, "the new leader's lease", 10*time.Second, func() bool { return ns2.lease.holds(ns2.raft.CurrentTerm()) })
	rs, err := newLeader.ReadBatch(ctx, 0, [][][]byte{args("GET", "k")}, nil)
	if err != nil || string(rs[0].Str) != "v" {
		t.Fatalf("GET k on the new leader = %+v, %v", rs, err)
	}
}

func TestReadLeaseOff(t *testing.T) {
	ns := newNodeSet(t, 3, 1, func(c *Config) { c.DisableReadLease = true })
	leader := ns.leader(0)
	s := leader.shards[0]
	rounds := s.verify.rounds.Load()
	for range 20 {
		if _, err := leader.ReadBatch(t.Context(), 0, [][][]byte{args("GET", "k")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if s.lease.holds(s.raft.CurrentTerm()) || s.leaseReads.Load() != 0 {
		t.Fatal("a lease was taken with leases off")
	}
	if got := s.verify.rounds.Load() - rounds; got < 20 {
		t.Fatalf("20 reads in a row took %d VerifyLeader rounds, want one each", got)
	}
}

// TestLeaseAnswer checks what a follower reports: the term, the leader it
// follows, and a contact that only grows older.
func TestLeaseAnswer(t *testing.T) {
	ns := newNodeSet(t, 3, 2, nil)
	for id := range 2 {
		leader := ns.leader(id)
		for _, node := range ns.nodes {
			if node == leader {
				continue
			}
			asks := []*leaseAsk{{s: leader.shards[id]}}
			var st followerState
			// A follower that has not yet accepted an append (its log was
			// behind) knows its leader but has no contact time yet.
			waitUntil(t, fmt.Sprintf("shard %d on %s to report its leader", id, node.ID()), 10*time.Second, func() bool {
				states, err := leader.askLease(t.Context(), node.cfg.ClusterAddr, asks)
				if err != nil {
					t.Fatal(err)
				}
				st = states[0]
				return st.since <= time.Second
			})
			if st.leader != leader.ID() || st.term != leader.shards[id].raft.CurrentTerm() {
				t.Fatalf("shard %d on %s: %+v, want leader %s in term %d", id, node.ID(), st,
					leader.ID(), leader.shards[id].raft.CurrentTerm())
			}
		}
	}
	if got := ns.nodes[0].leaseAnswer([]byte{0, 1, 0, 9}); got[0] != statusError {
		t.Fatalf("a query for a shard that does not exist: %q", got)
	}
	if got := ns.nodes[0].leaseAnswer([]byte{0, 2, 0, 0}); got[0] != statusError {
		t.Fatalf("a query shorter than its count: %q", got)
	}
}
