package store

import "github.com/raftcache/raftcache/resp"

func init() {
	register("lcs", cmdLCS)
}

// cmdLCS ports Redis 7's lcsCommand: the types are checked before the
// options, a missing key is an empty string, and the table is the same
// dynamic programming table of uint32 lengths, refused past
// proto-max-bulk-len bytes as Redis refuses it. The ranges of IDX are
// found by walking the table back from its end, exactly as Redis walks
// it, so that ties resolve the same way.
func cmdLCS(x exec, args [][]byte) resp.Reply {
	ea, okA := x.lookup(args[1])
	eb, okB := x.lookup(args[2])
	var a, b []byte
	if okA {
		a = ea.val()
	}
	if okB {
		b = eb.val()
	}
	return lcsOf(a, b, okA && ea.isHash(), okB && eb.isHash(), args)
}

// LCSOf answers LCS (args, the whole command) for keys whose GET replies
// were a and b — a null for a missing key, WRONGTYPE for a hash — as a
// cross-shard LCS reads them.
func LCSOf(a, b resp.Reply, args [][]byte) resp.Reply {
	return lcsOf(a.Str, b.Str, a.IsError(), b.IsError(), args)
}

// lcsOf is LCS over the values a and b; aHash and bHash say a key holds
// a hash (an error, checked before the options as Redis checks it).
func lcsOf(a, b []byte, aHash, bHash bool, args [][]byte) resp.Reply {
	if aHash || bHash {
		return resp.ErrLCSNotStrings.Reply()
	}
	var getLen, getIdx, withMatchLen bool
	var minMatchLen int64
	for j := 3; j < len(args); j++ {
		opt := args[j]
		switch {
		case resp.EqualFold(opt, "idx"):
			getIdx = true
		case resp.EqualFold(opt, "len"):
			getLen = true
		case resp.EqualFold(opt, "withmatchlen"):
			withMatchLen = true
		case resp.EqualFold(opt, "minmatchlen") && j+1 < len(args):
			n, ok := resp.ParseInt(args[j+1])
			if !ok {
				return resp.ErrNotInteger.Reply()
			}
			minMatchLen = max(n, 0)
			j++
		default:
			return resp.ErrSyntax.Reply()
		}
	}
	if getIdx && getLen {
		return resp.ErrLCSLenAndIdx.Reply()
	}
	alen, blen := len(a), len(b)
	cells := uint64(alen+1) * uint64(blen+1)
	if cells*4 > maxBulkLen {
		return resp.ErrLCSMemory.Reply()
	}
	w := blen + 1
	lcs := make([]uint32, cells)
	for i := 1; i <= alen; i++ {
		for j := 1; j <= blen; j++ {
			if a[i-1] == b[j-1] {
				lcs[i*w+j] = lcs[(i-1)*w+j-1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i-1)*w+j], lcs[i*w+j-1])
			}
		}
	}
	total := lcs[alen*w+blen]
	if getLen {
		return resp.Int(int64(total))
	}

	result := make([]byte, total)
	idx := total
	var matches []resp.Reply
	// aStart == alen means no range is being tracked.
	aStart, aEnd, bStart, bEnd := alen, 0, 0, 0
	i, j := alen, blen
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			if aStart == alen {
				aStart, aEnd, bStart, bEnd = i-1, i-1, j-1, j-1
			} else if aStart == i && bStart == j {
				aStart--
				bStart--
			} else {
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if lcs[(i-1)*w+j] > lcs[i*w+j-1] {
				i--
			} else {
				j--
			}
			if aStart != alen {
				emit = true
			}
		}
		if emit {
			matchLen := int64(aEnd - aStart + 1)
			if getIdx && (minMatchLen == 0 || matchLen >= minMatchLen) {
				m := []resp.Reply{
					resp.Array(resp.Int(int64(aStart)), resp.Int(int64(aEnd))),
					resp.Array(resp.Int(int64(bStart)), resp.Int(int64(bEnd))),
				}
				if withMatchLen {
					m = append(m, resp.Int(matchLen))
				}
				matches = append(matches, resp.Array(m...))
			}
			aStart = alen
		}
	}
	if getIdx {
		return resp.Map(
			resp.BulkString("matches"), resp.Array(matches...),
			resp.BulkString("len"), resp.Int(int64(total)),
		)
	}
	return resp.Bulk(result)
}
