package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestBalanceSpreadsLeaders: with as many shards as nodes, each shard
// ends up led by its preferred node (the i-th voter in ID order), and a
// shard moved away from its preferred node is handed back once the
// cluster has been healthy for balanceSettle.
func TestBalanceSpreadsLeaders(t *testing.T) {
	const nodes = 3
	ns := newNodeSet(t, nodes, nodes, looseTimeouts)
	preferred := func(shard int) string { return fmt.Sprintf("n%d", shard%nodes+1) }
	spread := func() bool {
		for i := range nodes {
			if ns.nodes[0].shards[i].Leader() != preferred(i) {
				return false
			}
		}
		return true
	}
	waitUntil(t, "every shard led by its preferred node", 40*time.Second, spread)

	// Move shard 1 away from n2, by hand, to n1.
	s := ns.node(preferred(1)).shards[1]
	to := ns.node("n1")
	if err := s.transfer(func() raft.Future {
		return s.raft.LeadershipTransferToServer(raft.ServerID(to.ID()), raft.ServerAddress(to.cfg.ClusterAddr))
	}); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	waitUntil(t, "n1 to lead shard 1", 10*time.Second, func() bool { return to.shards[1].IsLeader() })
	waitUntil(t, "shard 1 handed back to n2", 40*time.Second, func() bool { return ns.node("n2").shards[1].IsLeader() })
	waitUntil(t, "every shard led by its preferred node again", 20*time.Second, spread)
}
