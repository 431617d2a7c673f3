package store

import (
	"hash/maphash"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/raftcache/raftcache/resp"
)

// slotTable is the index of one slot's keys; gen is the snapshot generation
// that owns its entries array (see Store.ownSlot).
type slotTable struct {
	t   table
	gen uint32
}

// Store is the keyspace of one shard. Its methods are safe for concurrent
// use: writes (Apply, Restore, Flush) are serialised by an internal lock and
// exclude reads; reads run in parallel with each other.
//
// Writes must come in log order from one caller (the Raft FSM) for replicas
// to stay identical; the time a write carries is raised to the latest time
// already applied, so time never runs backwards inside the log.
type Store struct {
	mu sync.RWMutex
	// heap holds the records; mem lists it and any heap still read by a
	// snapshot after Flush or Restore replaced it.
	heap *heap
	mem  *heapSet
	// slots index the keys of each slot. The hash seed only places keys
	// in the tables: it changes no reply of a write (see DESIGN.md).
	slots   [NumSlots]slotTable
	seed    maphash.Seed
	keys    int // keys present, expired or not
	expires int // keys with a TTL
	lastNow int64

	// seq counts the applied write commands that changed something; each
	// changed key records it as its version, and each slot records in
	// deleteSeq the seq of its last removal. WATCH compares them (see
	// tx.go). Both are replicated state and are snapshotted.
	seq       uint64
	deleteSeq [NumSlots]uint64
	// stamped is set once the running command has taken its seq number,
	// so that a command changing many keys takes one number.
	stamped bool
	// aclHook applies CmdACL writes (see hook.go); nil on shards that do
	// not hold the ACL users.
	aclHook func(op []byte) resp.Reply

	// xtx holds cross-shard transactions' locks, records and decisions
	// (xtx.go); replicated and snapshotted.
	xtx xtxState

	// skip is set by a failing CmdTx guard: the number of commands that
	// follow it in the batch and must not run.
	skip int

	// snapGen counts snapshots taken; liveSnaps is how many are still
	// being written out. A slot table whose gen is behind snapGen may be
	// shared with a snapshot.
	snapGen   uint32
	liveSnaps int
	// snapSeq is seq when the latest snapshot was taken. A record whose
	// version is above it was written since, so no snapshot shares it
	// (see shared).
	snapSeq uint64

	// Scratch space of the writer, reused between commands.
	scratch []byte
	pairs   []pair

	// access is what access tracking follows (evict.go); hits and misses
	// count the read path's lookups, evicted the keys CmdEvict removed.
	access                atomic.Pointer[AccessParams]
	hits, misses, evicted atomic.Int64
	// Access hints (evict.go): reads sampled while hinting is on.
	hinting   atomic.Bool
	hintReads atomic.Uint64
	hintMu    sync.Mutex
	hints     [][]byte
}

// heapSet is every heap of a store not yet destroyed, the current one
// last. It is apart from the Store so that a collected Store's heaps can be
// handed back.
type heapSet struct{ heaps []*heap }

func (hs *heapSet) destroy() {
	for _, h := range hs.heaps {
		h.destroy()
	}
	hs.heaps = nil
}

// New returns an empty store. Its records live outside the Go heap; they
// are handed back when the store is collected.
func New() *Store {
	h := newHeap()
	s := &Store{heap: h, mem: &heapSet{heaps: []*heap{h}}, seed: maphash.MakeSeed()}
	runtime.AddCleanup(s, (*heapSet).destroy, s.mem)
	return s
}

// exec is the context one command runs in: the store and the time.
type exec struct {
	s   *Store
	now int64
	// read is set on the read path: its lookups count as hits and misses,
	// and, with access, as accesses (evict.go).
	read, access bool
}

// handler runs one command. It takes exec by value: a pointer passed
// through the function value would escape and cost every command an
// allocation.
type handler struct {
	fn    func(x exec, args [][]byte) resp.Reply
	write bool
	// touch says a read through it counts as an access (evict.go).
	touch bool
}

// handlers holds the store's handler of every command of resp's table it
// runs, indexed by the command's ID: the table is the one registry of
// commands, and it alone records whether one writes.
var handlers = make([]handler, resp.NumCommands())

// internal holds the store's own commands (raftcache.*), which no client
// can send: the cluster and the server reach them through the typed
// helpers that build their arguments (ScanArgs, VersionArgs, TxArgs, ...).
var internal = map[string]handler{}

// register adds the handler of a command of resp's table; a name the
// table lacks is a programming error and panics at initialisation.
func register(name string, fn func(x exec, args [][]byte) resp.Reply) {
	cmd := resp.Lookup([]byte(name))
	if cmd == nil {
		panic("store: handler for a command resp's table lacks: " + name)
	}
	handlers[cmd.ID] = handler{fn: fn, write: cmd.IsWrite(), touch: !noTouch[name]}
}

// registerInternal adds the handler of one of the store's own commands.
func registerInternal(name string, write bool, fn func(x exec, args [][]byte) resp.Reply) {
	if resp.Lookup([]byte(name)) != nil {
		panic("store: internal command shadows a table command: " + name)
	}
	internal[name] = handler{fn: fn, write: write, touch: !noTouch[name]}
}

func lookupHandler(name []byte) (handler, bool) {
	if cmd := resp.Lookup(name); cmd != nil {
		h := handlers[cmd.ID]
		return h, h.fn != nil
	}
	if h, ok := internal[string(name)]; ok {
		return h, true
	}
	h, ok := internal[strings.ToLower(string(name))]
	return h, ok
}

// Runs reports whether the store executes cmd, a top-level command of
// resp's table (a container such as OBJECT runs whole, subcommand
// included); whether it writes is cmd.IsWrite().
func Runs(cmd *resp.Command) bool {
	return cmd.ID < len(handlers) && handlers[cmd.ID].fn != nil
}

// Apply executes a batch of commands in order, as one atomic step, at the
// time now (Unix milliseconds, raised to the latest time already applied),
// appending one reply per command to replies. Arity must already have been
// checked against the command table. Apply copies every argument it keeps.
//
// A CmdTx guard in the batch governs the commands that follow it: when it
// fails they do not run and each gets a resp.Null reply (see tx.go).
func (s *Store) Apply(now int64, cmds [][][]byte, replies []resp.Reply) []resp.Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now < s.lastNow {
		now = s.lastNow
	}
	s.lastNow = now
	x := exec{s: s, now: now}
	for i := 0; i < len(cmds); i++ {
		s.stamped = false
		if len(s.xtx.locks) > 0 {
			if n, locked := s.xtx.lockedAt(cmds, i); locked {
				// Not run: the command (or a CmdTx guard and the n
				// commands it governs) names a key a cross-shard
				// transaction holds.
				replies = append(replies, ErrLocked.Reply())
				for range n {
					replies = append(replies, resp.Null)
				}
				i += n
				continue
			}
		}
		replies = append(replies, x.run(cmds[i]))
		if s.skip > 0 {
			n := min(s.skip, len(cmds)-1-i)
			s.skip = 0
			for range n {
				replies = append(replies, resp.Null)
			}
			i += n
		}
	}
	return replies
}

// Read executes one read-only command at the time now. A write command is
// refused with an error reply: writes go through Apply.
func (s *Store) Read(now int64, args [][]byte) resp.Reply {
	h, ok := lookupHandler(args[0])
	if !ok {
		return resp.ErrUnknownCommand(args).Reply()
	}
	if h.write {
		return resp.ErrWriteOnReadPath(args[0]).Reply()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.xtx.locks) > 0 && s.xtx.locked(args) {
		return ErrLocked.Reply()
	}
	x := exec{s: s, now: now, read: true, access: h.touch}
	return h.fn(x, args)
}

func (x *exec) run(args [][]byte) resp.Reply {
	h, ok := lookupHandler(args[0])
	if !ok {
		return resp.ErrUnknownCommand(args).Reply()
	}
	return h.fn(*x, args)
}

// LastNow returns the latest time applied by a write.
func (s *Store) LastNow() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastNow
}

// Stats is a summary of the keyspace for INFO.
type Stats struct {
	Keys    int
	Expires int
}

// Stats returns the number of keys (including expired keys not yet removed,
// as Redis counts them) and of keys with a TTL.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stats{Keys: s.keys, Expires: s.expires}
}

func (s *Store) hashKey(key []byte) uint64 { return maphash.Bytes(s.seed, key) }

// find fills o with the record of key in slot, expired or not, and
// reports whether there is one. Results go through o rather than being
// returned: obj is large, and GET's path is short.
func (s *Store) find(o *obj, slot int, hash uint64, key []byte) bool {
	o.slot = slot
	return findIn(o, s.heap, &s.slots[slot].t, hash, key)
}

// findIn fills o with the record of key in the table t over the heap h.
func findIn(o *obj, h *heap, t *table, hash uint64, key []byte) bool {
	o.hash, o.pos = hash, -1
	if t.n == 0 {
		return false
	}
	tag := tagOf(hash)
	for i := t.home(tag); ; {
		e := t.e[i]
		if e == 0 {
			return false
		}
		if e>>tagShift == tag {
			ref := e & refMask
			b := h.bytes(ref)
			klen, j := uvarintAt(b, recFixed)
			_, j = uvarintAt(b, j)
			if b[recFlags]&recTTL != 0 {
				j += 8
			}
			if string(b[j:j+klen]) == string(key) {
				o.decode(b)
				o.ref, o.pos = ref, i
				return true
			}
		}
		if i++; i == len(t.e) {
			i = 0
		}
	}
}

// lookup returns the live record of key, or false if it is missing or
// expired at x.now. It never changes the store, so reads may use it.
func (x *exec) lookup(key []byte) (o obj, ok bool) {
	ok = x.s.findLive(&o, key, x.now)
	if x.read {
		if !ok {
			x.s.misses.Add(1)
		} else {
			x.s.hits.Add(1)
			if x.access {
				x.s.touchAccess(&o, x.now)
				x.s.noteRead(key)
			}
		}
	}
	return o, ok
}

func (s *Store) findLive(o *obj, key []byte, now int64) bool {
	return s.find(o, SlotOf(key), s.hashKey(key), key) && !o.expired(now)
}

// lookupWrite returns the live record of key for a write, removing it
// first if it has expired. When the key is absent, the returned obj still
// carries its slot and hash (and pos -1) for put to create it. Only write
// handlers may call it.
func (x *exec) lookupWrite(key []byte) (o obj, ok bool) {
	ok = x.findWrite(&o, key)
	return o, ok
}

func (x *exec) findWrite(o *obj, key []byte) bool {
	if !x.s.find(o, SlotOf(key), x.s.hashKey(key), key) {
		return false
	}
	if o.expired(x.now) {
		x.s.remove(o)
		return false
	}
	x.s.touchAccess(o, x.now) // a write's lookup is an access, as in Redis
	return true
}

// shared reports whether a live snapshot may read a record of the given
// version: every record written since the latest snapshot has a higher
// version than snapSeq (writes stamp seq+1 and up).
func (s *Store) shared(version uint64) bool { return s.liveSnaps > 0 && version <= s.snapSeq }

// ownSlot makes the table of slot writable: if a live snapshot may still
// hold its entries, they are copied first.
func (s *Store) ownSlot(slot int) *table {
	st := &s.slots[slot]
	if st.gen != s.snapGen {
		if s.liveSnaps > 0 && st.t.e != nil {
			st.t = st.t.clone()
		}
		st.gen = s.snapGen
	}
	return &st.t
}

// put stores key's record with the given metadata and value (the parts
// concatenated), stamped as changed by the running command: it replaces o
// when o is present (o.pos >= 0), else creates the key in o's slot. The
// record is rewritten in place when no snapshot shares it and the chunk
// keeps its size class; otherwise it takes a new chunk and the old one is
// released. key and the parts must not alias o's record (callers copy
// such values to scratch first). On return o describes the new record.
func (x *exec) put(o *obj, key []byte, enc encoding, expireAt int64, parts ...[]byte) {
	s := x.s
	vlen := 0
	for _, p := range parts {
		vlen += len(p)
	}
	n := recordLen(len(key), vlen, expireAt != 0)
	m := recMeta{enc: enc, expireAt: expireAt, version: s.stamp(), lastWrite: uint32(x.now / 1000),
		access: newAccess(x.now)}
	if o.pos < 0 {
		ref, b := s.heap.alloc(n)
		writeRecord(b, m, key, vlen, parts...)
		t := s.ownSlot(o.slot)
		o.pos = t.insert(o.hash, ref)
		s.keys++
		if expireAt != 0 {
			s.expires++
		}
		o.ref = ref
		x.redecode(o)
		return
	}
	// The key keeps its access data (its write's lookup counted it).
	m.access = atomic.LoadUint32(accessWord(o.rec))
	wasShared := s.shared(o.version())
	if o.expireAt != 0 {
		s.expires--
	}
	if expireAt != 0 {
		s.expires++
	}
	if !wasShared && s.heap.fitsInPlace(o.ref, n) {
		writeRecord(s.heap.bytes(o.ref), m, key, vlen, parts...)
		x.redecode(o)
		return
	}
	ref, b := s.heap.alloc(n)
	writeRecord(b, m, key, vlen, parts...)
	t := s.ownSlot(o.slot)
	o.pos = s.position(t, o)
	s.heap.release(o.ref, wasShared)
	t.setRef(o.pos, ref)
	o.ref = ref
	x.redecode(o)
}

// redecode refreshes o from its chunk after a write.
func (x *exec) redecode(o *obj) { o.decode(x.s.heap.bytes(o.ref)) }

// touch stamps the live record o as changed by the running command,
// keeping its value.
func (x *exec) touch(o *obj, key []byte) {
	x.rewrite(o, key, o.enc, o.expireAt)
}

// rewrite writes o again with new metadata, keeping its value.
func (x *exec) rewrite(o *obj, key []byte, enc encoding, expireAt int64) {
	s := x.s
	if !s.shared(o.version()) && (o.expireAt != 0) == (expireAt != 0) {
		// Same layout: change the header in place.
		m := recMeta{enc: enc, expireAt: expireAt, version: s.stamp(), lastWrite: uint32(x.now / 1000)}
		writeHeader(o.rec, m)
		x.redecode(o)
		return
	}
	x.put(o, key, enc, expireAt, x.scratchCopy(o.val()))
}

// scratchCopy copies b to the writer's scratch space, for a value that
// must survive its record being rewritten. The copy is valid until the
// next scratchCopy.
func (x *exec) scratchCopy(b []byte) []byte {
	x.s.scratch = append(x.s.scratch[:0], b...)
	return x.s.scratch
}

// remove deletes the record o (present) and its large hash, if any. A
// removal is a change: it stamps the slot's deleteSeq. Positions held in
// the slot's table are invalid afterwards.
func (s *Store) remove(o *obj) {
	if o.enc == encHashtable {
		s.bigFree(bigID(o), s.bigOf(o))
	}
	s.heap.release(o.ref, s.shared(o.version()))
	s.removeEntry(o)
}

// removeEntry takes o out of its slot's table, whose chunk the caller has
// released.
func (s *Store) removeEntry(o *obj) {
	t := s.ownSlot(o.slot)
	t.remove(s.position(t, o))
	s.keys--
	if o.expireAt != 0 {
		s.expires--
	}
	s.deleteSeq[o.slot] = s.stamp()
	o.pos = -1
}

// position returns where o's entry is in t, its slot's table: o.pos,
// unless a removal in the table has moved it since o was looked up.
func (s *Store) position(t *table, o *obj) int {
	i := t.locate(o.hash, o.ref, o.pos)
	if i < 0 {
		panic("store: a record's table entry is missing") // an invariant, not input
	}
	return i
}

// stamp returns the seq number of the running write command, taking a new
// one the first time the command changes something.
func (s *Store) stamp() uint64 {
	if !s.stamped {
		s.seq++
		s.stamped = true
	}
	return s.seq
}

// Flush removes every key, as FLUSHALL does.
func (s *Store) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stamped = false
	s.flushLocked()
}

// flushLocked removes every key. Each slot that held a key records the
// removal in deleteSeq, so that WATCH sees it; an empty slot changes
// nothing, as Redis's FLUSHALL touches only the watched keys that existed.
func (s *Store) flushLocked() {
	for i := range s.slots {
		if s.slots[i].t.n > 0 {
			s.deleteSeq[i] = s.stamp()
		}
		s.slots[i] = slotTable{gen: s.snapGen}
	}
	s.replaceHeap(newHeap())
	s.keys = 0
	s.expires = 0
}

// replaceHeap makes h the store's heap. The old one is destroyed now, or
// with the last live snapshot, which may still read it.
func (s *Store) replaceHeap(h *heap) {
	if s.liveSnaps == 0 {
		s.heap.destroy()
		s.mem.heaps = s.mem.heaps[:0]
	}
	s.heap = h
	s.mem.heaps = append(s.mem.heaps, h)
}

// snapshotsReleased runs when the last live snapshot is released: the
// chunks and heaps kept for the snapshots are freed.
func (s *Store) snapshotsReleased() {
	for _, h := range s.mem.heaps[:len(s.mem.heaps)-1] {
		h.destroy()
	}
	s.mem.heaps = append(s.mem.heaps[:0], s.heap)
	s.heap.flushPending()
}

// bulkCopy is a bulk reply holding a copy of b. A reply must not alias a
// class chunk: once the lock is released, the next write may rewrite it
// in place or reuse it (see DESIGN.md, "Replies").
func bulkCopy(b []byte) resp.Reply {
	return resp.Reply{Kind: resp.KindBulk, Str: append(make([]byte, 0, len(b)), b...)}
}

// bulkValue is a bulk reply of stored bytes b: a copy, or, when b is in a
// large chunk, b itself. A large chunk's bytes are never rewritten up to
// its record's length and the chunk is never reused (heap.fitsInPlace,
// heap.free), so a reply may hold them after the lock is released, as it
// may hold a string the old store kept, without a copy of a value that may
// be hundreds of megabytes.
func bulkValue(b []byte, large bool) resp.Reply {
	if large {
		return resp.Reply{Kind: resp.KindBulk, Str: b[:len(b):len(b)]}
	}
	return bulkCopy(b)
}

func (o *obj) large() bool { return o.ref&refLarge != 0 }

// replyBuf copies the stored bytes of a multi-element reply into one
// allocation.
type replyBuf struct{ b []byte }

func newReplyBuf(size int) replyBuf { return replyBuf{b: make([]byte, 0, size)} }

func (r *replyBuf) bulk(v []byte) resp.Reply {
	start := len(r.b)
	r.b = append(r.b, v...)
	return resp.Reply{Kind: resp.KindBulk, Str: r.b[start:len(r.b):len(r.b)]}
}

// value is bulkValue through the buffer.
func (r *replyBuf) value(v []byte, large bool) resp.Reply {
	if large {
		return bulkValue(v, true)
	}
	return r.bulk(v)
}
