package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/hashicorp/raft"
)

// On-disk layout (all integers little endian).
//
// A segment file starts with a 32-byte header:
//
//	magic "RCWALSEG"(8) version(4) reserved(4) segment id(8) first frame seq(8)
//
// then frames, back to back, then zeros up to the preallocated size:
//
//	length and flags(4) crc32c(4) seq(8) body
//
// The low 31 bits of the first word are the body's length; the top bit,
// flagSynced, says that everything before the frame was on disk when it
// was written (the first frame of a batch written after a sync). The CRC
// covers the first word, seq and body. seq numbers frames across the whole log,
// one more each frame, so a frame is whole and in order only if its CRC
// and its seq both match; a length of 0 marks the end of the data. Each
// frame is written by one write call and holds whole records only: a
// StoreLogs call is never split between frames, so it survives a crash
// entirely or not at all.
//
// Records, one after another in a frame body:
//
//	entry:  kind=1 shard(4) index(8) term(8) type(1) appendedAt(8, Unix ns)
//	        extLen(4) dataLen(4) crc32c(4) ext data
//	delete: kind=2 shard(4) min(8) max(8)
//	set:    kind=3 shard(4) keyLen(2) valLen(4) key val
//
// An entry carries its own CRC (over the record without the CRC field),
// so an entry read back later by GetLog is checked on its own.
const (
	segmentMagic   = "RCWALSEG"
	segmentVersion = 1
	segHeaderLen   = 32
	frameHeaderLen = 16

	kindEntry  = 1
	kindDelete = 2
	kindSet    = 3

	entryHeaderLen  = 1 + 4 + 8 + 8 + 1 + 8 + 4 + 4 + 4
	deleteRecordLen = 1 + 4 + 8 + 8
	setHeaderLen    = 1 + 4 + 2 + 4

	// maxFrameBody bounds what a frame may claim, so a damaged length is
	// refused before anything is allocated for it. A single entry may be as
	// large as the largest bulk string a client may send (512 MiB) plus
	// its command's framing.
	maxFrameBody = 1 << 30
	// frameTarget is where the writer closes a frame and starts another
	// when a batch keeps growing: smaller frames keep the write
	// granularity of a crash small.
	frameTarget = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by every error that reports damaged log data.
var ErrCorrupt = errors.New("write-ahead log is damaged")

type segHeader struct {
	id       uint64
	firstSeq uint64
}

func appendSegHeader(dst []byte, h segHeader) []byte {
	dst = append(dst, segmentMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, segmentVersion)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, h.id)
	return binary.LittleEndian.AppendUint64(dst, h.firstSeq)
}

func parseSegHeader(b []byte) (segHeader, error) {
	if len(b) < segHeaderLen || string(b[:8]) != segmentMagic {
		return segHeader{}, fmt.Errorf("%w: bad segment header", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(b[8:12]); v != segmentVersion {
		return segHeader{}, fmt.Errorf("%w: segment version %d is not %d", ErrCorrupt, v, segmentVersion)
	}
	return segHeader{
		id:       binary.LittleEndian.Uint64(b[16:24]),
		firstSeq: binary.LittleEndian.Uint64(b[24:32]),
	}, nil
}

const flagSynced = 1 << 31

// sealFrame fills in the header of the frame that occupies frame (header
// included): its body length and flags, seq and CRC.
func sealFrame(frame []byte, seq uint64, synced bool) {
	body := frame[frameHeaderLen:]
	word := uint32(len(body))
	if synced {
		word |= flagSynced
	}
	binary.LittleEndian.PutUint32(frame[0:4], word)
	binary.LittleEndian.PutUint64(frame[8:16], seq)
	binary.LittleEndian.PutUint32(frame[4:8], frameCRC(frame[0:4], frame[8:16], body))
}

func frameCRC(word, seq, body []byte) uint32 {
	crc := crc32.Update(0, crcTable, word)
	crc = crc32.Update(crc, crcTable, seq)
	return crc32.Update(crc, crcTable, body)
}

// frameHeader is a frame's header as read back.
type frameHeader struct {
	word    [4]byte
	bodyLen uint32
	synced  bool
	crc     uint32
	seq     uint64
}

func parseFrameHeader(b []byte) frameHeader {
	word := binary.LittleEndian.Uint32(b[0:4])
	return frameHeader{
		word:    [4]byte(b[0:4]),
		bodyLen: word &^ flagSynced,
		synced:  word&flagSynced != 0,
		crc:     binary.LittleEndian.Uint32(b[4:8]),
		seq:     binary.LittleEndian.Uint64(b[8:16]),
	}
}

func (h frameHeader) zero() bool { return h.word == [4]byte{} && h.crc == 0 && h.seq == 0 }

func (h frameHeader) check(body []byte) bool {
	var seq [8]byte
	binary.LittleEndian.PutUint64(seq[:], h.seq)
	return frameCRC(h.word[:], seq[:], body) == h.crc
}

// syncedFrameAfter reports whether data, from off on, holds a whole frame
// with a seq above seq that was written after a sync: proof that a bad
// frame before it had been synced, so is damage, not a torn write. It
// tries every offset, so it finds such a frame even behind a damaged
// length.
func syncedFrameAfter(data []byte, off int64, seq uint64) (int64, bool) {
	for p := off; p+frameHeaderLen <= int64(len(data)); p++ {
		h := parseFrameHeader(data[p:])
		if !h.synced || h.seq <= seq || h.seq-seq > 1<<32 {
			continue
		}
		end := p + frameHeaderLen + int64(h.bodyLen)
		if h.bodyLen > maxFrameBody || end > int64(len(data)) {
			continue
		}
		if h.check(data[p+frameHeaderLen : end]) {
			return p, true
		}
	}
	return 0, false
}

func entryRecordLen(l *raft.Log) int { return entryHeaderLen + len(l.Extensions) + len(l.Data) }

// appendEntry appends l as an entry record of shard to dst.
func appendEntry(dst []byte, shard uint32, l *raft.Log) []byte {
	start := len(dst)
	dst = append(dst, kindEntry)
	dst = binary.LittleEndian.AppendUint32(dst, shard)
	dst = binary.LittleEndian.AppendUint64(dst, l.Index)
	dst = binary.LittleEndian.AppendUint64(dst, l.Term)
	dst = append(dst, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(at))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(l.Extensions)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(l.Data)))
	crcAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, l.Extensions...)
	dst = append(dst, l.Data...)
	crc := crc32.Update(0, crcTable, dst[start:crcAt])
	crc = crc32.Update(crc, crcTable, dst[crcAt+4:])
	binary.LittleEndian.PutUint32(dst[crcAt:], crc)
	return dst
}

func appendDelete(dst []byte, shard uint32, min, max uint64) []byte {
	dst = append(dst, kindDelete)
	dst = binary.LittleEndian.AppendUint32(dst, shard)
	dst = binary.LittleEndian.AppendUint64(dst, min)
	return binary.LittleEndian.AppendUint64(dst, max)
}

func appendSet(dst []byte, shard uint32, key, val []byte) []byte {
	dst = append(dst, kindSet)
	dst = binary.LittleEndian.AppendUint32(dst, shard)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(key)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(val)))
	dst = append(dst, key...)
	return append(dst, val...)
}

// record is one decoded record. For an entry, log's Data and Extensions
// alias the bytes decoded.
type record struct {
	kind     byte
	shard    uint32
	log      raft.Log // kindEntry
	min, max uint64   // kindDelete
	key, val []byte   // kindSet
	size     int      // bytes the record takes
}

// decodeRecord decodes the record at the start of b.
func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) < 5 {
		return r, fmt.Errorf("%w: record of %d bytes", ErrCorrupt, len(b))
	}
	r.kind = b[0]
	r.shard = binary.LittleEndian.Uint32(b[1:5])
	switch r.kind {
	case kindEntry:
		if len(b) < entryHeaderLen {
			return r, fmt.Errorf("%w: entry header cut short", ErrCorrupt)
		}
		extLen := uint64(binary.LittleEndian.Uint32(b[30:34]))
		dataLen := uint64(binary.LittleEndian.Uint32(b[34:38]))
		if extLen+dataLen > uint64(len(b)-entryHeaderLen) {
			return r, fmt.Errorf("%w: entry longer than its frame", ErrCorrupt)
		}
		r.size = entryHeaderLen + int(extLen+dataLen)
		crc := crc32.Update(0, crcTable, b[:38])
		crc = crc32.Update(crc, crcTable, b[entryHeaderLen:r.size])
		if crc != binary.LittleEndian.Uint32(b[38:42]) {
			return r, fmt.Errorf("%w: entry checksum mismatch", ErrCorrupt)
		}
		r.log.Index = binary.LittleEndian.Uint64(b[5:13])
		r.log.Term = binary.LittleEndian.Uint64(b[13:21])
		r.log.Type = raft.LogType(b[21])
		if at := int64(binary.LittleEndian.Uint64(b[22:30])); at != 0 {
			r.log.AppendedAt = time.Unix(0, at)
		}
		p := b[entryHeaderLen:r.size]
		if extLen > 0 {
			r.log.Extensions = p[:extLen:extLen]
		}
		r.log.Data = p[extLen:]
		if r.log.Index == 0 {
			return r, fmt.Errorf("%w: entry with index 0", ErrCorrupt)
		}
	case kindDelete:
		if len(b) < deleteRecordLen {
			return r, fmt.Errorf("%w: delete record cut short", ErrCorrupt)
		}
		r.min = binary.LittleEndian.Uint64(b[5:13])
		r.max = binary.LittleEndian.Uint64(b[13:21])
		r.size = deleteRecordLen
	case kindSet:
		if len(b) < setHeaderLen {
			return r, fmt.Errorf("%w: set record cut short", ErrCorrupt)
		}
		kl := int(binary.LittleEndian.Uint16(b[5:7]))
		vl := uint64(binary.LittleEndian.Uint32(b[7:11]))
		if uint64(kl)+vl > uint64(len(b)-setHeaderLen) {
			return r, fmt.Errorf("%w: set record longer than its frame", ErrCorrupt)
		}
		r.key = b[setHeaderLen : setHeaderLen+kl]
		r.val = b[setHeaderLen+kl : setHeaderLen+kl+int(vl)]
		r.size = setHeaderLen + kl + int(vl)
	default:
		return r, fmt.Errorf("%w: unknown record kind %d", ErrCorrupt, r.kind)
	}
	return r, nil
}
