package wal

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

// fuzzLog builds a small log of two shards over several segments and
// returns its file system and the last segment's name.
func fuzzLog(t testing.TB) (*memFS, string) {
	fs := newMemFS(1)
	w, err := openMem(t, fs, 1024, SyncAlways)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 12; i++ {
		for shard := uint32(0); shard < 2; shard++ {
			if err := w.Shard(shard).StoreLogs([]*raft.Log{entry(shard, i, 1)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Shard(1).SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	if err := w.Shard(0).DeleteRange(1, 4); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segmentFiles(fs)
	return fs, testDir + "/" + segs[len(segs)-1]
}

// FuzzReplay writes arbitrary bytes over the newest segment of a valid log
// — the first two bytes choose where — and reopens it. It must never
// panic or hang; when it opens, every entry it claims must read back, and
// it must take a new write and keep it across another restart.
func FuzzReplay(f *testing.F) {
	f.Add([]byte{0, 0})
	f.Add([]byte{40, 0, 0xff, 0xff, 0xff, 0x7f})
	f.Add(append([]byte{48, 0}, make([]byte, 64)...))
	f.Add([]byte{200, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
	f.Add(append([]byte{0, 0}, []byte(segmentMagic)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		fs, last := fuzzLog(t)
		data := fileBytes(fs, last)
		at := int(binary.LittleEndian.Uint16(in)) % len(data)
		copy(data[at:], in[2:])
		if over := at + len(in) - 2 - len(data); over > 0 {
			fs.mu.Lock()
			fs.names[last].data = append(data, in[2+len(in)-2-over:]...)
			fs.mu.Unlock()
		}
		w, err := openMem(t, fs, 1024, SyncAlways)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open failed with an error that does not say the log is damaged: %v", err)
			}
			return
		}
		defer w.Close()
		for shard := uint32(0); shard < 2; shard++ {
			s := w.Shard(shard)
			first, _ := s.FirstIndex()
			lastIdx, _ := s.LastIndex()
			for i := first; i <= lastIdx && lastIdx > 0; i++ {
				var l raft.Log
				if err := s.GetLog(i, &l); err != nil {
					t.Fatalf("shard %d entry %d of %d-%d: %v", shard, i, first, lastIdx, err)
				}
			}
			if err := s.StoreLogs([]*raft.Log{entry(shard, lastIdx+1, 9)}); err != nil {
				t.Fatalf("shard %d append after reopening: %v", shard, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		w2, err := openMem(t, fs, 1024, SyncAlways)
		if err != nil {
			t.Fatalf("reopen after a write: %v", err)
		}
		defer w2.Close()
		for shard := uint32(0); shard < 2; shard++ {
			lastIdx, _ := w2.Shard(shard).LastIndex()
			var l raft.Log
			if err := w2.Shard(shard).GetLog(lastIdx, &l); err != nil || l.Term != 9 {
				t.Fatalf("shard %d: the write after recovery is gone: entry %d term %d, %v", shard, lastIdx, l.Term, err)
			}
		}
	})
}
