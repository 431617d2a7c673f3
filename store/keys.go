package store

import (
	"maps"
	"math"
	"math/rand/v2"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("del", true, cmdDel)
	register("unlink", true, cmdDel)
	register("exists", false, cmdExists)
	register("touch", false, cmdExists)
	register("type", false, cmdType)
	register("dbsize", false, func(x exec, a [][]byte) resp.Reply { return resp.Int(int64(x.s.keys)) })
	register("flushall", true, cmdFlush)
	register("flushdb", true, cmdFlush)
	register("rename", true, func(x exec, a [][]byte) resp.Reply { return x.rename(a, false) })
	register("renamenx", true, func(x exec, a [][]byte) resp.Reply { return x.rename(a, true) })
	register("copy", true, cmdCopy)
	register("randomkey", false, cmdRandomKey)
	register("keys", false, cmdKeys)
	register(CmdDropExpired, true, cmdDropExpired)
}

// CmdDropExpired is the internal command a shard leader proposes to remove
// keys whose TTL has passed: "raftcache.dropexpired key [key ...]". Applied
// at the leader's time, it removes each listed key that is expired at that
// time and leaves the others, so every replica removes the same keys.
// The server never accepts it from a client: it is not in the command table.
const CmdDropExpired = "raftcache.dropexpired"

// numDBs is Redis's default number of databases, which bounds COPY's DB
// argument before cluster mode refuses any but 0.
const numDBs = 16

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

// cmdExists serves EXISTS and TOUCH, which count the keys that exist, a
// repeated key as often as it is named. TOUCH is a read here: the last
// access time of a key is not replicated state (see OBJECT IDLETIME).
func cmdExists(x exec, a [][]byte) resp.Reply {
	var n int64
	for _, key := range a[1:] {
		if x.lookup(key) != nil {
			n++
		}
	}
	return resp.Int(n)
}

// typeName is the name TYPE gives the value of e.
func typeName(e *entry) string {
	if e.isHash() {
		return "hash"
	}
	return "string"
}

func cmdType(x exec, a [][]byte) resp.Reply {
	e := x.lookup(a[1])
	if e == nil {
		return resp.Simple("none")
	}
	return resp.Simple(typeName(e))
}

func cmdFlush(x exec, a [][]byte) resp.Reply {
	if len(a) > 2 || (len(a) == 2 && !resp.EqualFold(a[1], "sync") && !resp.EqualFold(a[1], "async")) {
		return resp.ErrSyntax.Reply()
	}
	x.s.flushLocked()
	return resp.OK
}

// rename serves RENAME and RENAMENX (nx). The entry moves with its value,
// TTL and encoding; the destination, overwritten whatever its type, is
// stamped as changed and the source's slot records a removal.
func (x *exec) rename(a [][]byte, nx bool) resp.Reply {
	src, dst := a[1], a[2]
	e := x.lookupWrite(src)
	if e == nil {
		return resp.ErrNoSuchKey.Reply()
	}
	if string(src) == string(dst) {
		if nx {
			return resp.Zero
		}
		return resp.OK
	}
	if x.lookupWrite(dst) != nil && nx {
		return resp.Zero
	}
	x.s.remove(SlotOf(src), src)
	x.insert(dst, e)
	if nx {
		return resp.One
	}
	return resp.OK
}

// cmdCopy follows Redis 7's copyCommand in cluster mode: options first
// (DB must be an index below 16, and then only 0 is allowed), then the
// same-key check, whether or not the key exists.
func cmdCopy(x exec, a [][]byte) resp.Reply {
	replace := false
	var db int64
	for j := 3; j < len(a); j++ {
		switch {
		case resp.EqualFold(a[j], "replace"):
			replace = true
		case resp.EqualFold(a[j], "db") && j+1 < len(a):
			n, ok := resp.ParseInt(a[j+1])
			if !ok {
				return resp.ErrNotInteger.Reply()
			}
			if n < math.MinInt32 || n > math.MaxInt32 {
				return resp.ErrValueBetween(math.MinInt32, math.MaxInt32).Reply()
			}
			if n < 0 || n >= numDBs {
				return resp.ErrDBIndex.Reply()
			}
			db = n
			j++
		default:
			return resp.ErrSyntax.Reply()
		}
	}
	if db != 0 {
		return resp.ErrCopyCrossDB.Reply()
	}
	src, dst := a[1], a[2]
	if string(src) == string(dst) {
		return resp.ErrSameObject.Reply()
	}
	e := x.lookup(src)
	if e == nil {
		return resp.Zero
	}
	if x.lookupWrite(dst) != nil && !replace {
		return resp.Zero
	}
	c := &entry{str: capped(e.str), expireAt: e.expireAt, enc: e.enc}
	if e.hash != nil {
		c.hash = maps.Clone(e.hash)
	}
	if c.enc == encIntShared {
		c.enc = encInt // Redis copies a shared integer into an object of its own
	}
	x.insert(dst, c)
	return resp.One
}

// cmdRandomKey is a read, so its randomness never reaches the log. It
// starts at a random slot and takes the first live key there (a map's
// iteration starts at a random entry), moving on past empty slots and
// expired keys.
func cmdRandomKey(x exec, _ [][]byte) resp.Reply {
	if x.s.keys == 0 {
		return resp.Null
	}
	start := rand.IntN(NumSlots)
	for i := range NumSlots {
		for k, e := range x.s.slots[(start+i)%NumSlots].m {
			if !e.expired(x.now) {
				return resp.BulkString(k)
			}
		}
	}
	return resp.Null
}

// cmdKeys lists this store's live keys that match the pattern; the server
// merges the shards' lists.
func cmdKeys(x exec, a [][]byte) resp.Reply {
	g := compileGlob(a[1])
	elems := []resp.Reply{}
	for slot := range x.s.slots {
		for k, e := range x.s.slots[slot].m {
			if !e.expired(x.now) && g.match(k) {
				elems = append(elems, resp.BulkString(k))
			}
		}
	}
	return resp.Reply{Kind: resp.KindArray, Elems: elems}
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
