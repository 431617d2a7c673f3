package store

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
)

// residentPages counts the bytes of class pages every heap of the process
// holds (touched and not handed back), for OffHeapBytes.
var residentPages atomic.Int64

// OffHeapBytes returns the memory all stores of the process hold outside
// the Go heap: the class pages of their heaps (see heap). The Go runtime
// does not count it, so a memory limit for the process must leave room
// for it (see package gctune). Under the race detector the pages are Go
// slices and are counted here too.
func OffHeapBytes() int64 { return residentPages.Load() }

// heap is the memory of one store's records: chunks of fixed size classes
// carved from 64 KiB pages, which come from large arenas the operating
// system maps outside the Go heap (arena_unix.go). The Go garbage
// collector therefore neither walks nor counts the keyspace; the heap's
// Go-side bookkeeping holds one slice header per page and per large chunk.
//
// A chunk is named by a 40-bit reference: page number << 16 | offset for a
// class chunk (page 0 is never used, so a reference is never 0), or
// refLarge | id for a chunk past maxSmall, which is a Go []byte of its own
// (few, large, pointer-free: the collector does not scan them).
//
// Chunks hold no pointers and are addressed only through references, so
// the heap can be reasoned about without the Go memory model's help: a
// chunk's bytes are written only by the store's writer, under its lock,
// and never while a live snapshot may read them (see Store.shared and
// heap.release). The heap is not safe for concurrent use.
type heap struct {
	pages [][]byte   // page memory by page number; an entry never changes once set
	meta  []pageMeta // per page
	// partial[c] is the first page of class c with a free chunk (0: none);
	// pages link through pageMeta.next/prev.
	partial [numClasses]uint32
	// empty pages: warm ones still hold their memory, cold ones were
	// handed back to the operating system.
	warm, cold []uint32
	arenas     []arena

	large     [][]byte // large chunks by id; nil when free
	freeLarge []uint32

	// bigs are the large hashes by id (bighash.go); nil when free.
	bigs     []*bigHash
	freeBigs []uint32

	// pending holds chunks (and pendingBigs large hashes) released while
	// a snapshot may still read them; they are freed when the last
	// snapshot is released.
	pending     []uint64
	pendingBigs []uint32

	// Accounting, in bytes.
	chunkBytes int64 // class chunks in use, at their class size
	largeBytes int64 // large chunks in use, at their capacity
	pageBytes  int64 // pages holding chunks or kept warm
	peakBytes  int64 // highest pageBytes+largeBytes
}

type pageMeta struct {
	class  uint8 // size class; meaningful while live > 0
	inList bool  // linked in partial[class]
	live   uint16
	free   uint16 // offset of the first free chunk, noFree for none
	bump   uint32 // offset of the first chunk never handed out
	next   uint32
	prev   uint32
}

// arena is one mapping from the operating system, carved into pages in
// order.
type arena struct {
	mem  []byte
	next int // first page not yet carved
}

const (
	pageShift = 16
	pageSize  = 1 << pageShift
	// maxSmall is the largest chunk a class page holds; larger chunks are
	// large.
	maxSmall = 32 << 10
	refLarge = uint64(1) << 39
	refMask  = uint64(1)<<40 - 1
	noFree   = 0xFFFF
	// Arenas start small (a store in a test touches little) and double up
	// to maxArenaPages pages.
	firstArenaPages = 16
	maxArenaPages   = 1024
	// maxWarmPages empty pages are kept mapped for reuse; more are handed
	// back to the operating system.
	maxWarmPages = 16
	// maxPages bounds the page numbers a 40-bit reference can carry.
	maxPages = 1 << (39 - pageShift)
)

// Size classes: every multiple of 4 up to 256 bytes, of 8 up to 512, then
// eight classes per doubling up to maxSmall, so that a chunk wastes at most
// 3 bytes below 256, 7 below 512 and 1/8 above. Chunks are 4-byte aligned
// (the record's access word is updated atomically; its other fields are
// read byte-wise).
const numClasses = 63 + 32 + 6*8

var classSize, sizeToCls = buildClasses()

func buildClasses() ([]int32, []uint8) {
	var sizes []int32
	for s := int32(8); s <= 256; s += 4 {
		sizes = append(sizes, s)
	}
	for s := int32(264); s <= 512; s += 8 {
		sizes = append(sizes, s)
	}
	for base := int32(512); base < maxSmall; base *= 2 {
		for i := int32(1); i <= 8; i++ {
			sizes = append(sizes, base+base/8*i)
		}
	}
	if len(sizes) != numClasses {
		panic(fmt.Sprintf("store: %d size classes, want %d", len(sizes), numClasses))
	}
	toCls := make([]uint8, maxSmall/4+1)
	c := 0
	for n := range toCls {
		for int(sizes[c]) < n*4 {
			c++
		}
		toCls[n] = uint8(c)
	}
	return sizes, toCls
}

func classOf(n int) int { return int(sizeToCls[(n+3)>>2]) }

func newHeap() *heap {
	// Page 0 is a placeholder so that no reference is 0.
	return &heap{pages: make([][]byte, 1, 64), meta: make([]pageMeta, 1, 64)}
}

// alloc returns a chunk of at least n bytes (n > 0) and its reference. The
// chunk's bytes are not zeroed.
func (h *heap) alloc(n int) (uint64, []byte) {
	if n > maxSmall {
		return h.allocLarge(n)
	}
	c := classOf(n)
	size := int(classSize[c])
	p := h.partial[c]
	if p == 0 {
		p = h.newPage(c)
	}
	m := &h.meta[p]
	mem := h.pages[p]
	var off int
	if m.free != noFree {
		off = int(m.free)
		m.free = binary.LittleEndian.Uint16(mem[off:])
	} else {
		off = int(m.bump)
		m.bump += uint32(size)
	}
	m.live++
	if m.free == noFree && int(m.bump)+size > pageSize {
		h.unlink(p)
	}
	h.chunkBytes += int64(size)
	return uint64(p)<<pageShift | uint64(off), mem[off : off+size]
}

func (h *heap) allocLarge(n int) (uint64, []byte) {
	b := make([]byte, n)
	var id uint32
	if k := len(h.freeLarge); k > 0 {
		id = h.freeLarge[k-1]
		h.freeLarge = h.freeLarge[:k-1]
		h.large[id] = b
	} else {
		if len(h.large) == 0 {
			h.large = append(h.large, nil) // id 0 unused
		}
		id = uint32(len(h.large))
		h.large = append(h.large, b)
	}
	h.largeBytes += int64(cap(b))
	h.notePeak()
	return refLarge | uint64(id), b
}

// growLarge lets a large chunk hold n bytes, in place when its capacity
// allows (the bytes past its old length are free), else in a new array
// (replies may still hold the old one), and returns it. Only a chunk no
// snapshot may read can grow.
func (h *heap) growLarge(ref uint64, n int) []byte {
	id := uint32(ref &^ refLarge)
	b := h.large[id]
	if n <= cap(b) {
		h.large[id] = b[:n]
		return h.large[id]
	}
	h.largeBytes -= int64(cap(b))
	nb := append(b[:cap(b)], make([]byte, n-cap(b))...)[:n]
	h.large[id] = nb
	h.largeBytes += int64(cap(nb))
	h.notePeak()
	return nb
}

// bytes returns the memory of the chunk ref: from its start to the end of
// its page for a class chunk (the record's header says how much of it is
// the record), the whole chunk for a large one.
func (h *heap) bytes(ref uint64) []byte {
	if ref&refLarge != 0 {
		return h.large[ref&^refLarge]
	}
	return h.pages[ref>>pageShift][ref&(pageSize-1):]
}

// chunkSize is the size of the chunk ref: its class size, or a large
// chunk's capacity.
func (h *heap) chunkSize(ref uint64) int {
	if ref&refLarge != 0 {
		return cap(h.large[ref&^refLarge])
	}
	return int(classSize[h.meta[ref>>pageShift].class])
}

// free returns the chunk ref to the heap at once. The caller guarantees
// that nothing reads it any more (see release).
func (h *heap) free(ref uint64) {
	if ref&refLarge != 0 {
		// The array goes to the collector, never back into use: a reply
		// may still alias it.
		id := uint32(ref &^ refLarge)
		h.largeBytes -= int64(cap(h.large[id]))
		h.large[id] = nil
		h.freeLarge = append(h.freeLarge, id)
		return
	}
	p := uint32(ref >> pageShift)
	off := int(ref & (pageSize - 1))
	m := &h.meta[p]
	size := int(classSize[m.class])
	binary.LittleEndian.PutUint16(h.pages[p][off:], m.free)
	m.free = uint16(off)
	m.live--
	h.chunkBytes -= int64(size)
	switch {
	case m.live == 0:
		h.unlink(p)
		h.emptyPage(p)
	case !m.inList:
		h.link(p)
	}
}

// release frees ref now, or, when shared says a live snapshot may still
// read it, once the last snapshot is released (flushPending).
func (h *heap) release(ref uint64, shared bool) {
	if shared {
		h.pending = append(h.pending, ref)
		return
	}
	h.free(ref)
}

// flushPending frees the chunks whose release waited for the snapshots.
func (h *heap) flushPending() {
	for _, ref := range h.pending {
		h.free(ref)
	}
	for _, id := range h.pendingBigs {
		h.bigs[id] = nil
		h.freeBigs = append(h.freeBigs, id)
	}
	h.pending, h.pendingBigs = nil, nil
}

func (h *heap) link(p uint32) {
	m := &h.meta[p]
	c := m.class
	m.inList, m.prev, m.next = true, 0, h.partial[c]
	if m.next != 0 {
		h.meta[m.next].prev = p
	}
	h.partial[c] = p
}

func (h *heap) unlink(p uint32) {
	m := &h.meta[p]
	if !m.inList {
		return
	}
	if m.prev != 0 {
		h.meta[m.prev].next = m.next
	} else {
		h.partial[m.class] = m.next
	}
	if m.next != 0 {
		h.meta[m.next].prev = m.prev
	}
	m.inList, m.next, m.prev = false, 0, 0
}

// newPage makes an empty page the first page of class c with room.
func (h *heap) newPage(c int) uint32 {
	var p uint32
	switch {
	case len(h.warm) > 0:
		p = h.warm[len(h.warm)-1]
		h.warm = h.warm[:len(h.warm)-1]
	case len(h.cold) > 0:
		p = h.cold[len(h.cold)-1]
		h.cold = h.cold[:len(h.cold)-1]
		h.pageBytes += pageSize
		residentPages.Add(pageSize)
	default:
		p = h.carve()
		h.pageBytes += pageSize
		residentPages.Add(pageSize)
	}
	h.meta[p] = pageMeta{class: uint8(c), free: noFree}
	h.link(p)
	h.notePeak()
	return p
}

// emptyPage takes in a page whose last chunk was freed.
func (h *heap) emptyPage(p uint32) {
	if len(h.warm) < maxWarmPages {
		h.warm = append(h.warm, p)
		return
	}
	releasePages(h.pages[p])
	h.cold = append(h.cold, p)
	h.pageBytes -= pageSize
	residentPages.Add(-pageSize)
}

// carve takes the next page of the newest arena, mapping a new arena when
// it is used up.
func (h *heap) carve() uint32 {
	if len(h.pages) >= maxPages {
		panic("store: heap exhausted: more than 32 TiB of records in one store")
	}
	if len(h.arenas) == 0 || h.arenas[len(h.arenas)-1].next*pageSize == len(h.arenas[len(h.arenas)-1].mem) {
		pages := firstArenaPages << len(h.arenas)
		if len(h.arenas) >= 7 {
			pages = maxArenaPages
		}
		h.arenas = append(h.arenas, arena{mem: mapArena(pages * pageSize)})
	}
	a := &h.arenas[len(h.arenas)-1]
	mem := a.mem[a.next*pageSize : (a.next+1)*pageSize : (a.next+1)*pageSize]
	a.next++
	h.pages = append(h.pages, mem)
	h.meta = append(h.meta, pageMeta{})
	return uint32(len(h.pages) - 1)
}

func (h *heap) notePeak() {
	if n := h.pageBytes + h.largeBytes; n > h.peakBytes {
		h.peakBytes = n
	}
}

// destroy hands every arena back. Nothing may read the heap afterwards.
func (h *heap) destroy() {
	for _, a := range h.arenas {
		unmapArena(a.mem)
	}
	residentPages.Add(-h.pageBytes)
	*h = heap{}
}

// heapView is what a snapshot needs to read chunks while the heap goes on
// changing: the page and large-chunk tables as they were when it was
// taken. Entries a view can reach are never changed while it is live
// (chunks it holds are not freed, so their pages and ids are not reused).
type heapView struct {
	pages [][]byte
	large [][]byte
	bigs  []*bigHash
}

func (h *heap) view() heapView { return heapView{pages: h.pages, large: h.large, bigs: h.bigs} }

func (v heapView) bytes(ref uint64) []byte {
	if ref&refLarge != 0 {
		return v.large[ref&^refLarge]
	}
	return v.pages[ref>>pageShift][ref&(pageSize-1):]
}

// fitsInPlace reports whether the chunk ref can take a new record of n
// bytes in place: a class chunk of the class n needs. A large chunk never
// does: replies may alias its bytes (bulkValue), so its bytes up to the
// record's length never change; only its header and what APPEND writes
// past its end do.
func (h *heap) fitsInPlace(ref uint64, n int) bool {
	return ref&refLarge == 0 && n <= maxSmall && classOf(n) == int(h.meta[ref>>pageShift].class)
}
