package store

import (
	"math"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("del", true, cmdDel)
	register("unlink", true, cmdDel)
	register("exists", false, cmdExists)
	register("expire", true, func(x exec, a [][]byte) resp.Reply { return x.expire(a, 0, 1000) })
	register("pexpire", true, func(x exec, a [][]byte) resp.Reply { return x.expire(a, 0, 1) })
	register("expireat", true, func(x exec, a [][]byte) resp.Reply { return x.expire(a, -1, 1000) })
	register("pexpireat", true, func(x exec, a [][]byte) resp.Reply { return x.expire(a, -1, 1) })
	register("ttl", false, func(x exec, a [][]byte) resp.Reply { return x.ttl(a[1], 1000) })
	register("pttl", false, func(x exec, a [][]byte) resp.Reply { return x.ttl(a[1], 1) })
	register("persist", true, cmdPersist)
	register("dbsize", false, func(x exec, a [][]byte) resp.Reply { return resp.Int(int64(x.s.keys)) })
	register("flushall", true, cmdFlush)
	register("flushdb", true, cmdFlush)
	register(CmdDropExpired, true, cmdDropExpired)
}

// CmdDropExpired is the internal command a shard leader proposes to remove
// keys whose TTL has passed: "raftcache.dropexpired key [key ...]". Applied
// at the leader's time, it removes each listed key that is expired at that
// time and leaves the others, so every replica removes the same keys.
// The server never accepts it from a client: it is not in the command table.
const CmdDropExpired = "raftcache.dropexpired"

func cmdDel(x exec, a [][]byte) resp.Reply {
	var n int64
	for _, key := range a[1:] {
		if x.lookupWrite(key) != nil {
			x.s.remove(SlotOf(key), key)
			n++
		}
	}
	return resp.Int(n)
}

func cmdExists(x exec, a [][]byte) resp.Reply {
	var n int64
	for _, key := range a[1:] {
		if x.lookup(key) != nil {
			n++
		}
	}
	return resp.Int(n)
}

// expire implements EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT. base is 0 for
// the relative forms (the command's time is added) and -1 for the absolute
// ones; unit is 1000 for seconds and 1 for milliseconds.
func (x *exec) expire(a [][]byte, base int64, unit int64) resp.Reply {
	name := string(a[0])
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
			return resp.ErrInvalidExpireTime(name).Reply()
		}
		when *= 1000
	}
	if base == 0 {
		if when > math.MaxInt64-x.now {
			return resp.ErrInvalidExpireTime(name).Reply()
		}
		when += x.now
	}
	e := x.lookupWrite(a[1])
	if e == nil {
		return resp.Zero
	}
	cur := e.expireAt
	switch {
	case nx && cur != 0,
		xx && cur == 0,
		gt && (cur == 0 || when <= cur),
		lt && cur != 0 && when >= cur:
		return resp.Zero
	}
	if when <= x.now {
		x.s.remove(SlotOf(a[1]), a[1])
		return resp.One
	}
	x.s.setExpire(e, when)
	return resp.One
}

// ttl implements TTL (unit 1000) and PTTL (unit 1): -2 for a missing key,
// -1 for a key without expiry, else the time left, rounded as Redis does.
func (x *exec) ttl(key []byte, unit int64) resp.Reply {
	e := x.lookup(key)
	if e == nil {
		return resp.Int(-2)
	}
	if e.expireAt == 0 {
		return resp.Int(-1)
	}
	left := e.expireAt - x.now
	if left < 0 {
		left = 0
	}
	if unit == 1000 {
		return resp.Int((left + 500) / 1000)
	}
	return resp.Int(left)
}

func cmdPersist(x exec, a [][]byte) resp.Reply {
	e := x.lookupWrite(a[1])
	if e == nil || e.expireAt == 0 {
		return resp.Zero
	}
	x.s.setExpire(e, 0)
	return resp.One
}

func cmdFlush(x exec, a [][]byte) resp.Reply {
	if len(a) > 2 || (len(a) == 2 && !resp.EqualFold(a[1], "sync") && !resp.EqualFold(a[1], "async")) {
		return resp.ErrSyntax.Reply()
	}
	x.s.flushLocked()
	return resp.OK
}

func cmdDropExpired(x exec, a [][]byte) resp.Reply {
	var n int64
	for _, key := range a[1:] {
		slot := SlotOf(key)
		if e := x.s.slots[slot].m[string(key)]; e != nil && e.expired(x.now) {
			x.s.remove(slot, key)
			n++
		}
	}
	return resp.Int(n)
}

// ExpiredKeys returns up to limit keys that have expired at now, for the
// shard leader to remove through the log with CmdDropExpired. It starts at
// slot from and returns the slot to continue from, so that successive calls
// sweep the whole keyspace with bounded work each.
func (s *Store) ExpiredKeys(now int64, from, limit int) (keys [][]byte, next int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.expires == 0 {
		return nil, from
	}
	slot := from
	for scanned := 0; scanned < NumSlots && len(keys) < limit; scanned++ {
		for k, e := range s.slots[slot].m {
			if e.expired(now) {
				keys = append(keys, []byte(k))
				if len(keys) == limit {
					break
				}
			}
		}
		slot = (slot + 1) % NumSlots
	}
	return keys, slot
}
