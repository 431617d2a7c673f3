package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestLeadershipRoomMovesWithTheLeader: expiry, leader-only work, runs on
// the shard's leader after its barrier and stops on the node that hands
// leadership over; the new leader's room removes expired keys from every
// replica.
func TestLeadershipRoomMovesWithTheLeader(t *testing.T) {
	// No balancing: it would hand the shard back to its preferred node.
	ns := newNodeSet(t, 3, 1, steadyLeaders)
	old := ns.leader(0)
	ctx := t.Context()
	expireAll := func(on *Node, prefix string) {
		t.Helper()
		for i := range 20 {
			if _, err := on.Propose(ctx, 0, [][][]byte{args("SET", fmt.Sprintf("%s%d", prefix, i), "v", "PX", "50")}); err != nil {
				t.Fatal(err)
			}
		}
		waitUntil(t, "the expired keys gone from every replica", 20*time.Second, func() bool {
			for _, node := range ns.nodes {
				if node.shards[0].store.Stats().Keys != 0 {
					return false
				}
			}
			return true
		})
	}
	expireAll(old, "a")
	if old.shards[0].stats.expired.Load() == 0 {
		t.Fatal("the leader removed no expired key")
	}

	to := ns.followerOf(0)
	s := old.shards[0]
	if err := s.transfer(func() raft.Future {
		return s.raft.LeadershipTransferToServer(raft.ServerID(to.ID()), raft.ServerAddress(to.cfg.ClusterAddr))
	}); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if ns.leader(0) != to {
		t.Fatalf("shard 0 is led by %s, not %s, after the transfer", ns.leader(0).ID(), to.ID())
	}
	before, newBefore := s.stats.expired.Load(), to.shards[0].stats.expired.Load()
	expireAll(to, "b")
	if got := s.stats.expired.Load(); got != before {
		t.Fatalf("the former leader removed %d expired keys after handing leadership over", got-before)
	}
	if to.shards[0].stats.expired.Load() == newBefore {
		t.Fatal("the new leader removed no expired key")
	}
	if s.lease.holds(s.raft.CurrentTerm()) {
		t.Fatal("the former leader still holds a read lease")
	}
}

// TestBarrierRefusedDuringTransferIsRetried: a leader whose post-election
// barrier is refused because a leadership transfer is in progress, and
// whose transfer then fails, still opens its leadership room in the same
// term, so it serves reads and runs its leader-only work.
func TestBarrierRefusedDuringTransferIsRetried(t *testing.T) {
	// Looser timeouts than newGroup's: with one replica cut off, the
	// leader must keep its lease on the other under -race on a loaded
	// machine, and a longer transfer is easier for a barrier to meet.
	cfg := inmemConfig()
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 400*time.Millisecond, 400*time.Millisecond, 300*time.Millisecond
	g := newGroupWith(t, 3, cfg)
	l := g.leader()
	var target *replica
	for _, r := range g.replicas {
		if r != l {
			target = r
			break
		}
	}
	g.isolate(target) // the transfer cannot complete: it times out
	s := l.shard
	deadline := time.Now().Add(10 * time.Second)
	// transfer carries the running transfer's result; one goroutine per
	// transfer reads its future (a raft future is not safe for two
	// readers).
	var transfer chan error
	for {
		if time.Now().After(deadline) {
			t.Fatal("never saw a barrier refused during a leadership transfer")
		}
		if transfer == nil {
			f := s.raft.LeadershipTransferToServer(raft.ServerID(target.id), target.addr)
			ch := make(chan error, 1)
			go func() { ch <- f.Error() }()
			transfer = ch
		}
		err := s.raft.Barrier(time.Second).Error()
		if errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			break
		}
		if err != nil {
			t.Fatalf("barrier: %v", err)
		}
		select {
		case <-transfer:
			transfer = nil // over before a barrier met it: start another
		default:
		}
	}
	term := s.raft.CurrentTerm()
	var room leaderRoom
	s.establishLeadership(&room)
	defer s.revokeLeadership(&room)
	if err := <-transfer; err == nil {
		t.Fatal("the transfer to an isolated replica succeeded")
	}
	if !room.open() || room.term != term || !s.IsLeader() || s.raft.CurrentTerm() != term {
		t.Fatalf("room open %v in term %d (want %d), leader %v", room.open(), room.term, term, s.IsLeader())
	}
	if _, ok := s.leaderReady(); !ok {
		t.Fatal("the leader is not ready for reads after its barrier")
	}
}
