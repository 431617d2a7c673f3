package cluster

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestWaitReplicas runs WAIT against real replicas: it counts the
// followers holding every acknowledged write, asks the leader when called
// on a follower, and with a replica down returns the smaller count once
// its timeout passes.
func TestWaitReplicas(t *testing.T) {
	ns := newNodeSet(t, 3, 1, steadyLeaders)
	leader := ns.leader(0)
	follower := ns.followerOf(0)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := leader.Propose(ctx, 0, [][][]byte{args("SET", "k", "v1")}); err != nil {
		t.Fatal(err)
	}
	for _, on := range []*Node{leader, follower} {
		got, err := on.WaitReplicas(ctx, []int{0}, 2, 10*time.Second)
		if err != nil || got != 2 {
			t.Fatalf("WAIT 2 on %s = %d, %v; want 2", on.ID(), got, err)
		}
	}
	if got, err := leader.WaitReplicas(ctx, nil, 0, time.Second); err != nil || got != 2 {
		t.Fatalf("WAIT with no shards written = %d, %v; want every other node (2)", got, err)
	}

	ns.stop(follower.ID())
	if _, err := leader.Propose(ctx, 0, [][][]byte{args("SET", "k", "v2")}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := leader.WaitReplicas(ctx, []int{0}, 2, 300*time.Millisecond)
	if err != nil || got != 1 {
		t.Fatalf("WAIT 2 with a replica down = %d, %v; want 1", got, err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("WAIT 2 with a replica down returned after %v, before its timeout", took)
	}
	start = time.Now()
	if got, err := leader.WaitReplicas(ctx, []int{0}, 1, 10*time.Second); err != nil || got != 1 {
		t.Fatalf("WAIT 1 with a replica down = %d, %v; want 1", got, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("WAIT 1, already satisfied, took %v", took)
	}
}

// TestWaitCountsPastASilentReplica: a replica that accepts the question
// and never answers (a stopped process, a cut link) does not keep WAIT
// from counting the replicas that do answer.
func TestWaitCountsPastASilentReplica(t *testing.T) {
	ns := newNodeSet(t, 3, 1, steadyLeaders)
	leader := ns.leader(0)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := leader.Propose(ctx, 0, [][][]byte{args("SET", "k", "v")}); err != nil {
		t.Fatal(err)
	}
	ns.waitApplied(0, leader.shards[0].appliedIndex())

	// The leader's internal RPCs to the first other voter (in the order
	// WAIT asks them) go to a listener that reads and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	voters, err := leader.shards[0].Voters()
	if err != nil {
		t.Fatal(err)
	}
	var muted string
	for _, v := range voters {
		if string(v.ID) != leader.ID() {
			muted = string(v.Address)
			break
		}
	}
	leader.rpcMu.Lock()
	leader.rpcClients[muted] = &rpcClient{addr: silent.Addr().String()}
	leader.rpcMu.Unlock()

	start := time.Now()
	got, err := leader.WaitReplicas(ctx, []int{0}, 2, 500*time.Millisecond)
	if err != nil || got != 1 {
		t.Fatalf("WAIT 2 with one replica silent = %d, %v; want 1", got, err)
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Fatalf("WAIT 2 with one replica silent returned after %v, before its timeout", took)
	}
}
