package cluster

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Readiness: a node is ready to serve — and a rolling restart may take
// down the next node — once every shard has a leader and this node's
// replica of every shard is within a small lag of its leader. Having a
// leader alone (cluster_state:ok) is not enough: a restarted node whose
// replicas are still catching up is needed for every commit as soon as
// another node goes down, and writes then wait until it has caught up
// (by a snapshot install, if it is far behind).

// DefaultReadyMaxLag is the default of Config.ReadyMaxLag.
const DefaultReadyMaxLag = 500

// ReplicaLag is how far this node's replica of a shard trails the shard's
// leader.
type ReplicaLag struct {
	Shard int
	// Leader is the leader's node ID, "" while none is known.
	Leader string
	// Entries is the leader's commit index minus this replica's applied
	// index (0 on the leader); -1 when unknown (no leader, or it did not
	// answer).
	Entries int64
	// Seconds is how far behind the leader's clock the newest entry
	// applied here was appended, while Entries > 0 (0 when caught up); -1
	// when unknown.
	Seconds float64
	// Err says why the lag is unknown.
	Err error
}

// ReplicaLag measures this replica's lag behind the shard's leader. On a
// follower it asks the leader for its commit index, within ctx.
func (n *Node) ReplicaLag(ctx context.Context, shard int) ReplicaLag {
	s := n.shards[shard]
	l := ReplicaLag{Shard: shard, Entries: -1, Seconds: -1}
	addr, id := s.raft.LeaderWithID()
	l.Leader = string(id)
	switch {
	case id == "":
		l.Err = fmt.Errorf("shard %d has no leader", shard)
		return l
	case string(id) == n.meta.NodeID:
		l.Entries, l.Seconds = 0, 0
		return l
	}
	// This replica's applied index is read first, so the lag measured is
	// never less than the true one.
	applied := s.raft.AppliedIndex()
	lead, err := n.indexesOf(ctx, shard, string(id), string(addr))
	if err != nil {
		l.Err = fmt.Errorf("ask shard %d's leader %s for its commit index: %w", shard, id, err)
		return l
	}
	l.Entries = max(int64(lead.commit)-int64(applied), 0)
	switch ns := s.fsm.appendedAt.Load(); {
	case l.Entries == 0:
		l.Seconds = 0
	case ns != 0:
		l.Seconds = max(time.Since(time.Unix(0, ns)).Seconds(), 0)
	}
	return l
}

// Readiness is whether the node is ready, and why not.
type Readiness struct {
	Ready bool
	// Reason says why the node is not ready ("" when it is).
	Reason string
	Shards []ReplicaLag
}

// Readiness reports whether every shard has a leader that has finished
// its post-election barrier (when this node leads it) or that answers and
// whose commit index this node's replica has applied to within
// Config.ReadyMaxLag entries. The shards are asked concurrently within ctx.
func (n *Node) Readiness(ctx context.Context) Readiness {
	r := Readiness{Ready: true, Shards: make([]ReplicaLag, len(n.shards))}
	if n.removed.Load() {
		return Readiness{Reason: "this node was removed from the cluster"}
	}
	var wg sync.WaitGroup
	for i := range n.shards {
		wg.Go(func() { r.Shards[i] = n.ReplicaLag(ctx, i) })
	}
	wg.Wait()
	for i, l := range r.Shards {
		reason := ""
		switch {
		case l.Err != nil:
			reason = l.Err.Error()
		case l.Leader == n.meta.NodeID && !n.shards[i].Status().ReadyForLinearRead:
			reason = "shard " + strconv.Itoa(i) + ": this node leads it but has not applied its predecessors' entries yet"
		case l.Entries > int64(n.cfg.ReadyMaxLag):
			reason = fmt.Sprintf("shard %d: this replica is %d entries behind its leader %s (at most %d allowed)",
				i, l.Entries, l.Leader, n.cfg.ReadyMaxLag)
		}
		if reason != "" && r.Ready {
			r.Ready, r.Reason = false, reason
		}
	}
	return r
}
