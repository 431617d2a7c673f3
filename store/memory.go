package store

import (
	"unsafe"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("memory", cmdMemory)
}

// MemoryStats is a store's own account of its memory, in bytes. It is
// what INFO memory and MEMORY STATS report and what eviction budgets with.
type MemoryStats struct {
	Keys int
	// Dataset is the chunks that hold the data: every key's record (key,
	// value, metadata; a small hash's listpack), and the field chunks of
	// large hashes, at their chunk sizes.
	Dataset int64
	// Tables is the indexes: the slot tables and the large hashes' tables
	// (Go heap, pointer-free).
	Tables int64
	// Pages is the memory of the class pages the heap holds (outside the
	// Go heap), and Large that of the chunks past 32 KiB (Go heap). Pages
	// minus the class chunks in use is free space inside pages.
	Pages, Large int64
	// Free is the room in pages not holding a chunk: size-class slack is
	// in Dataset, this is the space between chunks.
	Free int64
	// Pending is the chunks released while a snapshot may still read them.
	Pending int
	// Fixed is the store's own structures: the slot array and the heap's
	// page metadata.
	Fixed int64
	// Peak is the highest Pages+Large since the store's heap was made.
	Peak int64
}

// Counted is the memory maxmemory counts, as Redis counts what its
// allocator hands out: the data, the indexes and the fixed structures. The
// free space inside pages is not in it: new records reuse it.
func (m MemoryStats) Counted() int64 { return m.Dataset + m.Tables + m.Fixed }

// Used is all the memory the store accounts for.
func (m MemoryStats) Used() int64 { return m.Pages + m.Large + m.Tables + m.Fixed }

// Overhead is what the store uses besides the data: indexes, free space
// in pages, fixed structures.
func (m MemoryStats) Overhead() int64 { return m.Used() - m.Dataset }

// Memory returns the store's memory account. It walks the slots (16384
// table headers) and the large hashes.
func (s *Store) Memory() MemoryStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.heap
	m := MemoryStats{
		Keys:    s.keys,
		Dataset: h.chunkBytes + h.largeBytes,
		Pages:   h.pageBytes,
		Large:   h.largeBytes,
		Free:    h.pageBytes - h.chunkBytes,
		Pending: len(h.pending),
		Peak:    h.peakBytes,
		Fixed: int64(unsafe.Sizeof(*s)) + int64(cap(h.meta))*int64(unsafe.Sizeof(pageMeta{})) +
			int64(cap(h.pages)+cap(h.large))*24 + int64(cap(h.bigs))*8,
	}
	for i := range s.slots {
		m.Tables += s.slots[i].t.bytes()
	}
	for _, bh := range h.bigs {
		if bh != nil {
			m.Tables += bh.t.bytes()
			m.Fixed += int64(unsafe.Sizeof(*bh))
		}
	}
	return m
}

// usage is what MEMORY USAGE answers for the record o: its chunk, its
// share of the slot's table, and for a large hash its table, field chunks
// and structure. It is exact, so SAMPLES changes nothing.
func (x *exec) usage(o *obj) int64 {
	s := x.s
	n := int64(s.heap.chunkSize(o.ref))
	if t := &s.slots[o.slot].t; t.n > 0 {
		n += (t.bytes() + int64(t.n) - 1) / int64(t.n)
	}
	if o.enc == encHashtable {
		bh := s.bigOf(o)
		n += bh.t.bytes() + bh.bytes + int64(unsafe.Sizeof(*bh))
	}
	return n
}

// cmdMemory serves MEMORY USAGE key [SAMPLES count], with Redis's order of
// checks: the options, then the key. The server answers MEMORY's other
// subcommands.
func cmdMemory(x exec, a [][]byte) resp.Reply {
	if len(a) < 3 || !resp.EqualFold(a[1], "usage") {
		return resp.ErrInternalArgs("memory").Reply()
	}
	for j := 3; j < len(a); j++ {
		if !resp.EqualFold(a[j], "samples") || j+1 >= len(a) {
			return resp.ErrSyntax.Reply()
		}
		n, ok := resp.ParseInt(a[j+1])
		if !ok {
			return resp.ErrNotInteger.Reply()
		}
		if n < 0 {
			return resp.ErrSyntax.Reply()
		}
		j++
	}
	o, ok := x.lookup(a[2])
	if !ok {
		return resp.Null
	}
	return resp.Int(x.usage(&o))
}
