package store

import (
	"encoding/binary"
	"hash/maphash"
)

// A large hash (encoding hashtable) is a table of its fields, each field
// and its value in one chunk of the heap:
//
//	flen uvarint, vlen uvarint, field, value
//
// The key's record holds the hash's id (4 bytes, little endian) in
// heap.bigs. Its order is the table's, as a Redis hashtable's order is its
// dict's.
//
// Copy-on-write: a live snapshot may hold the bigHash itself and every
// field chunk that existed when it was taken. A bigHash created or cloned
// after the latest snapshot (seq > Store.snapSeq) is the writer's own;
// otherwise the writer clones it (table only: the chunks are shared) under
// a new id before changing it. Whether a field chunk is shared is not
// tracked: while any snapshot is live, a changed or deleted field's old
// chunk is released only when the snapshots are (heap.release).
type bigHash struct {
	t     table
	bytes int64 // the field chunks, at their chunk sizes
	seq   uint64
}

func (bh *bigHash) len() int { return bh.t.n }

// fieldRecord decodes a field chunk.
func fieldRecord(b []byte) (field, value []byte) {
	fl, i := uvarintAt(b, 0)
	vl, i := uvarintAt(b, i)
	return b[i : i+fl : i+fl], b[i+fl : i+fl+vl : i+fl+vl]
}

func fieldRecordLen(field, value []byte) int {
	return uvarintLen(len(field)) + uvarintLen(len(value)) + len(field) + len(value)
}

// bigOf returns the large hash whose id is the value of o.
func (s *Store) bigOf(o *obj) *bigHash {
	return s.heap.bigs[bigID(o)]
}

func (s *Store) hashField(f []byte) uint64 { return maphash.Bytes(s.seed, f) }

// bigFind returns the position of field in bh and its value, or -1.
func (s *Store) bigFind(bh *bigHash, field []byte) (int, []byte) {
	return bigFindIn(s.heap, s.hashField(field), bh, field)
}

func bigFindIn(h heapReader, hash uint64, bh *bigHash, field []byte) (int, []byte) {
	t := &bh.t
	if t.n == 0 {
		return -1, nil
	}
	tag := tagOf(hash)
	for i := t.home(tag); ; {
		e := t.e[i]
		if e == 0 {
			return -1, nil
		}
		if e>>tagShift == tag {
			f, v := fieldRecord(h.bytes(e & refMask))
			if string(f) == string(field) {
				return i, v
			}
		}
		if i++; i == len(t.e) {
			i = 0
		}
	}
}

// newBig registers bh under a new id.
func (s *Store) newBig(bh *bigHash) uint32 {
	h := s.heap
	bh.seq = s.stamp()
	if n := len(h.freeBigs); n > 0 {
		id := h.freeBigs[n-1]
		h.freeBigs = h.freeBigs[:n-1]
		h.bigs[id] = bh
		return id
	}
	if len(h.bigs) == 0 {
		h.bigs = append(h.bigs, nil) // id 0 unused
	}
	h.bigs = append(h.bigs, bh)
	return uint32(len(h.bigs) - 1)
}

// bigShared reports whether a live snapshot may read bh.
func (s *Store) bigShared(bh *bigHash) bool { return s.liveSnaps > 0 && bh.seq <= s.snapSeq }

// releaseBig frees id, at once or when the snapshots are released.
func (s *Store) releaseBig(id uint32, shared bool) {
	if shared {
		s.heap.pendingBigs = append(s.heap.pendingBigs, id)
		return
	}
	s.heap.bigs[id] = nil
	s.heap.freeBigs = append(s.heap.freeBigs, id)
}

// bigSet stores field = value in the owned bh and reports whether the
// field is new.
func (s *Store) bigSet(bh *bigHash, field, value []byte) bool {
	return bigSetIn(s.heap, s.seed, s.liveSnaps > 0, bh, field, value)
}

// bigSetIn is bigSet in the heap h; snap says whether a live snapshot may
// read h's chunks.
func bigSetIn(h *heap, seed maphash.Seed, snap bool, bh *bigHash, field, value []byte) bool {
	hash := maphash.Bytes(seed, field)
	pos, _ := bigFindIn(h, hash, bh, field)
	n := fieldRecordLen(field, value)
	var ref uint64
	var b []byte
	if pos >= 0 {
		old := bh.t.ref(pos)
		if !snap && h.fitsInPlace(old, n) && old&refLarge == 0 {
			ref, b = old, h.bytes(old)
		} else {
			bh.bytes -= int64(h.chunkSize(old))
			h.release(old, snap)
			ref, b = h.alloc(n)
			bh.bytes += int64(h.chunkSize(ref))
			bh.t.setRef(pos, ref)
		}
	} else {
		ref, b = h.alloc(n)
		bh.bytes += int64(h.chunkSize(ref))
		bh.t.insert(hash, ref)
	}
	i := binary.PutUvarint(b, uint64(len(field)))
	i += binary.PutUvarint(b[i:], uint64(len(value)))
	i += copy(b[i:], field)
	copy(b[i:], value)
	return pos < 0
}

// bigDel removes field from the owned bh and reports whether it was there.
func (s *Store) bigDel(bh *bigHash, field []byte) bool {
	pos, _ := s.bigFind(bh, field)
	if pos < 0 {
		return false
	}
	ref := bh.t.ref(pos)
	bh.bytes -= int64(s.heap.chunkSize(ref))
	s.heap.release(ref, s.liveSnaps > 0)
	bh.t.remove(pos)
	return true
}

// bigFree releases every field chunk of bh and its id.
func (s *Store) bigFree(id uint32, bh *bigHash) {
	for _, e := range bh.t.e {
		if e != 0 {
			s.heap.release(e&refMask, s.liveSnaps > 0)
		}
	}
	s.releaseBig(id, s.bigShared(bh))
}

// bigEach calls fn for every field of bh, in table order, until it
// returns false.
func bigEach(h heapReader, bh *bigHash, fn func(field, value []byte) bool) {
	for _, e := range bh.t.e {
		if e != 0 {
			if !fn(fieldRecord(h.bytes(e & refMask))) {
				return
			}
		}
	}
}

// bigPairs appends the fields of bh to dst, in table order.
func bigPairs(dst []pair, h heapReader, bh *bigHash) []pair {
	for _, e := range bh.t.e {
		if e != 0 {
			f, v := fieldRecord(h.bytes(e & refMask))
			dst = append(dst, pair{field: f, value: v, large: e&refLarge != 0})
		}
	}
	return dst
}

// heapReader reads chunks: the live heap, or a snapshot's view of it.
type heapReader interface{ bytes(ref uint64) []byte }

// bigID is the id of the large hash whose key record is o.
func bigID(o *obj) uint32 { return binary.LittleEndian.Uint32(o.val()) }
