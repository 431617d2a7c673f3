package store

import (
	"math"
	"strconv"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("get", false, cmdGet)
	register("set", true, cmdSet)
	register("incr", true, func(x exec, a [][]byte) resp.Reply { return x.incrBy(a[1], 1) })
	register("decr", true, func(x exec, a [][]byte) resp.Reply { return x.incrBy(a[1], -1) })
	register("incrby", true, cmdIncrBy)
	register("decrby", true, cmdDecrBy)
}

func cmdGet(x exec, a [][]byte) resp.Reply {
	e := x.lookup(a[1])
	if e == nil {
		return resp.Null
	}
	if e.isHash() {
		return resp.ErrWrongType.Reply()
	}
	return resp.Reply{Kind: resp.KindBulk, Str: e.str}
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
// args, which follow the key (and the value for SET). It follows Redis's
// parseExtendedStringArgumentsOrReply: the same expiry unit may repeat (the
// last wins), different units, KEEPTTL and PERSIST exclude each other, and
// the expiry value is checked only once the whole grammar has parsed.
func (x *exec) parseSet(cmd string, args [][]byte, getex bool) (setFlags, *resp.Error) {
	var f setFlags
	var unit int
	var val []byte
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
			return f, resp.ErrSyntax
		}
	}
	if unit != 0 {
		at, err := x.expireArg(cmd, unit, val)
		if err != nil {
			return f, err
		}
		f.expireAt = at
	}
	return f, nil
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
	old := x.lookupWrite(key)
	if f.get && old != nil && old.isHash() {
		return resp.ErrWrongType.Reply()
	}
	reply := resp.OK
	if f.get {
		reply = resp.Null
		if old != nil {
			reply = resp.Reply{Kind: resp.KindBulk, Str: old.str}
		}
	}
	if (f.nx && old != nil) || (f.xx && old == nil) {
		if f.get {
			return reply
		}
		return resp.Null
	}
	var expireAt int64
	switch {
	case f.keepTTL && old != nil:
		expireAt = old.expireAt
	case f.expireAt != 0:
		expireAt = f.expireAt
	}
	if expireAt != 0 && expireAt <= x.now {
		// An absolute time already past: Redis stores the key expired,
		// which is the same as not storing it.
		if old != nil {
			x.s.remove(SlotOf(key), key)
		}
		return reply
	}
	if old != nil {
		// old is owned (lookupWrite copied it if a snapshot holds it), so
		// it can take the new value in place, which spares the entry and
		// the key's allocations. Its old bytes stay as they were.
		old.str, old.hash = clone(value), nil
		x.s.setExpire(old, expireAt)
		return reply
	}
	x.s.insert(key, &entry{str: clone(value), expireAt: expireAt})
	return reply
}

func cmdIncrBy(x exec, a [][]byte) resp.Reply {
	n, ok := resp.ParseInt(a[2])
	if !ok {
		return resp.ErrNotInteger.Reply()
	}
	return x.incrBy(a[1], n)
}

func cmdDecrBy(x exec, a [][]byte) resp.Reply {
	n, ok := resp.ParseInt(a[2])
	if !ok || n == math.MinInt64 {
		if ok {
			return resp.NewError("ERR decrement would overflow").Reply()
		}
		return resp.ErrNotInteger.Reply()
	}
	return x.incrBy(a[1], -n)
}

// incrBy adds delta to the integer at key, creating it at 0, and keeps its
// TTL as Redis does.
func (x *exec) incrBy(key []byte, delta int64) resp.Reply {
	e := x.lookupWrite(key)
	var cur int64
	if e != nil {
		if e.isHash() {
			return resp.ErrWrongType.Reply()
		}
		v, ok := resp.ParseInt(e.str)
		if !ok {
			return resp.ErrNotInteger.Reply()
		}
		cur = v
	}
	if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
		return resp.ErrOverflow.Reply()
	}
	cur += delta
	val := strconv.AppendInt(nil, cur, 10)
	if e != nil {
		e.str = val
	} else {
		x.s.insert(key, &entry{str: val})
	}
	return resp.Int(cur)
}
