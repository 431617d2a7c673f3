package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap/zaptest"
)

// voterIDs lists the shard's voters as this node's replica knows them.
func voterIDs(t *testing.T, s *Shard) []string {
	t.Helper()
	voters, err := s.Voters()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range voters {
		if v.Suffrage == raft.Voter {
			ids = append(ids, string(v.ID))
		}
	}
	slices.Sort(ids)
	return ids
}

// TestMeetAndForget adds a node started with Join to every shard of a
// running cluster through a follower (as CLUSTER MEET does: the changes
// run on each shard's leader), checks that it catches up and is seen by
// every node, then removes it (CLUSTER FORGET) and checks that it stops
// serving and that its data directory refuses to start again.
func TestMeetAndForget(t *testing.T) {
	const shards = 2
	ns := newNodeSet(t, 2, shards, steadyLeaders)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for i := range shards {
		if _, err := ns.nodes[0].Propose(ctx, i, [][][]byte{args("SET", "before", "meet")}); err != nil {
			t.Fatal(err)
		}
	}

	cfg := testConfig(t, t.TempDir(), shards)
	cfg.NodeID, cfg.Addr, cfg.Join = "n3", freeAddr(t), true
	steadyLeaders(&cfg)
	joiner, err := Open(cfg, zaptest.NewLogger(t).Named("n3"))
	if err != nil {
		t.Fatal(err)
	}
	joinerOpen := true
	t.Cleanup(func() {
		if joinerOpen {
			closeNode(t, joiner)
		}
	})
	if joiner.Ready() {
		t.Fatal("a joining node is ready before any cluster added it")
	}

	// Meet from a node that does not lead every shard: the changes it
	// cannot make itself are forwarded to the leaders.
	via := ns.followerOf(0)
	met, err := via.Meet(ctx, cfg.ClusterAddr)
	if err != nil {
		t.Fatalf("meet: %v", err)
	}
	if want := (Peer{ID: "n3", Addr: cfg.Addr, ClusterAddr: cfg.ClusterAddr}); met != want {
		t.Fatalf("meet returned %+v, want %+v", met, want)
	}
	if _, err := via.Meet(ctx, cfg.ClusterAddr); err != nil {
		t.Fatalf("meeting a member again: %v", err)
	}
	ns.nodes = append(ns.nodes, joiner) // the set closes it from now on
	joinerOpen = false
	for i := range shards {
		leader := ns.node(ns.waitSameLeader(i))
		if got := voterIDs(t, leader.shards[i]); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
			t.Fatalf("shard %d voters after meet: %v", i, got)
		}
		ns.waitApplied(i, leader.shards[i].appliedIndex())
		if got := joiner.shards[i].ReadLocal(args("GET", "before")); string(got.Str) != "meet" {
			t.Fatalf("the new node's replica of shard %d holds before = %q", i, got.Str)
		}
	}
	for _, node := range ns.nodes {
		var ids []string
		for _, m := range node.Members(ctx) {
			ids = append(ids, m.ID)
			if m.Self != (m.ID == node.ID()) || m.Addr == "" {
				t.Errorf("%s sees %+v", node.ID(), m)
			}
		}
		if !slices.Equal(ids, []string{"n1", "n2", "n3"}) {
			t.Fatalf("%s's members: %v", node.ID(), ids)
		}
	}
	if !slices.ContainsFunc(via.Peers(), func(p Peer) bool { return p.ID == "n3" }) {
		t.Fatal("the meeting node did not store the new peer")
	}

	if err := ns.nodes[0].Forget(ctx, "n1"); err == nil {
		t.Fatal("a node forgot itself")
	}
	if err := ns.nodes[0].Forget(ctx, "n3"); err != nil {
		t.Fatalf("forget: %v", err)
	}
	for i := range shards {
		waitUntil(t, "n3 out of every replica's configuration", 20*time.Second, func() bool {
			for _, node := range ns.nodes[:2] {
				if slices.Contains(voterIDs(t, node.shards[i]), "n3") {
					return false
				}
			}
			return true
		})
	}
	waitUntil(t, "the removed node to know it", 10*time.Second, func() bool { return joiner.removed.Load() })
	if joiner.Ready() {
		t.Fatal("a removed node reports ready")
	}
	if _, err := joiner.Propose(ctx, 0, [][][]byte{args("SET", "k", "v")}); !errors.Is(err, ErrRemoved) {
		t.Fatalf("a removed node took a write: %v", err)
	}
	// The cluster goes on without it.
	if _, err := ns.nodes[0].Propose(ctx, 0, [][][]byte{args("SET", "after", "forget")}); err != nil {
		t.Fatal(err)
	}
	ns.stop("n3")
	if n, err := Open(cfg, zaptest.NewLogger(t)); err == nil {
		closeNode(t, n)
		t.Fatal("a removed node's data directory started again")
	}
}
