package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/raft"
)

// ShardLog is one shard's view of the node's log: its Raft log store and
// stable store. Every method is safe for concurrent use; writes return
// once they are written, and synced when the log's SyncMode says so (term
// and vote changes are always synced).
type ShardLog struct {
	w  *WAL
	id uint32
}

var (
	_ raft.LogStore          = (*ShardLog)(nil)
	_ raft.StableStore       = (*ShardLog)(nil)
	_ raft.MonotonicLogStore = (*ShardLog)(nil)
)

// Shard returns shard id's view of the log.
func (w *WAL) Shard(id uint32) *ShardLog {
	w.mu.Lock()
	w.shard(id)
	w.mu.Unlock()
	return &ShardLog{w: w, id: id}
}

// ErrKeyNotFound is what Get and GetUint64 return for a key never set;
// hashicorp/raft recognises it by its text.
var ErrKeyNotFound = errors.New("not found")

// IsMonotonic implements raft.MonotonicLogStore: the log never holds a
// gap, so raft deletes the whole log when it installs a snapshot instead
// of leaving the old tail behind a gap.
func (s *ShardLog) IsMonotonic() bool { return true }

// FirstIndex returns the first index written, 0 for an empty log.
func (s *ShardLog) FirstIndex() (uint64, error) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	st := s.w.shards[s.id]
	if len(st.pos) == 0 {
		return 0, nil
	}
	return st.first, nil
}

// LastIndex returns the last index written, 0 for an empty log.
func (s *ShardLog) LastIndex() (uint64, error) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.shards[s.id].last(), nil
}

// GetLog reads entry index into out. Its Data and Extensions are fresh
// memory the caller may keep.
func (s *ShardLog) GetLog(index uint64, out *raft.Log) error {
	s.w.mu.Lock()
	st := s.w.shards[s.id]
	if len(st.pos) == 0 || index < st.first || index > st.last() {
		s.w.mu.Unlock()
		return raft.ErrLogNotFound
	}
	p := st.pos[index-st.first]
	seg := s.w.segs[p.seg]
	s.w.mu.Unlock()
	if seg == nil {
		return raft.ErrLogNotFound
	}
	buf := make([]byte, p.n)
	seg.mu.RLock()
	if seg.closed {
		// Deleted since the lookup: the entry was deleted with it.
		seg.mu.RUnlock()
		return raft.ErrLogNotFound
	}
	_, err := seg.f.ReadAt(buf, p.off)
	seg.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("shard %d read log entry %d: %w", s.id, index, err)
	}
	r, err := decodeRecord(buf)
	if err != nil {
		return fmt.Errorf("shard %d log entry %d: %w", s.id, index, err)
	}
	if r.kind != kindEntry || r.shard != s.id || r.log.Index != index || r.size != len(buf) {
		return fmt.Errorf("%w: shard %d log entry %d: the record there is another", ErrCorrupt, s.id, index)
	}
	*out = r.log
	return nil
}

// StoreLog stores one entry.
func (s *ShardLog) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs appends entries; they must follow the last one stored (or
// start the log anywhere when it is empty) and be consecutive. They are
// written in one frame: after a crash all of them are there or none.
func (s *ShardLog) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	size := 0
	for i, l := range logs {
		if i > 0 && l.Index != logs[i-1].Index+1 {
			return fmt.Errorf("shard %d store logs: entry %d follows entry %d", s.id, l.Index, logs[i-1].Index)
		}
		if l.Index == 0 {
			return fmt.Errorf("shard %d store logs: entry index 0", s.id)
		}
		if len(l.Data) > maxFrameBody/2 || len(l.Extensions) > maxFrameBody/2 {
			return fmt.Errorf("shard %d store logs: entry %d of %d bytes is too large", s.id, l.Index, len(l.Data))
		}
		size += entryRecordLen(l)
	}
	return s.w.enqueue(func(w *WAL, b *batch) error {
		st := w.shards[s.id]
		if st.plast != 0 && logs[0].Index != st.plast+1 {
			return fmt.Errorf("shard %d store logs: entry %d does not follow the last entry %d", s.id, logs[0].Index, st.plast)
		}
		b.reserve(size)
		lo := len(b.recs)
		for _, l := range logs {
			off := len(b.buf)
			b.buf = appendEntry(b.buf, s.id, l)
			b.recs = append(b.recs, recSpan{off: off, n: uint32(len(b.buf) - off)})
		}
		b.ops = append(b.ops, op{kind: kindEntry, shard: s.id, lo: lo, hi: len(b.recs), first: logs[0].Index})
		if st.plast == 0 {
			st.pfirst = logs[0].Index
		}
		st.plast = logs[len(logs)-1].Index
		return nil
	})
}

// DeleteRange deletes entries min to max inclusive: a prefix (after a
// snapshot) or a suffix (a conflicting tail), or everything.
func (s *ShardLog) DeleteRange(min, max uint64) error {
	return s.w.enqueue(func(w *WAL, b *batch) error {
		st := w.shards[s.id]
		first, last, err := deleteRange(st.pfirst, st.plast, min, max)
		if err != nil {
			return fmt.Errorf("shard %d: %w", s.id, err)
		}
		st.pfirst, st.plast = first, last
		b.reserve(deleteRecordLen)
		b.buf = appendDelete(b.buf, s.id, min, max)
		b.ops = append(b.ops, op{kind: kindDelete, shard: s.id, min: min, max: max})
		return nil
	})
}

// Set stores a stable value; it is synced before Set returns, whatever
// the SyncMode.
func (s *ShardLog) Set(key, val []byte) error {
	if len(key) > 0xffff {
		return fmt.Errorf("shard %d stable key of %d bytes is too long", s.id, len(key))
	}
	return s.w.enqueue(func(_ *WAL, b *batch) error {
		b.reserve(setHeaderLen + len(key) + len(val))
		b.buf = appendSet(b.buf, s.id, key, val)
		b.ops = append(b.ops, op{kind: kindSet, shard: s.id, key: string(key), val: slices.Clone(val)})
		b.sync = true
		return nil
	})
}

// Get returns a stable value, or ErrKeyNotFound.
func (s *ShardLog) Get(key []byte) ([]byte, error) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	v, ok := s.w.shards[s.id].stable[string(key)]
	if !ok {
		return nil, ErrKeyNotFound
	}
	return slices.Clone(v), nil
}

// SetUint64 stores a stable number (big endian, as raft-boltdb does).
func (s *ShardLog) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns a stable number, or 0 and ErrKeyNotFound.
func (s *ShardLog) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: shard %d stable value %q is %d bytes, not 8", ErrCorrupt, s.id, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
