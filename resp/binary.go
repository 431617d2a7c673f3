package resp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Replies travel between nodes (forwarded commands) and sit in snapshots
// (cross-shard transactions' outcomes) in a compact binary form: kind(1), then by kind an integer (varint), a float (8 bytes), a
// string (uvarint length and bytes) or elements (uvarint count, each
// encoded the same way).

// ErrBadBinary is wrapped by the errors of DecodeReplies.
var ErrBadBinary = errors.New("malformed reply encoding")

// maxReplyDepth bounds nesting so that a hostile peer cannot exhaust the
// stack; Redis replies nest a few levels at most.
const maxReplyDepth = 32

// AppendReplies appends the binary form of rs to dst.
func AppendReplies(dst []byte, rs []Reply) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	for i := range rs {
		dst = appendBinary(dst, &rs[i])
	}
	return dst
}

func appendBinary(dst []byte, r *Reply) []byte {
	dst = append(dst, byte(r.Kind))
	switch r.Kind {
	case KindInt, KindBool:
		dst = binary.AppendVarint(dst, r.Int)
	case KindDouble:
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(r.Float))
	case KindSimple, KindError, KindBulk, KindVerbatim:
		dst = binary.AppendUvarint(dst, uint64(len(r.Str)))
		dst = append(dst, r.Str...)
	case KindArray, KindMap, KindSet:
		dst = binary.AppendUvarint(dst, uint64(len(r.Elems)))
		for i := range r.Elems {
			dst = appendBinary(dst, &r.Elems[i])
		}
	}
	return dst
}

// DecodeReplies decodes AppendReplies's form; strings alias p.
func DecodeReplies(p []byte) ([]Reply, error) {
	n, p, err := readCount(p, 1)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBinary, err)
	}
	out := make([]Reply, n)
	for i := range out {
		if out[i], p, err = decodeBinary(p, 0); err != nil {
			return nil, err
		}
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadBinary, len(p))
	}
	return out, nil
}

func decodeBinary(p []byte, depth int) (Reply, []byte, error) {
	var r Reply
	if len(p) == 0 || depth > maxReplyDepth {
		return r, p, fmt.Errorf("%w: truncated or too deep", ErrBadBinary)
	}
	r.Kind = Kind(p[0])
	p = p[1:]
	switch r.Kind {
	case KindNull, KindNullArray:
	case KindInt, KindBool:
		v, k := binary.Varint(p)
		if k <= 0 {
			return r, p, fmt.Errorf("%w: bad integer", ErrBadBinary)
		}
		r.Int, p = v, p[k:]
	case KindDouble:
		if len(p) < 8 {
			return r, p, fmt.Errorf("%w: short double", ErrBadBinary)
		}
		r.Float, p = math.Float64frombits(binary.BigEndian.Uint64(p)), p[8:]
	case KindSimple, KindError, KindBulk, KindVerbatim:
		n, rest, err := readCount(p, 0)
		if err != nil || n > uint64(len(rest)) {
			return r, p, fmt.Errorf("%w: bad string", ErrBadBinary)
		}
		r.Str, p = rest[:n:n], rest[n:]
	case KindArray, KindMap, KindSet:
		n, rest, err := readCount(p, 1)
		if err != nil {
			return r, p, fmt.Errorf("%w: bad count", ErrBadBinary)
		}
		p = rest
		r.Elems = make([]Reply, n)
		for i := range r.Elems {
			if r.Elems[i], p, err = decodeBinary(p, depth+1); err != nil {
				return r, p, err
			}
		}
	default:
		return r, p, fmt.Errorf("%w: unknown kind %d", ErrBadBinary, r.Kind)
	}
	return r, p, nil
}

// readCount reads a uvarint count of items at least minSize bytes each.
func readCount(p []byte, minSize uint64) (uint64, []byte, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 {
		return 0, p, errors.New("bad varint")
	}
	p = p[k:]
	if minSize > 0 && n > uint64(len(p))/minSize {
		return 0, p, fmt.Errorf("count %d exceeds the data", n)
	}
	return n, p, nil
}
