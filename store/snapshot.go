package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// Snapshot format, version 2:
//
//	"RCSN" version(1) lastNow(8, big endian) seq(8, big endian)
//	count(uvarint) then count removals: slot(2) deleteSeq(uvarint),
//	  for the slots whose deleteSeq is not 0, in ascending order
//	per non-empty slot: 'S' slot(2) count(uvarint) then count entries:
//	  key(len-prefixed) expireAt(varint) version(uvarint) lastWrite(varint,
//	  Unix seconds)
//	  encoding(1) then, for a string encoding: value(len-prefixed),
//	  for a hash encoding: nfields(uvarint) then field, value
//	'E' crc32-castagnoli of everything before it (4, big endian)
//
// Lengths are uvarints. The checksum lets Restore refuse a damaged file
// before it replaces anything. Version 2 added seq, the removals and each
// entry's version, lastWrite and encoding: WATCH decides on them, so a
// replica that restored without them would decide differently from the
// others. Version 1 snapshots are refused for that reason.
const (
	snapMagic   = "RCSN"
	snapVersion = 2
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
// still holds copies that slot's map (and the entries it changes) first.
// Call Release when done with it; until then it costs the store those
// copies.
type Snapshot struct {
	s         *Store
	slots     []frozenSlot
	lastNow   int64
	seq       uint64
	deleteSeq [NumSlots]uint64
	done      bool
}

type frozenSlot struct {
	slot int
	m    map[string]*entry
}

// Snapshot freezes the current contents. It is safe to call concurrently
// with reads, and must not run concurrently with Apply (the Raft FSM
// guarantees that).
func (s *Store) Snapshot() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapGen++
	s.liveSnaps++
	sn := &Snapshot{s: s, lastNow: s.lastNow, seq: s.seq, deleteSeq: s.deleteSeq}
	for i := range s.slots {
		if len(s.slots[i].m) > 0 {
			sn.slots = append(sn.slots, frozenSlot{slot: i, m: s.slots[i].m})
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
		enc.uvarint(uint64(len(fs.m)))
		for k, e := range fs.m {
			enc.str(k)
			enc.varint(e.expireAt)
			enc.uvarint(e.version)
			enc.varint(int64(e.lastWrite))
			enc.byte(byte(e.enc))
			if e.hash != nil {
				enc.uvarint(uint64(len(e.hash)))
				for f, v := range e.hash {
					enc.str(f)
					enc.bytes(v)
				}
			} else {
				enc.bytes(e.str)
			}
		}
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
// reads and checks the whole snapshot before changing anything, so a
// damaged snapshot leaves the store as it was and returns an error
// wrapping ErrCorruptSnapshot.
func (s *Store) Restore(r io.Reader) error {
	br := bufio.NewReaderSize(r, 256<<10)
	cr := &crcReader{r: br, crc: crc32.New(crcTable)}
	d := decoder{r: cr}
	var slots [NumSlots]keyspace
	keys, expires := 0, 0
	magic := d.fixed(len(snapMagic))
	if d.err == nil && string(magic) != snapMagic {
		return fmt.Errorf("%w: bad magic", ErrCorruptSnapshot)
	}
	if v := d.byte(); d.err == nil && v != snapVersion {
		return fmt.Errorf("%w: unknown version %d", ErrCorruptSnapshot, v)
	}
	lastNow := int64(d.u64())
	seq := d.u64()
	var deleteSeq [NumSlots]uint64
	removals := d.uvarint()
	prev := -1
	for i := uint64(0); i < removals && d.err == nil; i++ {
		slot := int(d.u16())
		ds := d.uvarint()
		switch {
		case d.err != nil:
		case slot >= NumSlots || slot <= prev:
			d.corrupt("bad or unordered removal slot")
		case ds == 0 || ds > seq:
			d.corrupt("removal sequence number out of range")
		}
		deleteSeq[min(slot, NumSlots-1)] = ds
		prev = slot
	}
	for d.err == nil {
		tag := d.byte()
		if tag == 'E' || d.err != nil {
			break
		}
		if tag != 'S' {
			return fmt.Errorf("%w: unexpected record tag %q", ErrCorruptSnapshot, tag)
		}
		slot := int(d.u16())
		n := d.uvarint()
		if d.err != nil {
			break
		}
		if slot >= NumSlots || slots[slot].m != nil {
			return fmt.Errorf("%w: bad or repeated slot %d", ErrCorruptSnapshot, slot)
		}
		m := make(map[string]*entry, min(n, maxPrealloc))
		for i := uint64(0); i < n && d.err == nil; i++ {
			key := string(d.bytes())
			e := &entry{expireAt: d.varint(), version: d.uvarint(), lastWrite: uint32(d.varint()), enc: encoding(d.byte())}
			switch {
			case d.err != nil:
			case e.enc >= numEncodings:
				d.corrupt("bad encoding")
			case e.enc.isHash():
				nf := d.uvarint()
				if nf == 0 {
					d.corrupt("empty hash")
				}
				e.hash = make(map[string][]byte, min(nf, maxPrealloc))
				for j := uint64(0); j < nf && d.err == nil; j++ {
					f := string(d.bytes())
					v := d.bytes()
					if _, dup := e.hash[f]; dup {
						d.corrupt("repeated hash field")
					}
					e.hash[f] = v
				}
			default:
				e.str = d.bytes()
			}
			// What WriteTo cannot produce is refused, so that the
			// counters and the invariants of the live store hold.
			switch {
			case d.err != nil:
			case e.expireAt < 0:
				d.corrupt("negative expiry time")
			case SlotOf([]byte(key)) != slot:
				d.corrupt("key in the wrong slot")
			case m[key] != nil:
				d.corrupt("repeated key")
			case e.version == 0 || e.version > seq:
				d.corrupt("key version out of range")
			case int64(e.lastWrite) > lastNow/1000:
				d.corrupt("last write after the snapshot's time")
			case !validEncoding(e):
				d.corrupt("encoding does not fit the value")
			}
			if d.err != nil {
				break
			}
			m[key] = e
			if e.expireAt != 0 {
				expires++
			}
		}
		keys += len(m)
		slots[slot] = keyspace{m: m}
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

	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range slots {
		slots[i].gen = s.snapGen
		for _, e := range slots[i].m {
			e.gen = s.snapGen
		}
	}
	s.slots = slots
	s.keys, s.expires, s.lastNow = keys, expires, lastNow
	s.seq, s.deleteSeq = seq, deleteSeq
	return nil
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
