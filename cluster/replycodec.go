package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/raftcache/raftcache/resp"
)

// Replies travel between nodes (forwarded commands) in a compact binary
// form: kind(1), then by kind an integer (varint), a float (8 bytes), a
// string (uvarint length and bytes) or elements (uvarint count, each
// encoded the same way).

var errBadReply = errors.New("malformed reply encoding")

// maxReplyDepth bounds nesting so that a hostile peer cannot exhaust the
// stack; Redis replies nest a few levels at most.
const maxReplyDepth = 32

func appendReplies(dst []byte, rs []resp.Reply) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	for i := range rs {
		dst = appendReplyBin(dst, &rs[i])
	}
	return dst
}

func appendReplyBin(dst []byte, r *resp.Reply) []byte {
	dst = append(dst, byte(r.Kind))
	switch r.Kind {
	case resp.KindInt, resp.KindBool:
		dst = binary.AppendVarint(dst, r.Int)
	case resp.KindDouble:
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(r.Float))
	case resp.KindSimple, resp.KindError, resp.KindBulk, resp.KindVerbatim:
		dst = binary.AppendUvarint(dst, uint64(len(r.Str)))
		dst = append(dst, r.Str...)
	case resp.KindArray, resp.KindMap, resp.KindSet:
		dst = binary.AppendUvarint(dst, uint64(len(r.Elems)))
		for i := range r.Elems {
			dst = appendReplyBin(dst, &r.Elems[i])
		}
	}
	return dst
}

func decodeReplies(p []byte) ([]resp.Reply, error) {
	n, p, err := readCount(p, 1)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadReply, err)
	}
	out := make([]resp.Reply, n)
	for i := range out {
		if out[i], p, err = decodeReplyBin(p, 0); err != nil {
			return nil, err
		}
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadReply, len(p))
	}
	return out, nil
}

func decodeReplyBin(p []byte, depth int) (resp.Reply, []byte, error) {
	var r resp.Reply
	if len(p) == 0 || depth > maxReplyDepth {
		return r, p, fmt.Errorf("%w: truncated or too deep", errBadReply)
	}
	r.Kind = resp.Kind(p[0])
	p = p[1:]
	switch r.Kind {
	case resp.KindNull, resp.KindNullArray:
	case resp.KindInt, resp.KindBool:
		v, k := binary.Varint(p)
		if k <= 0 {
			return r, p, fmt.Errorf("%w: bad integer", errBadReply)
		}
		r.Int, p = v, p[k:]
	case resp.KindDouble:
		if len(p) < 8 {
			return r, p, fmt.Errorf("%w: short double", errBadReply)
		}
		r.Float, p = math.Float64frombits(binary.BigEndian.Uint64(p)), p[8:]
	case resp.KindSimple, resp.KindError, resp.KindBulk, resp.KindVerbatim:
		n, rest, err := readCount(p, 0)
		if err != nil || n > uint64(len(rest)) {
			return r, p, fmt.Errorf("%w: bad string", errBadReply)
		}
		r.Str, p = rest[:n:n], rest[n:]
	case resp.KindArray, resp.KindMap, resp.KindSet:
		n, rest, err := readCount(p, 1)
		if err != nil {
			return r, p, fmt.Errorf("%w: bad count", errBadReply)
		}
		p = rest
		r.Elems = make([]resp.Reply, n)
		for i := range r.Elems {
			if r.Elems[i], p, err = decodeReplyBin(p, depth+1); err != nil {
				return r, p, err
			}
		}
	default:
		return r, p, fmt.Errorf("%w: unknown kind %d", errBadReply, r.Kind)
	}
	return r, p, nil
}
