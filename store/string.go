package store

import (
	"encoding/binary"
	"math"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("get", cmdGet)
	register("set", cmdSet)
	register("setnx", cmdSetNX)
	register("setex", func(x exec, a [][]byte) resp.Reply { return x.setEx(a, "setex", unitEX) })
	register("psetex", func(x exec, a [][]byte) resp.Reply { return x.setEx(a, "psetex", unitPX) })
	register("getset", cmdGetSet)
	register("getdel", cmdGetDel)
	register("getex", cmdGetEx)
	register("mget", cmdMGet)
	register("mset", cmdMSet)
	register("msetnx", cmdMSetNX)
	register("append", cmdAppend)
	register("strlen", cmdStrlen)
	register("getrange", cmdGetRange)
	register("substr", cmdGetRange)
	register("setrange", cmdSetRange)
}

// maxBulkLen is Redis's default proto-max-bulk-len, the largest string
// APPEND and SETRANGE may build.
const maxBulkLen = 512 << 20

// stringRead returns the string at key for reading: false and no error
// when the key is missing, WRONGTYPE when it holds a hash.
func (x *exec) stringRead(key []byte) (obj, bool, *resp.Error) {
	o, ok := x.lookup(key)
	if ok && o.isHash() {
		return o, false, resp.ErrWrongType
	}
	return o, ok, nil
}

func cmdGet(x exec, a [][]byte) resp.Reply {
	o, ok := x.lookup(a[1])
	if !ok {
		return resp.Null
	}
	if o.isHash() {
		return resp.ErrWrongType.Reply()
	}
	return bulkValue(o.val(), o.large())
}

// setFlags are the options of SET (and of GETEX, which shares its
// grammar).
type setFlags struct {
	nx, xx, get, keepTTL, persist bool
	expireAt                      int64 // absolute ms; 0 when no expiry option was given
}

// Expiry option units, as a bit set so that the exclusions Redis applies
// can be checked in one test.
const (
	unitEX = 1 << iota
	unitPX
	unitEXAT
	unitPXAT
)

// parseSet reads SET's options (getex false) or GETEX's (getex true) from
// args, which follow the key (and the value for SET), and checks the
// expiry value: see parseSetGrammar and expireArg.
func (x *exec) parseSet(cmd string, args [][]byte, getex bool) (setFlags, *resp.Error) {
	f, unit, val, err := parseSetGrammar(args, getex)
	if err != nil {
		return f, err
	}
	if unit != 0 {
		if f.expireAt, err = x.expireArg(cmd, unit, val); err != nil {
			return f, err
		}
	}
	return f, nil
}

// parseSetGrammar follows Redis's parseExtendedStringArgumentsOrReply: the
// same expiry unit may repeat (the last wins), different units, KEEPTTL
// and PERSIST exclude each other. It returns the expiry unit and value
// unchecked: SET checks the value before it looks at the key, GETEX after.
func parseSetGrammar(args [][]byte, getex bool) (f setFlags, unit int, val []byte, err *resp.Error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		hasNext := i+1 < len(args)
		switch {
		case !getex && resp.EqualFold(a, "nx") && !f.xx:
			f.nx = true
		case !getex && resp.EqualFold(a, "xx") && !f.nx:
			f.xx = true
		case !getex && resp.EqualFold(a, "get"):
			f.get = true
		case !getex && resp.EqualFold(a, "keepttl") && unit == 0:
			f.keepTTL = true
		case getex && resp.EqualFold(a, "persist") && unit == 0:
			f.persist = true
		case resp.EqualFold(a, "ex") && unit&^unitEX == 0 && !f.keepTTL && !f.persist && hasNext:
			unit, val = unitEX, args[i+1]
			i++
		case resp.EqualFold(a, "px") && unit&^unitPX == 0 && !f.keepTTL && !f.persist && hasNext:
			unit, val = unitPX, args[i+1]
			i++
		case resp.EqualFold(a, "exat") && unit&^unitEXAT == 0 && !f.keepTTL && !f.persist && hasNext:
			unit, val = unitEXAT, args[i+1]
			i++
		case resp.EqualFold(a, "pxat") && unit&^unitPXAT == 0 && !f.keepTTL && !f.persist && hasNext:
			unit, val = unitPXAT, args[i+1]
			i++
		default:
			return f, 0, nil, resp.ErrSyntax
		}
	}
	return f, unit, val, nil
}

// expireArg turns an expiry option's unit and value into an absolute time
// in milliseconds, with Redis's checks: the value must be a positive
// integer and the result must not overflow.
func (x *exec) expireArg(cmd string, unit int, val []byte) (int64, *resp.Error) {
	n, ok := resp.ParseInt(val)
	if !ok {
		return 0, resp.ErrNotInteger
	}
	seconds := unit == unitEX || unit == unitEXAT
	if n <= 0 || (seconds && n > math.MaxInt64/1000) {
		return 0, resp.ErrInvalidExpireTime(cmd)
	}
	if seconds {
		n *= 1000
	}
	if unit == unitEX || unit == unitPX {
		if n > math.MaxInt64-x.now {
			return 0, resp.ErrInvalidExpireTime(cmd)
		}
		n += x.now
	}
	return n, nil
}

func cmdSet(x exec, a [][]byte) resp.Reply {
	f, err := x.parseSet("set", a[3:], false)
	if err != nil {
		return err.Reply()
	}
	return x.set(a[1], a[2], f)
}

// set stores value at key under the SET options f and returns SET's reply.
func (x *exec) set(key, value []byte, f setFlags) resp.Reply {
	old, found := x.lookupWrite(key)
	if f.get && found && old.isHash() {
		return resp.ErrWrongType.Reply()
	}
	reply := resp.OK
	if f.get {
		reply = resp.Null
		if found {
			reply = bulkValue(old.val(), old.large())
		}
	}
	if (f.nx && found) || (f.xx && !found) {
		if f.get {
			return reply
		}
		return resp.Null
	}
	var expireAt int64
	switch {
	case f.keepTTL && found:
		expireAt = old.expireAt
	case f.expireAt != 0:
		expireAt = f.expireAt
	}
	if expireAt != 0 && expireAt <= x.now {
		// An absolute time already past: Redis stores the key expired,
		// which is the same as not storing it.
		if found {
			x.s.remove(&old)
		}
		return reply
	}
	if found && old.enc == encHashtable {
		x.s.bigFree(bigID(&old), x.s.bigOf(&old)) // its fields go with it
	}
	x.put(&old, key, strEncoding(value), expireAt, value)
	return reply
}

func cmdSetNX(x exec, a [][]byte) resp.Reply {
	return resp.IntBool(x.set(a[1], a[2], setFlags{nx: true}).Kind == resp.KindSimple)
}

// setEx serves SETEX (unit EX) and PSETEX (unit PX): SET with a relative
// expiry that comes before the value.
func (x *exec) setEx(a [][]byte, name string, unit int) resp.Reply {
	at, err := x.expireArg(name, unit, a[2])
	if err != nil {
		return err.Reply()
	}
	return x.set(a[1], a[3], setFlags{expireAt: at})
}

func cmdGetSet(x exec, a [][]byte) resp.Reply {
	return x.set(a[1], a[2], setFlags{get: true})
}

func cmdGetDel(x exec, a [][]byte) resp.Reply {
	o, ok := x.lookupWrite(a[1])
	if !ok {
		return resp.Null
	}
	if o.isHash() {
		return resp.ErrWrongType.Reply()
	}
	reply := bulkValue(o.val(), o.large())
	x.s.remove(&o)
	return reply
}

// cmdGetEx follows Redis's order: the grammar, then the key (missing is a
// null, whatever the expiry value), its type, and only then the value.
func cmdGetEx(x exec, a [][]byte) resp.Reply {
	f, unit, val, err := parseSetGrammar(a[2:], true)
	if err != nil {
		return err.Reply()
	}
	key := a[1]
	o, ok := x.lookupWrite(key)
	if !ok {
		return resp.Null
	}
	if o.isHash() {
		return resp.ErrWrongType.Reply()
	}
	reply := bulkValue(o.val(), o.large())
	switch {
	case unit != 0:
		at, err := x.expireArg("getex", unit, val)
		if err != nil {
			return err.Reply()
		}
		if at <= x.now {
			x.s.remove(&o)
			return reply
		}
		x.rewrite(&o, key, o.enc, at)
	case f.persist && o.expireAt != 0:
		x.rewrite(&o, key, o.enc, 0)
	}
	return reply
}

func cmdMGet(x exec, a [][]byte) resp.Reply {
	elems := make([]resp.Reply, len(a)-1)
	small := make([][]byte, len(elems)) // values to copy, nil for none
	size := 0
	for i, key := range a[1:] {
		elems[i] = resp.Null
		if o, ok := x.lookup(key); ok && !o.isHash() {
			if o.large() {
				elems[i] = bulkValue(o.val(), true)
			} else {
				small[i] = o.val()
				size += len(small[i])
			}
		}
	}
	buf := newReplyBuf(size)
	for i, v := range small {
		if v != nil {
			elems[i] = buf.bulk(v)
		}
	}
	return resp.Reply{Kind: resp.KindArray, Elems: elems}
}

func cmdMSet(x exec, a [][]byte) resp.Reply {
	if len(a)%2 == 0 {
		return resp.ErrWrongArgs(string(a[0])).Reply()
	}
	for i := 1; i < len(a); i += 2 {
		x.set(a[i], a[i+1], setFlags{})
	}
	return resp.OK
}

func cmdMSetNX(x exec, a [][]byte) resp.Reply {
	if len(a)%2 == 0 {
		return resp.ErrWrongArgs(string(a[0])).Reply()
	}
	for i := 1; i < len(a); i += 2 {
		if _, ok := x.lookup(a[i]); ok {
			return resp.Zero
		}
	}
	for i := 1; i < len(a); i += 2 {
		x.set(a[i], a[i+1], setFlags{})
	}
	return resp.One
}

// cmdAppend builds the longer string in a new chunk, or in place when no
// snapshot shares the record and its chunk has room. Like Redis, an
// appended string is raw, even after appending nothing.
func cmdAppend(x exec, a [][]byte) resp.Reply {
	key, val := a[1], a[2]
	o, ok := x.lookupWrite(key)
	if !ok {
		x.put(&o, key, strEncoding(val), 0, val)
		return resp.Int(int64(len(val)))
	}
	if o.isHash() {
		return resp.ErrWrongType.Reply()
	}
	old := o.val()
	if len(old)+len(val) > maxBulkLen {
		return resp.ErrStringTooLong.Reply()
	}
	if x.appendInPlace(&o, val) {
		return resp.Int(int64(len(o.val())))
	}
	total := len(old) + len(val)
	x.s.scratch = append(append(x.s.scratch[:0], old...), val...)
	x.put(&o, key, encRaw, o.expireAt, x.s.scratch)
	return resp.Int(int64(total))
}

// appendInPlace appends val to the owned string o when its chunk can take
// it and the header keeps its layout, so that a string built by many
// APPENDs is not copied each time (a large chunk grows as a Go slice does,
// by a factor).
func (x *exec) appendInPlace(o *obj, val []byte) bool {
	s := x.s
	oldLen := len(o.val())
	newLen := oldLen + len(val)
	if s.shared(o.version()) || uvarintLen(oldLen) != uvarintLen(newLen) {
		return false
	}
	n := len(o.rec) + len(val)
	var b []byte
	switch {
	case o.ref&refLarge != 0:
		b = s.heap.growLarge(o.ref, n)
	case n <= s.heap.chunkSize(o.ref):
		b = s.heap.bytes(o.ref)
	default:
		return false
	}
	copy(b[len(o.rec):n], val)
	_, i := uvarintAt(b, recFixed)
	binary.PutUvarint(b[i:], uint64(newLen))
	writeHeader(b, recMeta{enc: encRaw, expireAt: o.expireAt, version: s.stamp(), lastWrite: uint32(x.now / 1000)})
	x.redecode(o)
	return true
}

func cmdStrlen(x exec, a [][]byte) resp.Reply {
	o, ok, err := x.stringRead(a[1])
	if err != nil {
		return err.Reply()
	}
	if !ok {
		return resp.Zero
	}
	return resp.Int(int64(len(o.val())))
}

// cmdGetRange serves GETRANGE and SUBSTR with Redis 7's index rules: both
// ends inclusive, negative ones from the end, clamped to the string.
func cmdGetRange(x exec, a [][]byte) resp.Reply {
	start, ok1 := resp.ParseInt(a[2])
	end, ok2 := resp.ParseInt(a[3])
	if !ok1 || !ok2 {
		return resp.ErrNotInteger.Reply()
	}
	o, ok, err := x.stringRead(a[1])
	if err != nil {
		return err.Reply()
	}
	empty := resp.Reply{Kind: resp.KindBulk, Str: []byte{}}
	if !ok {
		return empty
	}
	v := o.val()
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		return empty
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return empty
	}
	return bulkValue(v[start:end+1], o.large())
}

// cmdSetRange writes the changed string, zero-padded as Redis pads it.
func cmdSetRange(x exec, a [][]byte) resp.Reply {
	key, val := a[1], a[3]
	off, ok := resp.ParseInt(a[2])
	if !ok {
		return resp.ErrNotInteger.Reply()
	}
	if off < 0 {
		return resp.ErrOutOfRange.Reply()
	}
	o, found := x.lookupWrite(key)
	if found && o.isHash() {
		return resp.ErrWrongType.Reply()
	}
	if len(val) == 0 {
		if !found {
			return resp.Zero
		}
		return resp.Int(int64(len(o.val())))
	}
	if off > maxBulkLen-int64(len(val)) {
		return resp.ErrStringTooLong.Reply()
	}
	var old []byte
	var expireAt int64
	if found {
		old, expireAt = o.val(), o.expireAt
	}
	size := max(int64(len(old)), off+int64(len(val)))
	buf := append(x.s.scratch[:0], old...)
	buf = append(buf, make([]byte, size-int64(len(old)))...)
	copy(buf[off:], val)
	x.s.scratch = buf
	x.put(&o, key, encRaw, expireAt, buf)
	return resp.Int(size)
}
