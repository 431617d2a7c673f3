package store

import (
	"math"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("del", cmdDel)
	register("unlink", cmdDel)
	register("exists", cmdExists)
	register("touch", cmdExists)
	register("type", cmdType)
	register("dbsize", func(x exec, a [][]byte) resp.Reply { return resp.Int(int64(x.s.keys)) })
	register("flushall", cmdFlush)
	register("flushdb", cmdFlush)
	register("rename", func(x exec, a [][]byte) resp.Reply { return x.rename(a, false) })
	register("renamenx", func(x exec, a [][]byte) resp.Reply { return x.rename(a, true) })
	register("copy", cmdCopy)
	register("randomkey", cmdRandomKey)
	register("keys", cmdKeys)
	registerInternal(CmdDropExpired, true, cmdDropExpired)
}

// CmdDropExpired is the internal command a shard leader proposes to remove
// keys whose TTL has passed: "raftcache.dropexpired key [key ...]". Applied
// at the leader's time, it removes each listed key that is expired at that
// time and leaves the others, so every replica removes the same keys.
// The server never accepts it from a client: it is not in the command table.
const CmdDropExpired = "raftcache.dropexpired"

// DropExpiredArgs returns the CmdDropExpired command for keys.
func DropExpiredArgs(keys [][]byte) [][]byte {
	return append([][]byte{[]byte(CmdDropExpired)}, keys...)
}

// numDBs is Redis's default number of databases, which bounds COPY's DB
// argument before cluster mode refuses any but 0.
const numDBs = 16

func cmdDel(x exec, a [][]byte) resp.Reply {
	var n int64
	for _, key := range a[1:] {
		if o, ok := x.lookupWrite(key); ok {
			x.s.remove(&o)
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
		if _, ok := x.lookup(key); ok {
			n++
		}
	}
	return resp.Int(n)
}

// typeName is the name TYPE gives a value of encoding enc.
func typeName(enc encoding) string {
	if enc.isHash() {
		return "hash"
	}
	return "string"
}

func cmdType(x exec, a [][]byte) resp.Reply {
	o, ok := x.lookup(a[1])
	if !ok {
		return resp.Simple("none")
	}
	return resp.Simple(typeName(o.enc))
}

func cmdFlush(x exec, a [][]byte) resp.Reply {
	if len(a) > 2 || (len(a) == 2 && !resp.EqualFold(a[1], "sync") && !resp.EqualFold(a[1], "async")) {
		return resp.ErrSyntax.Reply()
	}
	x.s.flushLocked()
	return resp.OK
}

// rename serves RENAME and RENAMENX (nx). The value moves with its TTL and
// encoding; the destination, overwritten whatever its type, is stamped as
// changed and the source's slot records a removal. The value is copied
// into the destination's record (a key and its value share one chunk);
// a large hash keeps its fields and only changes hands.
func (x *exec) rename(a [][]byte, nx bool) resp.Reply {
	src, dst := a[1], a[2]
	o, ok := x.lookupWrite(src)
	if !ok {
		return resp.ErrNoSuchKey.Reply()
	}
	if string(src) == string(dst) {
		if nx {
			return resp.Zero
		}
		return resp.OK
	}
	if _, exists := x.lookupWrite(dst); exists && nx {
		return resp.Zero
	}
	// Looking dst up may have removed it (expired), which moves entries
	// of its slot: find src's place again.
	x.findWrite(&o, src)
	enc, expireAt := o.enc, o.expireAt
	var val []byte
	if enc == encHashtable {
		// The large hash changes hands: dst's record takes its id. Its
		// ownership goes by the hash's own seq (bigShared), so nothing
		// else changes.
		val = idBytes(bigID(&o))
	} else {
		val = x.scratchCopy(o.val())
	}
	x.s.heap.release(o.ref, x.s.shared(o.version()))
	x.s.removeEntry(&o)
	d, found := x.lookupWrite(dst)
	if found && d.enc == encHashtable {
		x.s.bigFree(bigID(&d), x.s.bigOf(&d))
	}
	x.put(&d, dst, enc, expireAt, val)
	if nx {
		return resp.One
	}
	return resp.OK
}

// ParseCopyOptions reads COPY's options (a is the whole command) as
// Redis 7's copyCommand does in cluster mode: DB must be an index below
// 16, and then only 0 is allowed. A refusal is the error reply.
func ParseCopyOptions(a [][]byte) (replace bool, refusal resp.Reply, ok bool) {
	var db int64
	for j := 3; j < len(a); j++ {
		switch {
		case resp.EqualFold(a[j], "replace"):
			replace = true
		case resp.EqualFold(a[j], "db") && j+1 < len(a):
			n, ok := resp.ParseInt(a[j+1])
			if !ok {
				return false, resp.ErrNotInteger.Reply(), false
			}
			if n < math.MinInt32 || n > math.MaxInt32 {
				return false, resp.ErrValueBetween(math.MinInt32, math.MaxInt32).Reply(), false
			}
			if n < 0 || n >= numDBs {
				return false, resp.ErrDBIndex.Reply(), false
			}
			db = n
			j++
		default:
			return false, resp.ErrSyntax.Reply(), false
		}
	}
	if db != 0 {
		return false, resp.ErrCopyCrossDB.Reply(), false
	}
	return replace, resp.Reply{}, true
}

// cmdCopy follows Redis 7's copyCommand in cluster mode: options first
// (DB must be an index below 16, and then only 0 is allowed), then the
// same-key check, whether or not the key exists.
func cmdCopy(x exec, a [][]byte) resp.Reply {
	replace, refusal, ok := ParseCopyOptions(a)
	if !ok {
		return refusal
	}
	src, dst := a[1], a[2]
	if string(src) == string(dst) {
		return resp.ErrSameObject.Reply()
	}
	o, ok := x.lookup(src)
	if !ok {
		return resp.Zero
	}
	if _, exists := x.lookupWrite(dst); exists && !replace {
		return resp.Zero
	}
	enc, expireAt := o.enc, o.expireAt
	if enc == encIntShared {
		enc = encInt // Redis copies a shared integer into an object of its own
	}
	var val []byte
	if enc == encHashtable {
		bh := x.s.bigOf(&o)
		c := &bigHash{}
		bigEach(x.s.heap, bh, func(f, v []byte) bool {
			x.s.bigSet(c, f, v)
			return true
		})
		val = idBytes(x.s.newBig(c))
	} else {
		val = x.scratchCopy(o.val())
	}
	// lookupWrite above may have removed an expired dst, which moves
	// entries of its slot: find dst's place again.
	d, found := x.lookupWrite(dst)
	if found && d.enc == encHashtable {
		x.s.bigFree(bigID(&d), x.s.bigOf(&d))
	}
	x.put(&d, dst, enc, expireAt, val)
	return resp.One
}

// cmdRandomKey is a read, so its randomness never reaches the log. It
// draws a live key as eviction samples one (randomRecord).
func cmdRandomKey(x exec, _ [][]byte) resp.Reply {
	if x.s.keys == 0 {
		return resp.Null
	}
	o, ok := x.s.randomRecord(func(o *obj) bool { return !o.expired(x.now) })
	if !ok {
		return resp.Null
	}
	return bulkCopy(o.key())
}

// eachKey calls fn for every record of slot in table order until fn
// returns false. fn must not change the store.
func (s *Store) eachKey(slot int, fn func(o *obj) bool) {
	t := &s.slots[slot].t
	for i, e := range t.e {
		if e == 0 {
			continue
		}
		o := decodeRecord(s.heap.bytes(e & refMask))
		o.ref, o.slot, o.pos = e&refMask, slot, i
		if !fn(&o) {
			return
		}
	}
}

// cmdKeys lists this store's live keys that match the pattern; the server
// merges the shards' lists.
func cmdKeys(x exec, a [][]byte) resp.Reply {
	g := CompileGlob(a[1], false)
	elems := []resp.Reply{}
	for slot := range x.s.slots {
		x.s.eachKey(slot, func(o *obj) bool {
			if !o.expired(x.now) && g.MatchBytes(o.key()) {
				elems = append(elems, bulkCopy(o.key()))
			}
			return true
		})
	}
	return resp.Reply{Kind: resp.KindArray, Elems: elems}
}

func cmdDropExpired(x exec, a [][]byte) resp.Reply {
	var n int64
	for _, key := range a[1:] {
		slot := SlotOf(key)
		var o obj
		if x.s.find(&o, slot, x.s.hashKey(key), key) && o.expired(x.now) {
			x.s.remove(&o)
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
		s.eachKey(slot, func(o *obj) bool {
			if o.expired(now) {
				keys = append(keys, append([]byte(nil), o.key()...))
			}
			return len(keys) < limit
		})
		slot = (slot + 1) % NumSlots
	}
	return keys, slot
}
