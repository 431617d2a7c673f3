package cluster

import (
	"errors"
	"testing"
)

// TestFollowerForwardsToLeader: a write and a read sent to a node that
// does not lead the shard are served by the leader over the cluster port
// and reach every replica; the follower's own shard refuses them, and a
// forwarded command is never forwarded again.
func TestFollowerForwardsToLeader(t *testing.T) {
	ns := newNodeSet(t, 3, 1, steadyLeaders)
	leader := ns.leader(0)
	follower := ns.followerOf(0)
	ctx := t.Context()

	_, err := follower.shards[0].Propose(ctx, [][][]byte{args("SET", "k", "local")})
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.LeaderID != leader.ID() || nl.LeaderAddr != leader.cfg.Addr {
		t.Fatalf("the follower's shard took a write: %v (want a redirect to %s at %s)", err, leader.ID(), leader.cfg.Addr)
	}

	rs, err := follower.Propose(ctx, 0, [][][]byte{args("SET", "k", "v1"), args("INCR", "n")})
	if err != nil {
		t.Fatalf("forwarded write: %v", err)
	}
	if len(rs) != 2 || string(rs[0].Str) != "OK" || rs[1].Int != 1 {
		t.Fatalf("forwarded write replies: %+v", rs)
	}
	ns.waitApplied(0, leader.shards[0].appliedIndex())
	for _, node := range ns.nodes {
		if got := node.shards[0].ReadLocal(args("GET", "k")); string(got.Str) != "v1" {
			t.Fatalf("%s holds k = %q after the forwarded write", node.ID(), got.Str)
		}
	}

	s := leader.shards[0]
	served := s.leaseReads.Load() + s.verify.rounds.Load()
	rs, err = follower.ReadBatch(ctx, 0, [][][]byte{args("GET", "k"), args("GET", "n")}, nil)
	if err != nil || len(rs) != 2 || string(rs[0].Str) != "v1" || string(rs[1].Str) != "1" {
		t.Fatalf("forwarded read = %+v, %v", rs, err)
	}
	if s.leaseReads.Load()+s.verify.rounds.Load() == served {
		t.Fatal("the leader did not serve the forwarded read (no lease read, no confirmation round)")
	}
	if r, err := follower.Read(ctx, 0, args("GET", "k")); err != nil || string(r.Str) != "v1" {
		t.Fatalf("forwarded single read = %+v, %v", r, err)
	}

	// The follower serves only what it leads: a write forwarded to it is
	// answered "not the leader", naming the leader, and nothing applies.
	_, err = leader.forward(ctx, follower.cfg.ClusterAddr, opPropose, 0, [][][]byte{args("SET", "k", "x")})
	if !errors.As(err, &nl) || nl.LeaderID != leader.ID() {
		t.Fatalf("a write forwarded to a follower: %v, want not-leader naming %s", err, leader.ID())
	}
	if r, err := leader.Read(ctx, 0, args("GET", "k")); err != nil || string(r.Str) != "v1" {
		t.Fatalf("k after a refused forward = %+v, %v", r, err)
	}
}
