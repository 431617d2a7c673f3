package store

import (
	"strconv"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("scan", cmdScan)
	registerInternal(CmdScan, false, cmdScanRange)
	register("hscan", cmdHScan)
}

// CmdScan is the internal read command the server uses to walk one shard's
// slot range for a client's SCAN:
//
//	raftcache.scan <cursor> <lastslot> [MATCH pattern] [COUNT count] [TYPE type]
//
// It is SCAN (see cmdScan) that stops after slot lastslot (0..16383): it
// returns whole slots from slot cursor on until it has visited COUNT keys
// or passed lastslot, and replies [next, [key ...]] where next is the
// decimal slot to continue from: lastslot+1 once lastslot is passed, or
// "0" when that would be 16384. A cursor of 16384 or more replies
// ["0", []]; a cursor past lastslot below that is an error, as is a
// lastslot that is not a slot. The options and their errors are SCAN's.
const CmdScan = "raftcache.scan"

// ScanArgs returns the arguments of a CmdScan read from slot cursor
// through slot last that visits up to count keys, with SCAN's other
// options (MATCH, TYPE) as the client gave them.
func ScanArgs(cursor, last int, count int64, opts [][]byte) [][]byte {
	a := make([][]byte, 0, 5+len(opts))
	a = append(a, []byte(CmdScan), strconv.AppendInt(nil, int64(cursor), 10), strconv.AppendInt(nil, int64(last), 10))
	a = append(a, opts...)
	return append(a, []byte("COUNT"), strconv.AppendInt(nil, count, 10))
}

// ParseScan decodes a CmdScan reply that is not an error: SCAN's next
// cursor (a bulk string) and the keys. ok is false for any other shape.
func ParseScan(r resp.Reply) (cursor resp.Reply, keys []resp.Reply, ok bool) {
	if r.Kind != resp.KindArray || len(r.Elems) != 2 || r.Elems[1].Kind != resp.KindArray {
		return resp.Reply{}, nil, false
	}
	return r.Elems[0], r.Elems[1].Elems, true
}

// defaultScanCount is SCAN's COUNT when none is given.
const defaultScanCount = 10

// scanOptions are the MATCH, COUNT and TYPE options of SCAN and HSCAN.
type scanOptions struct {
	pattern Glob
	count   int64
	typ     []byte // nil: any type
}

// parseScanOptions reads the options as Redis's scanGenericCommand does:
// COUNT must be an integer and at least 1, TYPE exists only for SCAN
// (withType), and a later option of the same name wins. An unknown TYPE
// name is not an error: it matches nothing, as in Redis 7.2.
func parseScanOptions(args [][]byte, withType bool) (scanOptions, *resp.Error) {
	o := scanOptions{pattern: matchAll, count: defaultScanCount}
	for i := 0; i < len(args); i += 2 {
		opt := args[i]
		if i+1 >= len(args) {
			return o, resp.ErrSyntax
		}
		switch {
		case resp.EqualFold(opt, "count"):
			n, ok := resp.ParseInt(args[i+1])
			if !ok {
				return o, resp.ErrNotInteger
			}
			if n < 1 {
				return o, resp.ErrSyntax
			}
			o.count = n
		case resp.EqualFold(opt, "match"):
			o.pattern = CompileGlob(args[i+1], false)
		case withType && resp.EqualFold(opt, "type"):
			o.typ = args[i+1]
		default:
			return o, resp.ErrSyntax
		}
	}
	return o, nil
}

// ParseCursor parses a SCAN cursor as Redis does with strtoul: an optional
// sign ('-' negates modulo 2^64), decimal digits and nothing else, no
// leading white space, and the empty string is 0. Past 2^64-1 it is
// invalid.
func ParseCursor(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, true
	}
	i, neg := 0, false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		i++
	}
	n, ok := resp.ParseDigits(b[i:])
	if !ok {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// cmdScan serves SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] on
// this store's whole keyspace. The cursor is the slot to start from: the
// reply holds every live key of whole slots (a slot is never split across
// calls) until COUNT keys were visited, and the next slot to visit, "0"
// after slot 16383. A key present from the first call to the last is thus
// returned exactly once, whatever is written in between; a key added or
// removed meanwhile may or may not be. MATCH and TYPE filter the keys
// visited, so a call may return fewer keys than COUNT, even none, before
// the end, as Redis's SCAN may.
func cmdScan(x exec, a [][]byte) resp.Reply {
	cursor, ok := ParseCursor(a[1])
	if !ok {
		return resp.ErrInvalidCursor.Reply()
	}
	o, err := parseScanOptions(a[2:], true)
	if err != nil {
		return err.Reply()
	}
	return x.scanSlots(cursor, NumSlots-1, o)
}

func cmdScanRange(x exec, a [][]byte) resp.Reply {
	if len(a) < 3 {
		return resp.ErrInternalArgs(CmdScan).Reply()
	}
	cursor, ok := ParseCursor(a[1])
	if !ok {
		return resp.ErrInvalidCursor.Reply()
	}
	last, ok := resp.ParseInt(a[2])
	if !ok || last < 0 || last >= NumSlots || (cursor > uint64(last) && cursor < NumSlots) {
		return resp.ErrInternalArgs(CmdScan).Reply()
	}
	o, err := parseScanOptions(a[3:], true)
	if err != nil {
		return err.Reply()
	}
	return x.scanSlots(cursor, int(last), o)
}

// scanSlots returns the keys of whole slots from cursor on, up to slot
// last, until o.count keys were visited.
func (x *exec) scanSlots(cursor uint64, last int, o scanOptions) resp.Reply {
	keys := []resp.Reply{}
	if cursor >= NumSlots {
		return scanReply(0, keys)
	}
	slot := int(cursor)
	var visited int64
	for slot <= last && visited < o.count {
		x.s.eachKey(slot, func(r *obj) bool {
			visited++
			if r.expired(x.now) || !o.pattern.MatchBytes(r.key()) ||
				(o.typ != nil && !resp.EqualFold(o.typ, typeName(r.enc))) {
				return true
			}
			keys = append(keys, bulkCopy(r.key()))
			return true
		})
		slot++
	}
	if slot == NumSlots {
		slot = 0
	}
	return scanReply(uint64(slot), keys)
}

func scanReply(cursor uint64, elems []resp.Reply) resp.Reply {
	return resp.Array(resp.Bulk(strconv.AppendUint(nil, cursor, 10)), resp.Array(elems...))
}

// cmdHScan serves HSCAN key cursor [MATCH pattern] [COUNT count]. It
// returns every matching field and value in one reply with the cursor
// "0", whatever the cursor and COUNT: Redis does the same for a listpack
// hash (in the listpack's order, as here), and a large hash comes back
// whole too, as HGETALL does. As in Redis, the cursor is checked first,
// then the key (a missing one ends the scan before the options are read).
func cmdHScan(x exec, a [][]byte) resp.Reply {
	if _, ok := ParseCursor(a[2]); !ok {
		return resp.ErrInvalidCursor.Reply()
	}
	h, found, err := x.hashRead(a[1])
	if err != nil {
		return err.Reply()
	}
	elems := []resp.Reply{}
	if !found {
		return scanReply(0, elems)
	}
	o, err := parseScanOptions(a[3:], false)
	if err != nil {
		return err.Reply()
	}
	buf := newReplyBuf(x.hashSize(&h))
	for _, p := range x.hashPairs(nil, &h) {
		if o.pattern.MatchBytes(p.field) {
			elems = append(elems, buf.bulk(p.field), buf.value(p.value, p.large))
		}
	}
	return scanReply(0, elems)
}
