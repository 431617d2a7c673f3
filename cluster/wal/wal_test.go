package wal

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap/zaptest"
)

const testDir = "/wal"

func openMem(t testing.TB, fs *memFS, segSize int64, mode SyncMode) (*WAL, error) {
	t.Helper()
	var opts Options
	opts.Dir = testDir
	opts.SegmentSize = segSize
	opts.Sync = mode
	opts.fs = fs
	if tt, ok := t.(*testing.T); ok {
		opts.Logger = zaptest.NewLogger(tt)
	}
	return Open(opts)
}

func mustOpen(t testing.TB, fs *memFS, segSize int64) *WAL {
	t.Helper()
	w, err := openMem(t, fs, segSize, SyncAlways)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return w
}

// entry builds entry index of shard in term; its data names all three, so
// a misplaced entry is caught.
func entry(shard uint32, index, term uint64) *raft.Log {
	data := fmt.Appendf(nil, "shard %d entry %d term %d ", shard, index, term)
	data = append(data, bytes.Repeat([]byte{byte(index)}, int(index%97))...)
	l := &raft.Log{Index: index, Term: term, Type: raft.LogCommand, Data: data}
	if index%5 == 0 {
		l.Extensions = []byte("ext")
	}
	return l
}

func entries(shard uint32, from, to, term uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, entry(shard, i, term))
	}
	return out
}

// model is what a shard's log should hold.
type model struct {
	first  uint64
	logs   []*raft.Log
	stable map[string][]byte
}

func newModel() *model { return &model{stable: map[string][]byte{}} }

func (m *model) last() uint64 {
	if len(m.logs) == 0 {
		return 0
	}
	return m.first + uint64(len(m.logs)) - 1
}

func (m *model) clone() *model {
	c := &model{first: m.first, logs: slices.Clone(m.logs), stable: map[string][]byte{}}
	for k, v := range m.stable {
		c.stable[k] = v
	}
	return c
}

func (m *model) store(logs []*raft.Log) {
	if len(m.logs) == 0 {
		m.first = logs[0].Index
	}
	m.logs = append(m.logs, logs...)
}

func (m *model) delete(min, max uint64) {
	first, last, err := deleteRange(m.first, m.last(), min, max)
	if err != nil {
		panic(err)
	}
	if last == 0 {
		m.first, m.logs = 0, nil
		return
	}
	m.logs = m.logs[first-m.first : last-m.first+1]
	m.first = first
}

// diff reports how the shard's log differs from m ("" when it does not).
func (m *model) diff(s *ShardLog) string {
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	wantFirst := m.first
	if len(m.logs) == 0 {
		wantFirst = 0
	}
	if first != wantFirst || last != m.last() {
		return fmt.Sprintf("log %d-%d, want %d-%d", first, last, wantFirst, m.last())
	}
	for _, want := range m.logs {
		var got raft.Log
		if err := s.GetLog(want.Index, &got); err != nil {
			return fmt.Sprintf("entry %d: %v", want.Index, err)
		}
		if got.Term != want.Term || got.Type != want.Type || !bytes.Equal(got.Data, want.Data) ||
			!bytes.Equal(got.Extensions, want.Extensions) {
			return fmt.Sprintf("entry %d: got term %d %q, want term %d %q", want.Index, got.Term, got.Data, want.Term, want.Data)
		}
	}
	var l raft.Log
	if err := s.GetLog(m.last()+1, &l); !errors.Is(err, raft.ErrLogNotFound) {
		return fmt.Sprintf("entry past the end: %v", err)
	}
	if len(m.logs) > 0 && m.first > 1 {
		if err := s.GetLog(m.first-1, &l); !errors.Is(err, raft.ErrLogNotFound) {
			return fmt.Sprintf("entry before the start: %v", err)
		}
	}
	for k, v := range m.stable {
		got, err := s.Get([]byte(k))
		if err != nil || !bytes.Equal(got, v) {
			return fmt.Sprintf("stable %q = %q, %v; want %q", k, got, err, v)
		}
	}
	return ""
}

type step struct {
	shard    uint32
	store    [3]uint64 // from, to, term
	del      [2]uint64
	set      [2]string
	wantErr  bool
	isDelete bool
}

func TestShardLogContract(t *testing.T) {
	st := func(shard uint32, from, to, term uint64) step {
		return step{shard: shard, store: [3]uint64{from, to, term}}
	}
	del := func(shard uint32, min, max uint64) step {
		return step{shard: shard, del: [2]uint64{min, max}, isDelete: true}
	}
	set := func(shard uint32, k, v string) step { return step{shard: shard, set: [2]string{k, v}} }
	fail := func(s step) step { s.wantErr = true; return s }
	cases := []struct {
		name  string
		steps []step
	}{
		{"append and read", []step{st(0, 1, 10, 1)}},
		{"shards interleave", []step{st(0, 1, 3, 1), st(1, 1, 5, 1), st(0, 4, 9, 2), st(2, 7, 8, 3), st(1, 6, 6, 1)}},
		{"compaction deletes a prefix", []step{st(0, 1, 10, 1), del(0, 1, 5), st(0, 11, 12, 1)}},
		{"a conflicting tail is replaced", []step{st(0, 1, 10, 1), del(0, 7, 10), st(0, 7, 12, 2)}},
		{"a snapshot install deletes everything", []step{st(0, 1, 10, 1), del(0, 1, 10), st(0, 100, 105, 4)}},
		{"an empty log starts anywhere", []step{st(3, 50, 60, 2)}},
		{"a gap is refused", []step{st(0, 1, 5, 1), fail(st(0, 7, 8, 1)), st(0, 6, 6, 1)}},
		{"an overlap is refused", []step{st(0, 1, 5, 1), fail(st(0, 5, 8, 1))}},
		{"a hole in the middle is refused", []step{st(0, 1, 10, 1), fail(del(0, 3, 5))}},
		{"deleting outside the log does nothing", []step{st(0, 5, 10, 1), del(0, 1, 3), del(0, 20, 30)}},
		{"stable values", []step{set(0, "CurrentTerm", "\x00\x00\x00\x00\x00\x00\x00\x07"), set(1, "LastVoteCand", "n2"),
			set(0, "CurrentTerm", "\x00\x00\x00\x00\x00\x00\x00\x08")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMemFS(1)
			w := mustOpen(t, fs, 1<<16)
			models := map[uint32]*model{}
			for i, s := range tc.steps {
				m := models[s.shard]
				if m == nil {
					m = newModel()
					models[s.shard] = m
				}
				sl := w.Shard(s.shard)
				var err error
				switch {
				case s.isDelete:
					err = sl.DeleteRange(s.del[0], s.del[1])
					if err == nil {
						m.delete(s.del[0], s.del[1])
					}
				case s.set[0] != "":
					err = sl.Set([]byte(s.set[0]), []byte(s.set[1]))
					if err == nil {
						m.stable[s.set[0]] = []byte(s.set[1])
					}
				default:
					logs := entries(s.shard, s.store[0], s.store[1], s.store[2])
					err = sl.StoreLogs(logs)
					if err == nil {
						m.store(logs)
					}
				}
				if (err != nil) != s.wantErr {
					t.Fatalf("step %d: err = %v, want error: %v", i, err, s.wantErr)
				}
			}
			check := func(w *WAL, when string) {
				for id, m := range models {
					if d := m.diff(w.Shard(id)); d != "" {
						t.Fatalf("%s: shard %d: %s", when, id, d)
					}
				}
			}
			check(w, "before reopening")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			w = mustOpen(t, fs, 1<<16)
			defer w.Close()
			check(w, "after reopening")
		})
	}
}

func TestStableStoreMissingKeys(t *testing.T) {
	w := mustOpen(t, newMemFS(1), 1<<16)
	defer w.Close()
	s := w.Shard(0)
	if _, err := s.Get([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		t.Fatalf("Get of a missing key: %v, want raft's \"not found\"", err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); v != 0 || err == nil || err.Error() != "not found" {
		t.Fatalf("GetUint64 of a missing key: %d, %v", v, err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 42); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); v != 42 || err != nil {
		t.Fatalf("GetUint64 = %d, %v; want 42", v, err)
	}
	if !s.IsMonotonic() {
		t.Fatal("the log must declare itself monotonic")
	}
}

func segmentFiles(fs *memFS) []string {
	names, _ := fs.List(testDir)
	var out []string
	for _, n := range names {
		if filepath.Ext(n) == segmentSuffix {
			out = append(out, n)
		}
	}
	return out
}

func TestSegmentsRotateAndOldOnesAreRemoved(t *testing.T) {
	fs := newMemFS(2)
	const segSize = 4096
	w := mustOpen(t, fs, segSize)
	models := map[uint32]*model{}
	for shard := uint32(0); shard < 3; shard++ {
		models[shard] = newModel()
		v := fmt.Appendf(nil, "term of shard %d", shard)
		if err := w.Shard(shard).Set([]byte("CurrentTerm"), v); err != nil {
			t.Fatal(err)
		}
		models[shard].stable["CurrentTerm"] = v
	}
	for i := uint64(1); i <= 200; i++ {
		for shard := uint32(0); shard < 3; shard++ {
			logs := []*raft.Log{entry(shard, i, 1)}
			if err := w.Shard(shard).StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
			models[shard].store(logs)
		}
	}
	before := len(segmentFiles(fs))
	if st := w.Stats(); st.Rotations < 5 || before < 5 {
		t.Fatalf("after 600 entries in %d-byte segments: %d rotations, %d segment files", segSize, st.Rotations, before)
	}
	// Compact every shard but one: nothing is removed while shard 2 still
	// needs the oldest segment.
	for shard := uint32(0); shard < 2; shard++ {
		if err := w.Shard(shard).DeleteRange(1, 195); err != nil {
			t.Fatal(err)
		}
		models[shard].delete(1, 195)
	}
	if n := len(segmentFiles(fs)); n != before {
		t.Fatalf("segments went from %d to %d while shard 2 still needs the oldest", before, n)
	}
	if err := w.Shard(2).DeleteRange(1, 195); err != nil {
		t.Fatal(err)
	}
	models[2].delete(1, 195)
	after := len(segmentFiles(fs))
	if after > 2 {
		t.Fatalf("after compacting every shard %d segment files remain (of %d)", after, before)
	}
	var l raft.Log
	if err := w.Shard(0).GetLog(10, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog of a compacted entry: %v", err)
	}
	for id, m := range models {
		if d := m.diff(w.Shard(id)); d != "" {
			t.Fatalf("shard %d: %s", id, d)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The stable values were written in the first segment, now gone: the
	// checkpoint at the head of every segment kept them.
	w = mustOpen(t, fs, segSize)
	defer w.Close()
	for id, m := range models {
		if d := m.diff(w.Shard(id)); d != "" {
			t.Fatalf("after reopening: shard %d: %s", id, d)
		}
	}
}

// TestBatchesShareOneSync checks the point of a node-wide log: appends
// from many shards at once are written and synced together.
func TestBatchesShareOneSync(t *testing.T) {
	fs := newMemFS(3)
	fs.syncDelay = time.Millisecond
	w := mustOpen(t, fs, 1<<20)
	defer w.Close()
	const shards, rounds = 8, 50
	errs := make(chan error, shards)
	for shard := uint32(0); shard < shards; shard++ {
		go func() {
			for i := uint64(1); i <= rounds; i++ {
				if err := w.Shard(shard).StoreLogs(entries(shard, i, i, 1)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range shards {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := w.Stats()
	if st.Syncs >= shards*rounds || st.Writes >= shards*rounds {
		t.Fatalf("%d appends took %d writes and %d syncs: none were shared", shards*rounds, st.Writes, st.Syncs)
	}
	t.Logf("%d appends from %d shards: %d writes, %d syncs", shards*rounds, shards, st.Writes, st.Syncs)
}

// TestSyncObserver checks that the observer sees every sync, with the
// time it took.
func TestSyncObserver(t *testing.T) {
	fs := newMemFS(4)
	fs.syncDelay = 2 * time.Millisecond
	var (
		mu    sync.Mutex
		times []time.Duration
	)
	w, err := Open(Options{Dir: testDir, SegmentSize: 1 << 20, Sync: SyncAlways, fs: fs,
		Logger: zaptest.NewLogger(t),
		SyncObserver: func(d time.Duration) {
			mu.Lock()
			times = append(times, d)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := uint64(1); i <= 5; i++ {
		if err := w.Shard(0).StoreLogs(entries(0, i, i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	st := w.Stats()
	mu.Lock()
	defer mu.Unlock()
	if uint64(len(times)) != st.Syncs || st.Syncs < 5 {
		t.Fatalf("observer saw %d syncs, the log counts %d (want at least 5)", len(times), st.Syncs)
	}
	var sum time.Duration
	for _, d := range times {
		if d < fs.syncDelay {
			t.Errorf("a sync observed as %v, shorter than the file system's %v delay", d, fs.syncDelay)
		}
		sum += d
	}
	if sum != st.SyncTime {
		t.Errorf("observed %v in all, the log counts %v", sum, st.SyncTime)
	}
}
