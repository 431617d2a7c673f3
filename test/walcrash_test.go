package test

import (
	"bytes"
	"context"
	bin "encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/test/lin"
)

// envCrashKills sets how many SIGKILLs TestPipelinedCrashStorm deals.
const envCrashKills = "RAFTCACHE_CRASH_KILLS"

func crashKills(t *testing.T) int {
	if s := os.Getenv(envCrashKills); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive count", envCrashKills, s)
		}
		return n
	}
	return 6
}

// newestSegment returns the path of the newest WAL segment of a node.
func newestSegment(t *testing.T, p *proc) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(p.dir, "wal", "*.wal"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("%s has no WAL segment: %v", p.id, err)
	}
	slices.Sort(segs)
	return segs[len(segs)-1]
}

// tearTail makes a dead node's log look as a power loss in the middle of
// a write leaves it: after the last frame, where the preallocated segment
// holds zeros, it writes the start of a frame that never completed — a
// fragment of real frame bytes, random garbage, or a header that claims
// more than the file holds. Everything the node acknowledged lies before
// it, so the node must cut exactly this and start. It reports what it
// wrote, or "" when the segment had no room.
func tearTail(t *testing.T, p *proc, rng *rand.Rand) string {
	t.Helper()
	path := newestSegment(t, p)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := len(bytes.TrimRight(data, "\x00"))
	if end < 200 || len(data)-end < 5000 {
		return ""
	}
	var torn []byte
	var what string
	switch rng.IntN(3) {
	case 0:
		k := 1 + rng.IntN(min(end-100, 600))
		torn = slices.Clone(data[end-k : end])
		what = fmt.Sprintf("a %d-byte fragment of frame bytes", k)
	case 1:
		torn = make([]byte, 1+rng.IntN(2000))
		for i := range torn {
			torn[i] = byte(rng.Uint32())
		}
		what = fmt.Sprintf("%d bytes of garbage", len(torn))
	default:
		torn = bin.LittleEndian.AppendUint32(nil, 0x7fff0000)
		torn = bin.LittleEndian.AppendUint32(torn, rng.Uint32())
		torn = bin.LittleEndian.AppendUint64(torn, rng.Uint64())
		torn = append(torn, bytes.Repeat([]byte{0xab}, rng.IntN(300))...)
		what = "a frame header claiming 2 GiB"
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(torn, int64(end)); err != nil {
		t.Fatal(err)
	}
	return what
}

// keyHistory is what one writer knows of one key: the value of its last
// acknowledged SET, and the values of SETs whose outcome is unknown.
type keyHistory struct {
	lastAcked string
	unknown   map[string]bool
}

// TestPipelinedCrashStorm SIGKILLs nodes of a three-node cluster, one at a
// time, while six clients send pipelines of 16 SETs to keys of every
// shard through random nodes; before half of the restarts it tears the
// tail of the killed node's log as a power loss during a write would. No
// acknowledged write may be lost: every key must end with its writer's
// last acknowledged value or the value of a SET whose outcome is unknown;
// every torn tail must be cut; the replicas must end identical.
func TestPipelinedCrashStorm(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7a11))
	kills := crashKills(t)
	fc := newFaultCluster(t, 3, 3, false)
	quietDialFailures()
	clients := fc.clients(15 * time.Second)

	const writers, keysPerWriter, pipeline = 6, 48, 16
	var (
		mu        sync.Mutex
		down      *proc
		histories = map[string]*keyHistory{}
		acked     int
		unknowns  int
		stop      = make(chan struct{})
		failure   error
	)
	var wg sync.WaitGroup
	for w := range writers {
		r := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		wg.Go(func() {
			seq := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				live := fc.liveExcept(down)
				mu.Unlock()
				p := live[r.IntN(len(live))]
				pipe := clients[p].Pipeline()
				type sent struct{ key, val string }
				var batch []sent
				var cmds []*redis.StatusCmd
				for range pipeline {
					seq++
					s := sent{key: fmt.Sprintf("pw:%d:%d", w, r.IntN(keysPerWriter)), val: strconv.Itoa(seq)}
					batch = append(batch, s)
					cmds = append(cmds, pipe.Set(context.Background(), s.key, s.val, 0))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, _ = pipe.Exec(ctx)
				cancel()
				mu.Lock()
				for i, c := range cmds {
					h := histories[batch[i].key]
					if h == nil {
						h = &keyHistory{unknown: map[string]bool{}}
						histories[batch[i].key] = h
					}
					switch outcome, _ := lin.Classify(c.Err()); {
					case outcome == lin.Done && c.Err() != nil:
						failure = fmt.Errorf("SET %s through %s: %w", batch[i].key, p.id, c.Err())
					case outcome == lin.Done:
						h.lastAcked = batch[i].val
						acked++
					case outcome == lin.Unknown:
						h.unknown[batch[i].val] = true
						unknowns++
					}
				}
				mu.Unlock()
			}
		})
	}

	torn := map[*proc]int{}
	marks := fc.logMarks()
	for k := range kills {
		waitFor(t, "writes between kills", 60*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return acked >= (k+1)*300 || failure != nil
		})
		victim := fc.procs[rng.IntN(len(fc.procs))]
		mu.Lock()
		down = victim
		mu.Unlock()
		fc.stop(victim, syscall.SIGKILL)
		if rng.IntN(2) == 0 {
			if what := tearTail(t, victim, rng); what != "" {
				torn[victim]++
				t.Logf("kill %d: %s, its log's tail torn with %s", k+1, victim.id, what)
			}
		}
		fc.start(victim)
		waitClusterOK(t, victim.addr(), 60*time.Second)
		mu.Lock()
		down = nil
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
	fc.waitHealthy(60 * time.Second)
	fc.waitConverged(fc.procs, 60*time.Second)

	for _, p := range fc.procs {
		cut := strings.Count(p.output()[marks[p]:], "cutting the log's torn tail")
		if cut < torn[p] {
			t.Errorf("%s's log tail was torn %d times but cut %d times", p.id, torn[p], cut)
		}
	}
	lost := 0
	for key, h := range histories {
		for _, p := range fc.procs {
			got, err := clients[p].Get(context.Background(), key).Result()
			if err == redis.Nil {
				got = ""
			} else if err != nil {
				t.Fatalf("GET %s through %s: %v", key, p.id, err)
			}
			if got != h.lastAcked && !h.unknown[got] {
				lost++
				if lost <= 10 {
					t.Errorf("%s = %q through %s: the last acknowledged SET wrote %q (unknown outcomes: %v)",
						key, got, p.id, h.lastAcked, h.unknown)
				}
			}
		}
	}
	t.Logf("report: %d SIGKILLs, %d torn tails, %d SETs acknowledged, %d with an unknown outcome, %d keys",
		kills, sumValues(torn), acked, unknowns, len(histories))
	fc.checkProcesses()
}

func sumValues(m map[*proc]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestDamagedLogRefusesToStart damages a frame of a stopped node's log
// that later, synced frames follow — damage, not a torn write — and checks
// that the node refuses to start and says how to rebuild it, and that a
// node rebuilt that way catches up with every write.
func TestDamagedLogRefusesToStart(t *testing.T) {
	c := newCluster(t, 3, 3)
	client := redis.NewClient(&redis.Options{Addr: c.procs[0].addr()})
	defer client.Close()
	ctx := context.Background()
	for i := range 200 {
		if err := client.Set(ctx, fmt.Sprintf("dmg:%d", i), "a-value-worth-keeping-"+strconv.Itoa(i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	victim := c.procs[2]
	victim.kill()
	path := newestSegment(t, victim)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("a-value-worth-keeping-10"))
	if i < 0 {
		t.Fatalf("the value is not in %s", path)
	}
	data[i] ^= 0x20
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	victim.start()
	select {
	case <-victim.exited():
	case <-time.After(30 * time.Second):
		t.Fatal("the node started on a damaged log")
	}
	out := victim.output()
	for _, want := range []string{"write-ahead log is damaged", "refusing to start", "move " + victim.dir + " aside"} {
		if !strings.Contains(out, want) {
			t.Errorf("the node's refusal does not say %q:\n%s", want, out[max(0, len(out)-2000):])
		}
	}
	// Rebuild it as the message says.
	if err := os.Rename(victim.dir, victim.dir+".damaged"); err != nil {
		t.Fatal(err)
	}
	victim.start()
	waitClusterOK(t, victim.addr(), 60*time.Second)
	c.waitConverged(c.procs, 60*time.Second)
	if v, err := client.Get(ctx, "dmg:10").Result(); err != nil || v != "a-value-worth-keeping-10" {
		t.Fatalf("GET dmg:10 = %q, %v", v, err)
	}
}
