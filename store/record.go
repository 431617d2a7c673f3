package store

import (
	"encoding/binary"
	"math/bits"
)

// A record is one key with its value and metadata, in one chunk of the
// heap:
//
//	 0  access     uint32  the last access (24-bit clock of seconds) and an
//	                       8-bit LFU counter, for eviction (evict.go); kept
//	                       per replica: not replicated, not snapshotted
//	 4  lastWrite  uint32  Unix seconds of the last command that changed it
//	 8  version    uint64  the seq of that command (WATCH)
//	16  flags      byte    encoding (low 4 bits), recTTL
//	17  klen, vlen uvarint
//	    expireAt   int64   only with recTTL
//	    key, value
//
// All integers are little endian. The value is a string's bytes, a small
// hash's listpack (listpack.go), or a large hash's id (bighash.go). A key
// without a TTL saves the 8 bytes of expireAt; a record with 10-byte key and
// 100-byte value takes 129 bytes, a 132-byte chunk.
const (
	recLastWrite = 4
	recVersion   = 8
	recFlags     = 16
	recFixed     = 17
	recTTL       = 0x10
	recEncMask   = 0x0F
)

// obj is a decoded view of one key's record. Its slices alias the heap:
// they are valid only until the store's next change, and never outlive the
// lock under which they were read (replies copy, see copyBulk).
type obj struct {
	ref      uint64
	rec      []byte // the record exactly
	slot     int
	pos      int // position in the slot's table
	hash     uint64
	enc      encoding
	expireAt int64
	keyOff   int
	valOff   int
}

func (o *obj) key() []byte       { return o.rec[o.keyOff:o.valOff] }
func (o *obj) val() []byte       { return o.rec[o.valOff:] }
func (o *obj) version() uint64   { return binary.LittleEndian.Uint64(o.rec[recVersion:]) }
func (o *obj) lastWrite() uint32 { return binary.LittleEndian.Uint32(o.rec[recLastWrite:]) }
func (o *obj) isHash() bool      { return o.enc.isHash() }
func (o *obj) expired(now int64) bool {
	return o.expireAt != 0 && o.expireAt <= now
}

// decodeRecord reads the record at the start of b (which may run past it).
func decodeRecord(b []byte) obj {
	var o obj
	o.decode(b)
	return o
}

// decode fills o's view of the record at the start of b, leaving its
// place (ref, slot, pos, hash) as it is.
func (o *obj) decode(b []byte) {
	flags := b[recFlags]
	klen, i := uvarintAt(b, recFixed)
	vlen, i := uvarintAt(b, i)
	o.enc = encoding(flags & recEncMask)
	o.expireAt = 0
	if flags&recTTL != 0 {
		o.expireAt = int64(binary.LittleEndian.Uint64(b[i:]))
		i += 8
	}
	o.keyOff, o.valOff = i, i+klen
	o.rec = b[: i+klen+vlen : i+klen+vlen]
}

// uvarintAt reads the uvarint at b[i:] and returns it and the offset after
// it. Records are written by the store only, so it does not check.
func uvarintAt(b []byte, i int) (int, int) {
	if c := b[i]; c < 0x80 {
		return int(c), i + 1
	}
	v, n := binary.Uvarint(b[i:])
	return int(v), i + n
}

func uvarintLen(v int) int { return (bits.Len64(uint64(v)|1) + 6) / 7 }

// recordLen is the length of a record with the given key and value lengths.
func recordLen(klen, vlen int, ttl bool) int {
	n := recFixed + uvarintLen(klen) + uvarintLen(vlen) + klen + vlen
	if ttl {
		n += 8
	}
	return n
}

// recMeta is what a record carries besides its key and value.
type recMeta struct {
	enc       encoding
	expireAt  int64
	version   uint64
	lastWrite uint32
	access    uint32 // the access word (evict.go)
}

// writeRecord fills b (at least recordLen long) with a record and returns
// its length. key and the parts of the value must not overlap b.
func writeRecord(b []byte, m recMeta, key []byte, vlen int, parts ...[]byte) int {
	binary.LittleEndian.PutUint32(b, m.access)
	binary.LittleEndian.PutUint32(b[recLastWrite:], m.lastWrite)
	binary.LittleEndian.PutUint64(b[recVersion:], m.version)
	flags := byte(m.enc)
	if m.expireAt != 0 {
		flags |= recTTL
	}
	b[recFlags] = flags
	i := recFixed + binary.PutUvarint(b[recFixed:], uint64(len(key)))
	i += binary.PutUvarint(b[i:], uint64(vlen))
	if m.expireAt != 0 {
		binary.LittleEndian.PutUint64(b[i:], uint64(m.expireAt))
		i += 8
	}
	i += copy(b[i:], key)
	for _, p := range parts {
		i += copy(b[i:], p)
	}
	return i
}

// writeHeader changes the metadata of the record rec in place. The record
// keeps its layout: m has an expiry exactly when rec has one.
func writeHeader(rec []byte, m recMeta) {
	binary.LittleEndian.PutUint32(rec[recLastWrite:], m.lastWrite)
	binary.LittleEndian.PutUint64(rec[recVersion:], m.version)
	rec[recFlags] = rec[recFlags]&^recEncMask | byte(m.enc)
	if m.expireAt != 0 {
		_, i := uvarintAt(rec, recFixed)
		_, i = uvarintAt(rec, i)
		binary.LittleEndian.PutUint64(rec[i:], uint64(m.expireAt))
	}
}
