package test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCleanStopHandsOffLeadership stops a shard leader with SIGTERM: it
// must hand each shard it leads to another node before it exits, so the
// others take over without waiting for an election timeout, and writes to
// those shards go on through the survivors.
func TestCleanStopHandsOffLeadership(t *testing.T) {
	fc := newFaultCluster(t, 3, 3, false)
	victim := fc.leaderOf(0, fc.procs)
	infos, ok := shardInfos(victim.addr())
	if !ok {
		t.Fatalf("no shard info from %s", victim.id)
	}
	var led []int
	for s, si := range infos {
		if si.leader == victim.id {
			led = append(led, s)
		}
	}
	marks := fc.logMarks()
	fc.stop(victim, syscall.SIGTERM)

	if got := fc.countLogs(marks, "handed shard leadership off before shutdown"); len(got) != len(led) {
		t.Fatalf("%s led shards %v but logged hand-offs for %v", victim.id, led, got)
	}
	var survivors []*proc
	for _, p := range fc.procs {
		if p != victim {
			survivors = append(survivors, p)
		}
	}
	c := plainClient(t, survivors[0].addr())
	for _, s := range led {
		if p := fc.leaderOf(s, survivors); p == victim {
			t.Fatalf("shard %d still led by the stopped %s", s, victim.id)
		}
		key := fc.keyInShard(s, "handoff")
		if err := c.Set(context.Background(), key, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s (shard %d) after the hand-off: %v", key, s, err)
		}
	}
	for _, p := range survivors {
		for _, line := range strings.Split(p.output()[marks[p]:], "\n") {
			if strings.Contains(line, "heartbeat timeout reached") {
				t.Errorf("%s waited for an election timeout although leadership was handed off: %s", p.id, line)
			}
		}
	}
	fc.start(victim)
	fc.waitHealthy(60 * time.Second)
	fc.checkProcesses()
}
