package store

import "math/bits"

// table is an open-addressing hash index from a name (a key, or a field of
// a large hash) to the chunk that holds it, with no Go pointer per entry:
// the collector sees one pointer-free array. Each entry is
//
//	tag (24 high bits of the name's 64-bit hash) << 40 | reference (40 bits)
//
// and 0 marks a free position (no reference is below 1<<16). The home
// position of an entry is fastrange(tag, len), so growing, shrinking and
// deleting never read a record: deletion shifts the following entries back
// (linear probing without tombstones). A lookup reads a record only when
// the tag matches, a 2^-24 chance for a different name.
//
// The entries array is shared with snapshots: a table is changed in place
// only by its owner (see Store.ownSlot), who clones it first when a live
// snapshot holds it.
type table struct {
	e []uint64
	n int
}

const (
	tagShift   = 40
	minTable   = 4
	maxLoadNum = 4 // grow past 4/5 full
	maxLoadDen = 5
)

func tagOf(hash uint64) uint64 { return hash >> tagShift }

func (t *table) home(tag uint64) int {
	hi, _ := bits.Mul64(tag<<tagShift, uint64(len(t.e)))
	return int(hi)
}

// lookup calls match for each entry whose tag is that of hash, in probe
// order, until match reports true; it returns that entry's position, or
// -1. match is given the entry's reference.
func (t *table) lookup(hash uint64, match func(ref uint64) bool) int {
	if t.n == 0 {
		return -1
	}
	tag := tagOf(hash)
	mask := len(t.e)
	for i := t.home(tag); ; {
		e := t.e[i]
		if e == 0 {
			return -1
		}
		if e>>tagShift == tag && match(e&refMask) {
			return i
		}
		if i++; i == mask {
			i = 0
		}
	}
}

// insert adds an entry for a name known to be absent, growing the table
// when needed. It returns the new entry's position.
func (t *table) insert(hash, ref uint64) int {
	if (t.n+1)*maxLoadDen > len(t.e)*maxLoadNum {
		t.resize(max(minTable, (t.n+1)*8/5))
	}
	t.n++
	return t.place(tagOf(hash)<<tagShift | ref)
}

func (t *table) place(e uint64) int {
	i := t.home(e >> tagShift)
	for t.e[i] != 0 {
		if i++; i == len(t.e) {
			i = 0
		}
	}
	t.e[i] = e
	return i
}

// locate returns the position of the entry for ref, whose name hashes to
// hash: hint when it is still there, else found by probing. A position
// taken before a removal in the same table may have moved (remove shifts
// entries back); locate makes such a position right again.
func (t *table) locate(hash, ref uint64, hint int) int {
	if hint >= 0 && hint < len(t.e) && t.e[hint]&refMask == ref {
		return hint
	}
	for i := t.home(tagOf(hash)); len(t.e) > 0; {
		switch e := t.e[i]; {
		case e == 0:
			return -1
		case e&refMask == ref:
			return i
		}
		if i++; i == len(t.e) {
			i = 0
		}
	}
	return -1
}

// ref returns the reference at position i.
func (t *table) ref(i int) uint64 { return t.e[i] & refMask }

// setRef points the entry at position i to a new chunk of the same name.
func (t *table) setRef(i int, ref uint64) { t.e[i] = t.e[i]&^refMask | ref }

// remove deletes the entry at position i, shifting back the entries that
// probed past it, and shrinks a table left mostly empty. Positions held
// from before are invalid afterwards.
func (t *table) remove(i int) {
	size := len(t.e)
	t.e[i] = 0
	t.n--
	for j := i + 1; ; j++ {
		if j == size {
			j = 0
		}
		e := t.e[j]
		if e == 0 {
			break
		}
		// The entry at j may move back to the hole at i when it probed
		// past i: its home is at least as far from j as i is.
		h := t.home(e >> tagShift)
		if (j-h+size)%size >= (j-i+size)%size {
			t.e[i], t.e[j] = e, 0
			i = j
		}
	}
	if t.n == 0 {
		t.e = nil
	} else if len(t.e) > 4*minTable && t.n*4 < len(t.e) {
		t.resize(t.n * 2)
	}
}

// resize rebuilds the table with size positions.
func (t *table) resize(size int) {
	old := t.e
	t.e = make([]uint64, max(size, minTable))
	for _, e := range old {
		if e != 0 {
			t.place(e)
		}
	}
}

// clone returns a copy that shares nothing with t.
func (t *table) clone() table {
	if t.e == nil {
		return table{}
	}
	return table{e: append([]uint64(nil), t.e...), n: t.n}
}

// bytes is the table's memory.
func (t *table) bytes() int64 { return int64(len(t.e)) * 8 }
