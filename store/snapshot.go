package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/maphash"
	"io"
)

// Snapshot format, version 3 (version 2 is the same layout):
//
//	"RCSN" version(1) lastNow(8, big endian) seq(8, big endian)
//	count(uvarint) then count removals: slot(2) deleteSeq(uvarint),
//	  for the slots whose deleteSeq is not 0, in ascending order
//	per non-empty slot: 'S' slot(2) count(uvarint) then count entries:
//	  key(len-prefixed) expireAt(varint) version(uvarint) lastWrite(varint,
//	  Unix seconds)
//	  encoding(1) then, for a string encoding: value(len-prefixed),
//	  for a hash encoding: nfields(uvarint) then field, value
//	version 4 only, when a cross-shard transaction is open or remembered:
//	  'X' state(len-prefixed; see xtxState.marshal)
//	'E' crc32-castagnoli of everything before it (4, big endian)
//
// Lengths are uvarints. The checksum lets Restore refuse a damaged file
// before it replaces anything. Version 2 added seq, the removals and each
// entry's version, lastWrite and encoding: WATCH decides on them, so a
// replica that restored without them would decide differently from the
// others. Version 1 snapshots are refused for that reason. Version 3 lists
// a listpack hash's fields in the hash's order, which is replicated state
// since small hashes keep Redis's insertion order; version 2 listed them
// in no particular order, and Restore still reads it (that order becomes
// the hash's). Version 4 adds the 'X' section: the locks, records and
// decisions of cross-shard transactions are replicated state too.
const (
	snapMagic      = "RCSN"
	snapVersion    = 4
	minSnapVersion = 2
	// maxSnapLen bounds any one length read from a snapshot, so that a
	// damaged file cannot make Restore allocate without limit.
	maxSnapLen = 512 << 20
	// maxPrealloc bounds the capacity Restore reserves from a count the
	// file claims; maps grow past it as entries actually arrive.
	maxPrealloc = 1 << 12
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptSnapshot is wrapped by every error Restore returns for data
// that is not a valid snapshot.
var ErrCorruptSnapshot = errors.New("corrupt snapshot")

// Snapshot is a frozen view of a store, taken in O(slots) time. Writes to
// the store go on while it is written out: a write to a slot the snapshot
// still holds copies that slot's table first, a record the snapshot holds
// is rewritten into a new chunk, and chunks it holds are freed only once it
// is released. Call Release when done with it, and only after WriteTo has
// returned; until then it costs the store those copies.
type Snapshot struct {
	s         *Store
	slots     []frozenSlot
	heap      heapView
	lastNow   int64
	seq       uint64
	deleteSeq [NumSlots]uint64
	xtx       []byte // the 'X' section, nil when empty
	done      bool
}

type frozenSlot struct {
	slot int
	t    table
}

// Snapshot freezes the current contents. It is safe to call concurrently
// with reads, and must not run concurrently with Apply (the Raft FSM
// guarantees that).
func (s *Store) Snapshot() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapGen++
	s.liveSnaps++
	s.snapSeq = s.seq
	sn := &Snapshot{s: s, heap: s.heap.view(), lastNow: s.lastNow, seq: s.seq, deleteSeq: s.deleteSeq}
	if !s.xtx.empty() {
		sn.xtx = s.xtx.marshal()
	}
	for i := range s.slots {
		if s.slots[i].t.n > 0 {
			sn.slots = append(sn.slots, frozenSlot{slot: i, t: s.slots[i].t})
		}
	}
	return sn
}

// Release ends the snapshot; later writes no longer copy on its account.
func (sn *Snapshot) Release() {
	sn.s.mu.Lock()
	defer sn.s.mu.Unlock()
	if !sn.done {
		sn.done = true
		sn.s.liveSnaps--
		if sn.s.liveSnaps == 0 {
			sn.s.snapshotsReleased()
		}
	}
}

// WriteTo writes the snapshot to w in the format above. It may run
// concurrently with writes to the store.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w, crc: crc32.New(crcTable)}
	bw := bufio.NewWriterSize(cw, 256<<10)
	enc := encoder{w: bw}
	enc.raw([]byte(snapMagic))
	enc.byte(snapVersion)
	enc.u64(uint64(sn.lastNow))
	enc.u64(sn.seq)
	removals := 0
	for _, d := range sn.deleteSeq {
		if d != 0 {
			removals++
		}
	}
	enc.uvarint(uint64(removals))
	for slot, d := range sn.deleteSeq {
		if d != 0 {
			enc.u16(uint16(slot))
			enc.uvarint(d)
		}
	}
	for _, fs := range sn.slots {
		enc.byte('S')
		enc.u16(uint16(fs.slot))
		enc.uvarint(uint64(fs.t.n))
		for _, e := range fs.t.e {
			if e == 0 {
				continue
			}
			o := decodeRecord(sn.heap.bytes(e & refMask))
			enc.bytes(o.key())
			enc.varint(o.expireAt)
			enc.uvarint(o.version())
			enc.varint(int64(o.lastWrite()))
			enc.byte(byte(o.enc))
			switch o.enc {
			case encListpack:
				enc.uvarint(uint64(lpLen(o.val())))
				it := lpIterate(o.val())
				for f, v, ok := it.next(); ok; f, v, ok = it.next() {
					enc.bytes(f)
					enc.bytes(v)
				}
			case encHashtable:
				bh := sn.heap.bigs[bigID(&o)]
				enc.uvarint(uint64(bh.len()))
				bigEach(sn.heap, bh, func(f, v []byte) bool {
					enc.bytes(f)
					enc.bytes(v)
					return enc.err == nil
				})
			default:
				enc.bytes(o.val())
			}
		}
	}
	if sn.xtx != nil {
		enc.byte('X')
		enc.bytes(sn.xtx)
	}
	enc.byte('E')
	if enc.err == nil {
		enc.err = bw.Flush()
	}
	if enc.err != nil {
		return cw.n, fmt.Errorf("write snapshot: %w", enc.err)
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], cw.crc.Sum32())
	if _, err := cw.Write(sum[:]); err != nil {
		return cw.n, fmt.Errorf("write snapshot checksum: %w", err)
	}
	return cw.n, nil
}

// Restore replaces the store's contents with a snapshot read from r. It
// reads and checks the whole snapshot into a new heap before changing
// anything, so a damaged snapshot leaves the store as it was and returns an
// error wrapping ErrCorruptSnapshot.
func (s *Store) Restore(r io.Reader) error {
	rs := restoring{h: newHeap(), seed: s.seed}
	if err := rs.read(r); err != nil {
		rs.h.destroy()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replaceHeap(rs.h)
	for i := range s.slots {
		s.slots[i] = slotTable{t: rs.slots[i], gen: s.snapGen}
	}
	s.keys, s.expires, s.lastNow = rs.keys, rs.expires, rs.lastNow
	s.seq, s.deleteSeq = rs.seq, rs.deleteSeq
	s.xtx = rs.xtx
	return nil
}

// restoring is a store being read from a snapshot.
type restoring struct {
	h             *heap
	seed          maphash.Seed
	slots         [NumSlots]table
	keys, expires int
	lastNow       int64
	seq           uint64
	deleteSeq     [NumSlots]uint64
	pairs         []pair
	lp            []byte
	xtx           xtxState
}

func (rs *restoring) read(r io.Reader) error {
	br := bufio.NewReaderSize(r, 256<<10)
	cr := &crcReader{r: br, crc: crc32.New(crcTable)}
	d := decoder{r: cr}
	magic := d.fixed(len(snapMagic))
	if d.err == nil && string(magic) != snapMagic {
		return fmt.Errorf("%w: bad magic", ErrCorruptSnapshot)
	}
	version := d.byte()
	if d.err == nil && (version < minSnapVersion || version > snapVersion) {
		return fmt.Errorf("%w: unknown version %d", ErrCorruptSnapshot, version)
	}
	rs.lastNow = int64(d.u64())
	rs.seq = d.u64()
	removals := d.uvarint()
	prev := -1
	for i := uint64(0); i < removals && d.err == nil; i++ {
		slot := int(d.u16())
		ds := d.uvarint()
		switch {
		case d.err != nil:
		case slot >= NumSlots || slot <= prev:
			d.corrupt("bad or unordered removal slot")
		case ds == 0 || ds > rs.seq:
			d.corrupt("removal sequence number out of range")
		}
		rs.deleteSeq[min(slot, NumSlots-1)] = ds
		prev = slot
	}
	var seen [NumSlots]bool
	for d.err == nil {
		tag := d.byte()
		if tag == 'E' || d.err != nil {
			break
		}
		if tag == 'X' && version >= 4 {
			b := d.bytes()
			if d.err != nil {
				break
			}
			st, err := unmarshalXTx(b)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
			}
			rs.xtx = st
			continue
		}
		if tag != 'S' {
			return fmt.Errorf("%w: unexpected record tag %q", ErrCorruptSnapshot, tag)
		}
		slot := int(d.u16())
		n := d.uvarint()
		if d.err != nil {
			break
		}
		if slot >= NumSlots || seen[slot] {
			return fmt.Errorf("%w: bad or repeated slot %d", ErrCorruptSnapshot, slot)
		}
		seen[slot] = true
		for i := uint64(0); i < n && d.err == nil; i++ {
			rs.entry(&d, slot)
		}
	}
	if d.err != nil {
		return fmt.Errorf("restore snapshot: %w", d.err)
	}
	want := cr.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: missing checksum", ErrCorruptSnapshot)
		}
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if binary.BigEndian.Uint32(sum[:]) != want {
		return fmt.Errorf("%w: checksum mismatch", ErrCorruptSnapshot)
	}
	if _, err := br.ReadByte(); err == nil {
		return fmt.Errorf("%w: data after the checksum", ErrCorruptSnapshot)
	} else if err != io.EOF {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	return nil
}

// entry reads one key of slot and stores it, or records why it is refused
// in d. What WriteTo cannot produce is refused, so that the counters and
// the invariants of the live store hold.
func (rs *restoring) entry(d *decoder, slot int) {
	key := d.bytes()
	m := recMeta{expireAt: d.varint(), version: d.uvarint()}
	lastWrite := d.varint()
	m.enc = encoding(d.byte())
	if d.err != nil {
		return
	}
	m.lastWrite = uint32(lastWrite)
	// Access data is not in snapshots: a restored key counts as accessed
	// at its last write.
	m.access = newAccess(lastWrite * 1000)
	var str []byte
	var bh *bigHash
	switch {
	case m.enc >= numEncodings:
		d.corrupt("bad encoding")
		return
	case m.enc.isHash():
		bh = rs.hash(d, m.enc)
		if d.err != nil {
			return
		}
	default:
		str = d.bytes()
	}
	if d.err == nil && !m.enc.isHash() && !validEncoding(m.enc, str, false, 0, 0) {
		d.corrupt("encoding does not fit the value")
	}
	hash := maphash.Bytes(rs.seed, key)
	switch {
	case d.err != nil:
	case m.expireAt < 0:
		d.corrupt("negative expiry time")
	case SlotOf(key) != slot:
		d.corrupt("key in the wrong slot")
	case m.version == 0 || m.version > rs.seq:
		d.corrupt("key version out of range")
	case int64(m.lastWrite) > rs.lastNow/1000:
		d.corrupt("last write after the snapshot's time")
	}
	if d.err == nil {
		var o obj
		if findIn(&o, rs.h, &rs.slots[slot], hash, key) {
			d.corrupt("repeated key")
		}
	}
	if d.err != nil {
		return
	}
	val := str
	switch m.enc {
	case encListpack:
		val = rs.lp
	case encHashtable:
		if len(rs.h.bigs) == 0 {
			rs.h.bigs = append(rs.h.bigs, nil) // id 0 unused
		}
		rs.h.bigs = append(rs.h.bigs, bh)
		val = idBytes(uint32(len(rs.h.bigs) - 1))
	}
	n := recordLen(len(key), len(val), m.expireAt != 0)
	ref, b := rs.h.alloc(n)
	writeRecord(b, m, key, len(val), val)
	rs.slots[slot].insert(hash, ref)
	rs.keys++
	if m.expireAt != 0 {
		rs.expires++
	}
}

// hash reads the fields of a hash of encoding enc: into rs.lp as a
// listpack, or into a new large hash.
func (rs *restoring) hash(d *decoder, enc encoding) *bigHash {
	nf := d.uvarint()
	if d.err == nil && nf == 0 {
		d.corrupt("empty hash")
	}
	if d.err == nil && enc == encListpack && nf > hashMaxListpackEntry {
		d.corrupt("encoding does not fit the value")
	}
	if enc == encListpack {
		rs.pairs = rs.pairs[:0]
		for j := uint64(0); j < nf && d.err == nil; j++ {
			f, v := d.bytes(), d.bytes()
			switch {
			case d.err != nil:
			case !fitsListpack(f, v):
				d.corrupt("encoding does not fit the value")
			default:
				for _, p := range rs.pairs {
					if string(p.field) == string(f) {
						d.corrupt("repeated hash field")
					}
				}
			}
			rs.pairs = append(rs.pairs, pair{field: f, value: v})
		}
		rs.lp = lpEncode(rs.lp[:0], rs.pairs)
		return nil
	}
	bh := &bigHash{}
	for j := uint64(0); j < nf && d.err == nil; j++ {
		f, v := d.bytes(), d.bytes()
		if d.err != nil {
			break
		}
		if !bigSetIn(rs.h, rs.seed, false, bh, f, v) {
			d.corrupt("repeated hash field")
		}
	}
	return bh
}

// countWriter counts and checksums what passes through it.
type countWriter struct {
	w   io.Writer
	crc hash.Hash32
	n   int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// encoder writes the snapshot's primitives, keeping the first error.
type encoder struct {
	w   *bufio.Writer
	err error
	buf [binary.MaxVarintLen64]byte
}

func (e *encoder) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}
func (e *encoder) byte(b byte) {
	if e.err == nil {
		e.err = e.w.WriteByte(b)
	}
}
func (e *encoder) u16(v uint16) { e.raw(binary.BigEndian.AppendUint16(e.buf[:0], v)) }
func (e *encoder) u64(v uint64) { e.raw(binary.BigEndian.AppendUint64(e.buf[:0], v)) }
func (e *encoder) uvarint(v uint64) {
	e.raw(binary.AppendUvarint(e.buf[:0], v))
}
func (e *encoder) varint(v int64) { e.raw(binary.AppendVarint(e.buf[:0], v)) }
func (e *encoder) bytes(b []byte) {
	e.uvarint(uint64(len(b)))
	e.raw(b)
}

// str is bytes for a map key, without converting it to a slice.
func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

// crcReader checksums the bytes the decoder consumes (not those bufio has
// read ahead).
type crcReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	one [1]byte
	// err is the last error the underlying reader returned, so that the
	// decoder can tell a failing reader from malformed data.
	err error
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *crcReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err != nil {
		c.err = err
		return b, err
	}
	c.one[0] = b
	c.crc.Write(c.one[:])
	return b, nil
}

// decoder reads the snapshot's primitives, keeping the first error. A
// short read, and any error that did not come from the reader (such as a
// varint that overflows), is ErrCorruptSnapshot; the reader's own errors
// are passed on as they are.
type decoder struct {
	r   *crcReader
	err error
}

func (d *decoder) fail(err error) {
	if d.err != nil {
		return
	}
	switch {
	case errors.Is(err, ErrCorruptSnapshot):
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		err = fmt.Errorf("%w: truncated", ErrCorruptSnapshot)
	case d.r.err == nil:
		err = fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
	}
	d.err = err
}

// corrupt records malformed data described by what.
func (d *decoder) corrupt(what string) {
	d.fail(fmt.Errorf("%w: %s", ErrCorruptSnapshot, what))
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	b, err := d.r.ReadByte()
	if err != nil {
		d.fail(err)
	}
	return b
}

func (d *decoder) fixed(n int) []byte {
	if d.err != nil {
		return nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.fail(err)
		return nil
	}
	return b
}

func (d *decoder) u16() uint16 {
	if b := d.fixed(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.fixed(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.fail(err)
	}
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	if err != nil {
		d.fail(err)
	}
	return v
}

// bytes reads a length-prefixed string. Memory grows with the data that
// actually arrives, not with the length the file claims.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > maxSnapLen {
		d.fail(fmt.Errorf("%w: length %d too large", ErrCorruptSnapshot, n))
		return nil
	}
	if n <= 4096 {
		return d.fixed(int(n))
	}
	b, err := io.ReadAll(io.LimitReader(d.r, int64(n)))
	if err != nil {
		d.fail(err)
		return nil
	}
	if uint64(len(b)) != n {
		d.fail(io.ErrUnexpectedEOF)
		return nil
	}
	return b
}
