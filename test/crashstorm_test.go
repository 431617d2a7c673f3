package test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/raftcache/raftcache/test/lin"
)

// TestCrashStorm sends 100 INCRBYs to one counter while SIGKILLing a
// node every few operations (one node is down at a time: the victim is
// restarted before the next one is killed), then does it again with
// snapshots forced: small --snapshot-threshold and --raft-trailing-logs,
// and SAVE on the live nodes before each restart, so that a restarted
// node catches up by installing a snapshot. The final counter must equal
// the acknowledged increments plus some subset of those whose outcome is
// unknown.
func TestCrashStorm(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc4a54))
	fc := newFaultCluster(t, 3, 3, false)

	t.Run("log", func(t *testing.T) { crashStorm(t, fc, rng, "storm:log", false) })
	// Small thresholds from now on: every node restarts once with them
	// before the storm.
	for _, p := range fc.procs {
		p.extra = append(p.extra, "--snapshot-threshold", "8", "--raft-trailing-logs", "4", "--snapshot-interval", "200ms")
		fc.stop(p, syscall.SIGTERM)
		fc.start(p)
		fc.waitHealthy(60 * time.Second)
	}
	t.Run("snapshots", func(t *testing.T) { crashStorm(t, fc, rng, "storm:snap", true) })
	fc.checkProcesses()
}

func crashStorm(t *testing.T, fc *faultCluster, rng *rand.Rand, key string, snapshots bool) {
	quietDialFailures()
	clients := fc.clients(12 * time.Second)
	marks := fc.logMarks()

	// Four clients share the 100 INCRBYs, so that kills land while
	// increments are in flight; each sends one at a time to a random node
	// that is not down on purpose, and retries one that was refused.
	var (
		mu         sync.Mutex
		down       *proc
		issued     int
		ackedOps   atomic.Int64
		acked      int64
		unknown    []int64
		refused    int
		failure    error
		clientsRng = make([]*rand.Rand, 4)
	)
	for i := range clientsRng {
		clientsRng[i] = rand.New(rand.NewPCG(rng.Uint64(), uint64(i)))
	}
	var wg sync.WaitGroup
	for _, r := range clientsRng {
		wg.Go(func() {
			for {
				mu.Lock()
				if issued == 100 || failure != nil {
					mu.Unlock()
					return
				}
				issued++
				mu.Unlock()
				inc := int64(1 + r.IntN(9))
				deadline := time.Now().Add(60 * time.Second)
				for {
					mu.Lock()
					live := fc.liveExcept(down)
					mu.Unlock()
					p := live[r.IntN(len(live))]
					ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
					err := clients[p].IncrBy(ctx, key, inc).Err()
					cancel()
					outcome, class := lin.Classify(err)
					mu.Lock()
					switch {
					case outcome == lin.Done && err != nil:
						failure = fmt.Errorf("INCRBY %s %d through %s: %w", key, inc, p.id, err)
					case outcome == lin.Done:
						acked += inc
						ackedOps.Add(1)
					case outcome == lin.Unknown:
						unknown = append(unknown, inc)
						t.Logf("INCRBY %d through %s: outcome unknown (%s): %v", inc, p.id, class, err)
					default:
						refused++
						if time.Now().After(deadline) {
							failure = fmt.Errorf("INCRBY %d refused for 60s; last: %w", inc, err)
						}
					}
					mu.Unlock()
					if outcome != lin.NotDone || time.Now().After(deadline) {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				// Think time: about five increments a second in all, so
				// that restarts (each waits for the restarted node to be
				// back) come every few increments.
				time.Sleep(time.Duration(400+r.IntN(800)) * time.Millisecond)
			}
		})
	}

	// Every few acknowledged increments: SAVE on the live nodes (snapshot
	// phase), restart the node that is down, kill another (perhaps the
	// same). With snapshots, a victim stays down for twice as many
	// increments as the trailing logs keep entries (group commit may put
	// two in one entry), so it must catch up by snapshot.
	gap := func() int64 {
		if snapshots {
			return int64(8 + rng.IntN(5))
		}
		return int64(3 + rng.IntN(5))
	}
	restarts := 0
	for next := gap(); ; next += gap() {
		waitFor(t, fmt.Sprintf("%d acknowledged increments", next), 120*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return ackedOps.Load() >= next || issued == 100 || failure != nil
		})
		mu.Lock()
		over := issued == 100 || failure != nil
		mu.Unlock()
		if over {
			break
		}
		mu.Lock()
		victim := down
		mu.Unlock()
		if snapshots {
			for _, p := range fc.procs {
				if p != victim {
					if out := cli(t, p.addr(), "SAVE"); out != "OK" {
						t.Fatalf("SAVE on %s: %s", p.id, out)
					}
				}
			}
		}
		if victim != nil {
			// Back in the cluster (it knows every shard's leader) before
			// the next kill, so that a majority is up.
			fc.start(victim)
			waitClusterOK(t, victim.addr(), 60*time.Second)
		}
		victim = fc.procs[rng.IntN(len(fc.procs))]
		mu.Lock()
		down = victim
		mu.Unlock()
		fc.stop(victim, syscall.SIGKILL)
		restarts++
	}
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
	if down != nil {
		fc.start(down)
	}
	fc.waitHealthy(60 * time.Second)
	fc.waitConverged(fc.procs, 60*time.Second)

	installs := fc.countLogs(marks, "Installed remote snapshot")
	total := 0
	for _, n := range installs {
		total += n
	}
	var unknownSum int64
	for _, u := range unknown {
		unknownSum += u
	}
	for _, p := range fc.procs {
		got, err := clients[p].Get(context.Background(), key).Int64()
		if err != nil {
			t.Fatalf("GET %s through %s: %v", key, p.id, err)
		}
		if got < acked || got > acked+unknownSum || !subsetSum(unknown, got-acked) {
			t.Errorf("%s = %d through %s: not the acknowledged %d plus a subset of the unknown %v",
				key, got, p.id, acked, unknown)
		}
		if p == fc.procs[0] {
			t.Logf("report: 100 INCRBYs, %d SIGKILL+restarts, %d refused attempts retried, %d unknown outcomes %v, "+
				"%d snapshot installs; %s = %d, acknowledged sum %d", restarts, refused, len(unknown), unknown, total, key, got, acked)
		}
	}
	if snapshots && total == 0 {
		t.Errorf("no restarted node installed a snapshot; the snapshot phase tested nothing")
	}
}

// subsetSum reports whether some subset of xs adds up to target.
func subsetSum(xs []int64, target int64) bool {
	reach := map[int64]bool{0: true}
	for _, x := range xs {
		for _, s := range slices.Collect(maps.Keys(reach)) {
			reach[s+x] = true
		}
	}
	return reach[target]
}
