package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Log entry layout, version 1:
//
//	version(1) kind(1) now(8, big endian, Unix ms of the leader's clock)
//	ncmds(uvarint) then per command: nargs(uvarint), then per argument
//	len(uvarint) and the bytes; then crc32-castagnoli of all of the above
//	(4, big endian).
//
// The version byte lets a newer node recognise entries written by an older
// one during a rolling upgrade. The checksum catches a damaged log on disk
// (raft-boltdb stores entries without one), so a node refuses to start
// rather than serve wrong data.
const (
	entryVersion = 1

	kindCommands = 1
)

// entry is a decoded log entry: commands applied together, in order, at
// the leader's time now.
type entry struct {
	now  int64
	cmds [][][]byte
}

// errBadEntry is wrapped by every decoding error.
var errBadEntry = errors.New("malformed log entry")

// encodeEntry appends the encoding of cmds at time now to dst.
func encodeEntry(dst []byte, now int64, cmds [][][]byte) []byte {
	start := len(dst)
	dst = append(dst, entryVersion, kindCommands)
	dst = binary.BigEndian.AppendUint64(dst, uint64(now))
	dst = binary.AppendUvarint(dst, uint64(len(cmds)))
	for _, args := range cmds {
		dst = binary.AppendUvarint(dst, uint64(len(args)))
		for _, a := range args {
			dst = binary.AppendUvarint(dst, uint64(len(a)))
			dst = append(dst, a...)
		}
	}
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// decodeEntry parses data. The argument slices alias data. Every count is
// checked against the bytes left before anything is allocated, so garbage
// yields an error, never a large allocation.
func decodeEntry(data []byte) (entry, error) {
	var e entry
	if len(data) < 14 {
		return e, fmt.Errorf("%w: %d bytes", errBadEntry, len(data))
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(data[len(body):]) {
		return e, fmt.Errorf("%w: checksum mismatch", errBadEntry)
	}
	data = body
	if data[0] != entryVersion {
		return e, fmt.Errorf("%w: unknown version %d", errBadEntry, data[0])
	}
	if data[1] != kindCommands {
		return e, fmt.Errorf("%w: unknown kind %d", errBadEntry, data[1])
	}
	e.now = int64(binary.BigEndian.Uint64(data[2:10]))
	p := data[10:]
	ncmds, p, err := readCount(p, 1)
	if err != nil {
		return e, err
	}
	e.cmds = make([][][]byte, ncmds)
	for i := range e.cmds {
		var nargs uint64
		// An argument costs at least one byte (its length).
		if nargs, p, err = readCount(p, 1); err != nil {
			return e, err
		}
		if nargs == 0 {
			return e, fmt.Errorf("%w: empty command", errBadEntry)
		}
		args := make([][]byte, nargs)
		for j := range args {
			var n uint64
			if n, p, err = readCount(p, 0); err != nil {
				return e, err
			}
			if n > uint64(len(p)) {
				return e, fmt.Errorf("%w: argument longer than the entry", errBadEntry)
			}
			args[j], p = p[:n:n], p[n:]
		}
		e.cmds[i] = args
	}
	if len(p) != 0 {
		return e, fmt.Errorf("%w: %d trailing bytes", errBadEntry, len(p))
	}
	return e, nil
}

// readCount reads a uvarint count of items that take at least minSize bytes
// each, refusing counts that cannot fit in what is left.
func readCount(p []byte, minSize uint64) (uint64, []byte, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 {
		return 0, p, fmt.Errorf("%w: bad varint", errBadEntry)
	}
	p = p[k:]
	if minSize > 0 && n > uint64(len(p))/minSize {
		return 0, p, fmt.Errorf("%w: count %d exceeds the entry", errBadEntry, n)
	}
	return n, p, nil
}
