package store

import (
	"strconv"

	"github.com/raftcache/raftcache/resp"
)

// Moving a key between shards, for a cross-shard RENAME or COPY: the
// source shard reads the key's record with CmdExport (under the
// transaction's lock), and the destination shard writes it with
// CmdImport, keeping its encoding and expiry time as RENAME and COPY do
// inside one shard.

func init() {
	registerInternal(CmdExport, false, cmdExport)
	registerInternal(CmdImport, true, cmdImport)
}

const (
	// CmdExport reads a key's record: raftcache.export key. It replies a
	// null when the key is missing, else [encoding, expireAt, value],
	// where value is the string, or for a hash an array of fields and
	// values in the hash's order.
	CmdExport = "raftcache.export"
	// CmdImport writes a record CmdExport read, replacing the key:
	// raftcache.import key encoding expireAt value|field value ...
	CmdImport = "raftcache.import"
)

// ExportArgs returns the arguments of a CmdExport of key.
func ExportArgs(key []byte) [][]byte { return [][]byte{[]byte(CmdExport), key} }

// ImportArgs returns the arguments of a CmdImport of the record r (a
// CmdExport reply that is not null) as key; copy says the record is a
// copy (COPY), so a shared integer gets an object of its own as Redis
// copies it. ok is false when r is not a record.
func ImportArgs(key []byte, r resp.Reply, copy bool) (args [][]byte, ok bool) {
	if r.Kind != resp.KindArray || len(r.Elems) != 3 || r.Elems[0].Kind != resp.KindInt || r.Elems[1].Kind != resp.KindInt {
		return nil, false
	}
	enc := r.Elems[0].Int
	if copy && encoding(enc) == encIntShared {
		enc = int64(encInt)
	}
	args = [][]byte{[]byte(CmdImport), key, strconv.AppendInt(nil, enc, 10), strconv.AppendInt(nil, r.Elems[1].Int, 10)}
	switch v := r.Elems[2]; v.Kind {
	case resp.KindBulk:
		return append(args, v.Str), true
	case resp.KindArray:
		for _, e := range v.Elems {
			if e.Kind != resp.KindBulk {
				return nil, false
			}
			args = append(args, e.Str)
		}
		return args, len(v.Elems) > 0 && len(v.Elems)%2 == 0
	}
	return nil, false
}

func cmdExport(x exec, a [][]byte) resp.Reply {
	if len(a) != 2 {
		return resp.ErrInternalArgs(CmdExport).Reply()
	}
	o, ok := x.lookup(a[1])
	if !ok {
		return resp.Null
	}
	head := []resp.Reply{resp.Int(int64(o.enc)), resp.Int(o.expireAt)}
	switch o.enc {
	case encListpack:
		var fields []resp.Reply
		it := lpIterate(o.val())
		for f, v, ok := it.next(); ok; f, v, ok = it.next() {
			fields = append(fields, bulkCopy(f), bulkCopy(v))
		}
		return resp.Array(append(head, resp.Array(fields...))...)
	case encHashtable:
		var fields []resp.Reply
		bigEach(x.s.heap, x.s.bigOf(&o), func(f, v []byte) bool {
			fields = append(fields, bulkCopy(f), bulkCopy(v))
			return true
		})
		return resp.Array(append(head, resp.Array(fields...))...)
	}
	return resp.Array(append(head, bulkValue(o.val(), o.large()))...)
}

func cmdImport(x exec, a [][]byte) resp.Reply {
	if len(a) < 5 {
		return resp.ErrInternalArgs(CmdImport).Reply()
	}
	key := a[1]
	e, err1 := strconv.ParseUint(string(a[2]), 10, 8)
	expireAt, err2 := strconv.ParseInt(string(a[3]), 10, 64)
	enc := encoding(e)
	if err1 != nil || err2 != nil || enc > encHashtable || expireAt < 0 {
		return resp.ErrInternalArgs(CmdImport).Reply()
	}
	var val []byte
	switch {
	case enc.isHash():
		fv := a[4:]
		if len(fv)%2 != 0 {
			return resp.ErrInternalArgs(CmdImport).Reply()
		}
		pairs := x.s.pairs[:0]
		fits := len(fv)/2 <= hashMaxListpackEntry
		for i := 0; i < len(fv); i += 2 {
			pairs = append(pairs, pair{field: fv[i], value: fv[i+1]})
			fits = fits && fitsListpack(fv[i], fv[i+1])
		}
		x.s.pairs = pairs
		if enc == encListpack && !fits {
			enc = encHashtable // not what it was: as the hash's own conversion would
		}
		if enc == encListpack {
			val = lpEncode(nil, pairs)
		} else {
			c := &bigHash{}
			for _, p := range pairs {
				x.s.bigSet(c, p.field, p.value)
			}
			val = idBytes(x.s.newBig(c))
		}
	case len(a) != 5:
		return resp.ErrInternalArgs(CmdImport).Reply()
	default:
		val = a[4]
	}
	d, found := x.lookupWrite(key)
	if found && d.enc == encHashtable {
		x.s.bigFree(bigID(&d), x.s.bigOf(&d))
	}
	x.put(&d, key, enc, expireAt, val)
	return resp.OK
}
