package store

import (
	"math"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("expire", func(x exec, a [][]byte) resp.Reply { return x.expire(a, 0, 1000) })
	register("pexpire", func(x exec, a [][]byte) resp.Reply { return x.expire(a, 0, 1) })
	register("expireat", func(x exec, a [][]byte) resp.Reply { return x.expire(a, -1, 1000) })
	register("pexpireat", func(x exec, a [][]byte) resp.Reply { return x.expire(a, -1, 1) })
	register("ttl", func(x exec, a [][]byte) resp.Reply { return x.ttl(a[1], 1000, false) })
	register("pttl", func(x exec, a [][]byte) resp.Reply { return x.ttl(a[1], 1, false) })
	register("expiretime", func(x exec, a [][]byte) resp.Reply { return x.ttl(a[1], 1000, true) })
	register("pexpiretime", func(x exec, a [][]byte) resp.Reply { return x.ttl(a[1], 1, true) })
	register("persist", cmdPersist)
}

// expire implements EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT. base is 0 for
// the relative forms (the command's time is added) and -1 for the absolute
// ones; unit is 1000 for seconds and 1 for milliseconds.
func (x *exec) expire(a [][]byte, base int64, unit int64) resp.Reply {
	var nx, xx, gt, lt bool
	for _, opt := range a[3:] {
		switch {
		case resp.EqualFold(opt, "nx"):
			nx = true
		case resp.EqualFold(opt, "xx"):
			xx = true
		case resp.EqualFold(opt, "gt"):
			gt = true
		case resp.EqualFold(opt, "lt"):
			lt = true
		default:
			return resp.ErrUnsupportedOption(opt).Reply()
		}
	}
	if nx && (xx || gt || lt) {
		return resp.ErrExpireNXCombined.Reply()
	}
	if gt && lt {
		return resp.ErrExpireGTLT.Reply()
	}
	when, ok := resp.ParseInt(a[2])
	if !ok {
		return resp.ErrNotInteger.Reply()
	}
	if unit == 1000 {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			return resp.ErrInvalidExpireTime(string(a[0])).Reply()
		}
		when *= 1000
	}
	if base == 0 {
		if when > math.MaxInt64-x.now {
			return resp.ErrInvalidExpireTime(string(a[0])).Reply()
		}
		when += x.now
	}
	o, ok := x.lookupWrite(a[1])
	if !ok {
		return resp.Zero
	}
	cur := o.expireAt
	switch {
	case nx && cur != 0,
		xx && cur == 0,
		gt && (cur == 0 || when <= cur),
		lt && cur != 0 && when >= cur:
		return resp.Zero
	}
	if when <= x.now {
		x.s.remove(&o)
		return resp.One
	}
	x.rewrite(&o, a[1], o.enc, when)
	return resp.One
}

// ttl implements TTL and EXPIRETIME (unit 1000) and PTTL and PEXPIRETIME
// (unit 1, abs for the *EXPIRETIME forms): -2 for a missing key, -1 for a
// key without expiry, else the time left or the expiry time, in seconds
// rounded half up as Redis rounds them.
func (x *exec) ttl(key []byte, unit int64, abs bool) resp.Reply {
	o, ok := x.lookup(key)
	if !ok {
		return resp.Int(-2)
	}
	if o.expireAt == 0 {
		return resp.Int(-1)
	}
	t := o.expireAt
	if !abs {
		t = max(t-x.now, 0)
	}
	if unit == 1000 {
		return resp.Int(t/1000 + (t%1000+500)/1000)
	}
	return resp.Int(t)
}

func cmdPersist(x exec, a [][]byte) resp.Reply {
	o, ok := x.lookupWrite(a[1])
	if !ok || o.expireAt == 0 {
		return resp.Zero
	}
	x.rewrite(&o, a[1], o.enc, 0)
	return resp.One
}
