package test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRestartAfterSnapshotInstall restarts a node that caught up by
// installing a snapshot. hashicorp/raft keeps the follower's old log tail
// after an install (raft-boltdb is not a MonotonicLogStore), so its log
// store then holds the old tail, a gap the snapshot covers, and the new
// entries; the node must start again on that log.
func TestRestartAfterSnapshotInstall(t *testing.T) {
	fc := newFaultCluster(t, 3, 3, false, "--raft-trailing-logs", "4")
	key := fc.keyInShard(0, "install")
	c := plainClient(t, fc.procs[0].addr())
	ctx := context.Background()
	set := func(n int, tag string) {
		t.Helper()
		for i := range n { // one entry each
			if err := c.Set(ctx, key, fmt.Sprintf("%s-%d", tag, i), 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
		}
	}
	victim := fc.procs[2]
	set(20, "before")
	fc.waitConverged(fc.procs, 60*time.Second)
	fc.stop(victim, syscall.SIGKILL)
	set(40, "while-down")
	for _, p := range fc.procs[:2] {
		if out := cli(t, p.addr(), "SAVE"); out != "OK" {
			t.Fatalf("SAVE on %s: %s", p.id, out)
		}
	}
	before := strings.Count(victim.output(), "Installed remote snapshot")
	fc.start(victim)
	fc.waitHealthy(60 * time.Second)
	set(3, "after-install") // fewer than would trigger a snapshot of its own
	fc.waitConverged(fc.procs, 60*time.Second)
	if strings.Count(victim.output(), "Installed remote snapshot") == before {
		t.Fatalf("%s caught up without installing a snapshot", victim.id)
	}

	fc.stop(victim, syscall.SIGTERM)
	fc.start(victim)
	deadline := time.Now().Add(60 * time.Second)
	for !clusterOK(victim.addr()) {
		select {
		case <-victim.exited():
			out := victim.output()
			t.Fatalf("%s did not start again after installing a snapshot:\n%s", victim.id, out[max(0, len(out)-1500):])
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not back within 60s of its restart", victim.id)
		}
		time.Sleep(50 * time.Millisecond)
	}
	fc.waitConverged(fc.procs, 60*time.Second)
	if got := cli(t, victim.addr(), "GET", key); got != "after-install-2" {
		t.Fatalf("GET %s through %s = %q", key, victim.id, got)
	}
	fc.checkProcesses()
}

// clusterOK reports whether the node at addr answers cluster_state:ok.
func clusterOK(addr string) bool {
	infos, ok := shardInfos(addr)
	if !ok || len(infos) == 0 {
		return false
	}
	for _, si := range infos {
		if si.leader == "" {
			return false
		}
	}
	return true
}
