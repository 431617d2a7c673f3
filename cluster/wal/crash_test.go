package wal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// crashRuns is how many simulated power losses TestPowerLoss runs:
// RAFTCACHE_WAL_CRASHES, default 300.
func crashRuns(t *testing.T) int {
	if s := os.Getenv("RAFTCACHE_WAL_CRASHES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("RAFTCACHE_WAL_CRASHES=%q: want a positive count", s)
		}
		return n
	}
	return 300
}

func testSeed(t *testing.T) uint64 {
	if s := os.Getenv("RAFTCACHE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("RAFTCACHE_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// shardOp is one call a shard's writer made.
type shardOp struct {
	store    []*raft.Log
	min, max uint64
	key, val string
}

func (o shardOp) applyTo(m *model) {
	switch {
	case o.store != nil:
		m.store(o.store)
	case o.key != "":
		m.stable[o.key] = []byte(o.val)
	default:
		m.delete(o.min, o.max)
	}
}

// shardWriter drives one shard as Raft does: one call at a time, mostly
// appends, sometimes a compaction, a replaced tail, a snapshot install or
// a term change. It stops at the first error.
type shardWriter struct {
	id    uint32
	ops   []shardOp
	acked int // ops that returned nil, all before any that failed
}

func (sw *shardWriter) run(w *WAL, rng *rand.Rand, n int) {
	m := newModel()
	term := uint64(1)
	for range n {
		var o shardOp
		last := m.last()
		switch r := rng.IntN(20); {
		case r == 0 && len(m.logs) > 2: // compaction
			o.min, o.max = m.first, m.first+uint64(rng.IntN(len(m.logs)-1))
		case r == 1 && len(m.logs) > 2: // a conflicting tail
			o.min, o.max = last-uint64(rng.IntN(2)), last
			term++
		case r == 2 && len(m.logs) > 0: // a snapshot install
			o.min, o.max = m.first, last
		case r == 3:
			term++
			o.key, o.val = "CurrentTerm", strconv.FormatUint(term, 10)
		default:
			from := last + 1
			if last == 0 {
				from = uint64(1 + rng.IntN(100))
			}
			o.store = entries(sw.id, from, from+uint64(rng.IntN(4)), term)
		}
		sw.ops = append(sw.ops, o)
		s := w.Shard(sw.id)
		var err error
		switch {
		case o.store != nil:
			err = s.StoreLogs(o.store)
		case o.key != "":
			err = s.Set([]byte(o.key), []byte(o.val))
		default:
			err = s.DeleteRange(o.min, o.max)
		}
		if err != nil {
			return
		}
		o.applyTo(m)
		sw.acked++
	}
}

// recoveredAs returns the k in [lo, hi] such that the shard's log equals
// its model after its first k calls, or an error naming the differences.
func (sw *shardWriter) recoveredAs(s *ShardLog, lo, hi int) (int, error) {
	m := newModel()
	var diffs []string
	for k := 0; k <= hi; k++ {
		if k > 0 {
			sw.ops[k-1].applyTo(m)
		}
		if k < lo {
			continue
		}
		d := m.diff(s)
		if d == "" {
			return k, nil
		}
		diffs = append(diffs, fmt.Sprintf("after %d calls: %s", k, d))
	}
	return 0, fmt.Errorf("shard %d (%d calls, %d acknowledged) matches no allowed state: %v", sw.id, len(sw.ops), sw.acked, diffs)
}

// TestPowerLoss crashes the machine at a random file operation while
// three shards write, takes the image a power loss would leave (unsynced
// bytes cut, garbled or kept; unsynced directory changes kept or lost),
// and reopens it. With SyncAlways every acknowledged call must be there,
// and nothing beyond the one call each shard had in flight; with
// SyncEverySec the log must be some prefix of the calls. The reopened log
// must then take new writes and keep them.
func TestPowerLoss(t *testing.T) {
	seed := testSeed(t)
	t.Logf("seed %d (RAFTCACHE_SEED repeats it)", seed)
	runs := crashRuns(t)
	deadline := time.Now().Add(2 * time.Minute)
	for run := range runs {
		if time.Now().After(deadline) {
			t.Logf("stopped after %d runs: time is up", run)
			break
		}
		mode := SyncAlways
		if run%4 == 3 {
			mode = SyncEverySec
		}
		rng := rand.New(rand.NewPCG(seed, uint64(run)))
		if !powerLossRun(t, rng, run, mode) {
			t.Fatalf("run %d (seed %d) failed", run, seed)
		}
	}
}

func powerLossRun(t *testing.T, rng *rand.Rand, run int, mode SyncMode) bool {
	t.Helper()
	fs := newMemFS(rng.Uint64())
	fs.crashAt = 1 + rng.IntN(300)
	segSize := int64(512 + rng.IntN(4096))
	w, err := openMem(t, fs, segSize, mode)
	writers := []*shardWriter{{id: 0}, {id: 1}, {id: 2}}
	if err == nil {
		var wg sync.WaitGroup
		for _, sw := range writers {
			r := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
			wg.Go(func() { sw.run(w, r, 400) })
		}
		wg.Wait()
		_ = w.Close()
	}
	img := fs.crash()
	w2, err := openMem(t, img, segSize, mode)
	if err != nil {
		t.Errorf("run %d: the crashed log does not open: %v", run, err)
		return false
	}
	defer w2.Close()
	for _, sw := range writers {
		lo, hi := sw.acked, min(sw.acked+1, len(sw.ops))
		if mode == SyncEverySec {
			lo = 0
		}
		k, err := sw.recoveredAs(w2.Shard(sw.id), lo, hi)
		if err != nil {
			t.Errorf("run %d (%s, segment size %d): %v", run, mode, segSize, err)
			return false
		}
		// It goes on from there: a new entry, kept across another restart.
		m := newModel()
		for _, o := range sw.ops[:k] {
			o.applyTo(m)
		}
		next := m.last() + 1
		logs := []*raft.Log{entry(sw.id, next, 99)}
		if err := w2.Shard(sw.id).StoreLogs(logs); err != nil {
			t.Errorf("run %d: append after recovery: %v", run, err)
			return false
		}
		m.store(logs)
		sw.ops, sw.acked = sw.ops[:k], k
		sw.ops = append(sw.ops, shardOp{store: logs})
	}
	if err := w2.Close(); err != nil {
		t.Errorf("run %d: close: %v", run, err)
		return false
	}
	w3, err := openMem(t, img, segSize, mode)
	if err != nil {
		t.Errorf("run %d: reopen after recovery: %v", run, err)
		return false
	}
	defer w3.Close()
	for _, sw := range writers {
		if _, err := sw.recoveredAs(w3.Shard(sw.id), len(sw.ops), len(sw.ops)); err != nil {
			t.Errorf("run %d: after recovery and a restart: %v", run, err)
			return false
		}
	}
	return true
}

// TestFullDisk runs the disk out of space: the write that needs a new
// segment fails with the storage error, nothing acknowledged is lost,
// nothing that failed appears, and writes resume once space is freed.
func TestFullDisk(t *testing.T) {
	fs := newMemFS(4)
	const segSize = 2048
	// Room for the first segment and one spare, and a little more.
	fs.space = 2*segSize + 100
	w := mustOpen(t, fs, segSize)
	m := newModel()
	s := w.Shard(0)
	var failed error
	next := uint64(1)
	for ; next < 1000; next++ {
		logs := []*raft.Log{entry(0, next, 1)}
		if failed = s.StoreLogs(logs); failed != nil {
			break
		}
		m.store(logs)
	}
	if !errors.Is(failed, syscall.ENOSPC) {
		t.Fatalf("writes into a full disk: %v, want ENOSPC", failed)
	}
	if d := m.diff(s); d != "" {
		t.Fatalf("after the failed write: %s", d)
	}
	if err := s.StoreLogs([]*raft.Log{entry(0, next, 1)}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("the disk is still full: %v", err)
	}
	fs.mu.Lock()
	fs.space = -1
	fs.mu.Unlock()
	logs := []*raft.Log{entry(0, next, 1)}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatalf("after space was freed: %v", err)
	}
	m.store(logs)
	reopenAndCheck(t, w, fs, segSize, m)
}

// TestFullDiskMidWrite fails a write that grows a segment past its
// preallocated size part way through: the partial write is undone, the
// log stays usable, and the failed entry never comes back.
func TestFullDiskMidWrite(t *testing.T) {
	fs := newMemFS(5)
	const segSize = 4096
	w := mustOpen(t, fs, segSize)
	s := w.Shard(0)
	m := newModel()
	logs := entries(0, 1, 3, 1)
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	m.store(logs)
	fs.mu.Lock()
	fs.space = fs.used() + 1000
	fs.mu.Unlock()
	big := &raft.Log{Index: 4, Term: 1, Type: raft.LogCommand, Data: make([]byte, 3*segSize)}
	if err := s.StoreLogs([]*raft.Log{big}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a write larger than the free space: %v, want ENOSPC", err)
	}
	logs = entries(0, 4, 5, 1)
	if err := s.StoreLogs(logs); err != nil {
		t.Fatalf("a small write after the failed one: %v", err)
	}
	m.store(logs)
	if d := m.diff(s); d != "" {
		t.Fatal(d)
	}
	reopenAndCheck(t, w, fs, segSize, m)
}

// fileBytes returns the content of a file of fs; corrupt changes it.
func fileBytes(fs *memFS, name string) []byte {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.names[name].data
}

func TestDamageBeforeTheTailIsRefused(t *testing.T) {
	build := func() *memFS {
		fs := newMemFS(6)
		w := mustOpen(t, fs, 1024)
		for i := uint64(1); i <= 60; i++ {
			if err := w.Shard(0).StoreLogs([]*raft.Log{entry(0, i, 1)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if n := len(segmentFiles(fs)); n < 3 {
			t.Fatalf("want several segments, have %d", n)
		}
		return fs
	}
	t.Run("a flipped byte in an older segment", func(t *testing.T) {
		fs := build()
		name := testDir + "/" + segmentFiles(fs)[0]
		fileBytes(fs, name)[segHeaderLen+200] ^= 0x40
		if _, err := openMem(t, fs, 1024, SyncAlways); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open: %v, want ErrCorrupt", err)
		}
	})
	t.Run("a missing segment", func(t *testing.T) {
		fs := build()
		if err := fs.Remove(testDir + "/" + segmentFiles(fs)[1]); err != nil {
			t.Fatal(err)
		}
		if _, err := openMem(t, fs, 1024, SyncAlways); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open: %v, want ErrCorrupt", err)
		}
	})
	t.Run("a flipped byte in the newest segment, before frames written after a sync", func(t *testing.T) {
		fs := newMemFS(6)
		w := mustOpen(t, fs, 1<<20)
		for i := uint64(1); i <= 20; i++ {
			if err := w.Shard(0).StoreLogs([]*raft.Log{entry(0, i, 1)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		fileBytes(fs, testDir+"/"+segmentFiles(fs)[0])[segHeaderLen+300] ^= 0x40
		if _, err := openMem(t, fs, 1<<20, SyncAlways); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open: %v, want ErrCorrupt: a synced frame was damaged", err)
		}
	})
	t.Run("a damaged segment header", func(t *testing.T) {
		fs := build()
		segs := segmentFiles(fs)
		fileBytes(fs, testDir+"/"+segs[len(segs)-1])[3] ^= 1
		if _, err := openMem(t, fs, 1024, SyncAlways); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open: %v, want ErrCorrupt", err)
		}
	})
}

func TestTornTailIsCut(t *testing.T) {
	fs := newMemFS(7)
	w := mustOpen(t, fs, 1<<16)
	m := newModel()
	for i := uint64(1); i <= 20; i++ {
		logs := []*raft.Log{entry(0, i, 1)}
		if err := w.Shard(0).StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		m.store(logs)
	}
	end := w.activeOff
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A frame that claims more than is there, then one whose body is
	// garbage: both must go, and the next write must not bring them back.
	data := fileBytes(fs, testDir+"/"+segmentFiles(fs)[0])
	copy(data[end:], []byte{0xff, 0xff, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	w = mustOpen(t, fs, 1<<16)
	if d := m.diff(w.Shard(0)); d != "" {
		t.Fatalf("after cutting the tail: %s", d)
	}
	logs := []*raft.Log{entry(0, 21, 1)}
	if err := w.Shard(0).StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	m.store(logs)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = mustOpen(t, fs, 1<<16)
	defer w.Close()
	if d := m.diff(w.Shard(0)); d != "" {
		t.Fatalf("after appending and reopening: %s", d)
	}
}

// reopenAndCheck closes w, opens its file system again and checks that
// shard 0 holds m.
func reopenAndCheck(t *testing.T, w *WAL, fs *memFS, segSize int64, m *model) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = mustOpen(t, fs, segSize)
	defer w.Close()
	if d := m.diff(w.Shard(0)); d != "" {
		t.Fatalf("after reopening: %s", d)
	}
}
