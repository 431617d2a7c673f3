package store

import (
	"maps"
	"strings"
	"sync"

	"github.com/raftcache/raftcache/resp"
)

// entry is one key's value. Exactly one of str and hash is in use: hash is
// nil for a string. expireAt is an absolute Unix time in milliseconds, 0 for
// no expiry. gen is the snapshot generation the entry belongs to (see
// Store.ownEntry).
//
// version is the store sequence number (Store.seq) of the last command
// that changed the key, which WATCH compares; lastWrite is that command's
// time, which OBJECT IDLETIME reports; enc is the encoding OBJECT ENCODING
// reports. All three are replicated state: every replica computes them
// from the log alone, and snapshots carry them.
//
// Bytes once published in str or in a hash field are never overwritten:
// writers replace slices, and APPEND only writes past the length of every
// slice handed out before. Replies can therefore alias them.
//
// The fields are sized so that an entry fits a 64-byte allocation: with a
// million keys every byte here is a megabyte.
type entry struct {
	str      []byte
	hash     map[string][]byte
	expireAt int64
	version  uint64
	// lastWrite is in Unix seconds: IDLETIME reports seconds, and 32 bits
	// last until 2106.
	lastWrite uint32
	gen       uint32
	enc       encoding
}

func (e *entry) isHash() bool { return e.hash != nil }

func (e *entry) expired(now int64) bool { return e.expireAt != 0 && e.expireAt <= now }

// keyspace is the map of one slot; gen is the snapshot generation that owns
// the map (see Store.ownSlot).
type keyspace struct {
	m   map[string]*entry
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
	mu      sync.RWMutex
	slots   [NumSlots]keyspace
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
	// skip is set by a failing CmdTx guard: the number of commands that
	// follow it in the batch and must not run.
	skip int

	// snapGen counts snapshots taken; liveSnaps is how many are still being
	// written out. Together they decide whether a map or an entry is shared
	// with a snapshot and must be copied before a write.
	snapGen   uint32
	liveSnaps int
}

// New returns an empty store.
func New() *Store { return &Store{} }

// exec is the context one command runs in: the store and the time.
type exec struct {
	s   *Store
	now int64
}

// handler runs one command. It takes exec by value: a pointer passed
// through the function value would escape and cost every command an
// allocation.
type handler struct {
	fn    func(x exec, args [][]byte) resp.Reply
	write bool
}

var handlers = map[string]handler{}

func register(name string, write bool, fn func(x exec, args [][]byte) resp.Reply) {
	handlers[name] = handler{fn: fn, write: write}
}

func lookupHandler(name []byte) (handler, bool) {
	var buf [32]byte
	if len(name) > len(buf) {
		h, ok := handlers[strings.ToLower(string(name))]
		return h, ok
	}
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	h, ok := handlers[string(buf[:len(name)])]
	return h, ok
}

// Supports reports whether the store executes the named command, and
// whether it writes.
func Supports(name []byte) (supported, write bool) {
	h, ok := lookupHandler(name)
	return ok, h.write
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
		return resp.NewError("ERR write command " + strings.ToLower(string(args[0])) + " sent to the read path").Reply()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	x := exec{s: s, now: now}
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

// lookup returns the live entry for key, or nil if it is missing or
// expired at x.now. It never changes the store, so reads may use it.
func (x *exec) lookup(key []byte) *entry {
	e := x.s.slots[SlotOf(key)].m[string(key)]
	if e == nil || e.expired(x.now) {
		return nil
	}
	return e
}

// lookupWrite returns the live entry for key ready to be changed, removing
// it first if it has expired. Only write handlers may call it.
func (x *exec) lookupWrite(key []byte) *entry {
	slot := SlotOf(key)
	ks := &x.s.slots[slot]
	e := ks.m[string(key)]
	if e == nil {
		return nil
	}
	if e.expired(x.now) {
		x.s.remove(slot, key)
		return nil
	}
	return x.s.ownEntry(slot, key, e)
}

// ownSlot makes the map of slot writable: if a live snapshot still holds
// it, the map is copied first.
func (s *Store) ownSlot(slot int) *keyspace {
	ks := &s.slots[slot]
	if ks.gen != s.snapGen {
		if s.liveSnaps > 0 && ks.m != nil {
			ks.m = maps.Clone(ks.m)
		}
		ks.gen = s.snapGen
	}
	if ks.m == nil {
		ks.m = make(map[string]*entry)
	}
	return ks
}

// ownEntry makes e writable, copying it (and its hash) if a live snapshot
// may still read it, and returns the entry to change. The copy's string
// has no spare capacity, so that an APPEND to it reallocates instead of
// writing into the array the snapshot's entry shares.
func (s *Store) ownEntry(slot int, key []byte, e *entry) *entry {
	if e.gen == s.snapGen {
		return e
	}
	ks := s.ownSlot(slot)
	if s.liveSnaps == 0 {
		e.gen = s.snapGen
		return e
	}
	c := *e
	c.gen = s.snapGen
	c.str = capped(e.str)
	if e.hash != nil {
		c.hash = maps.Clone(e.hash)
	}
	ks.m[string(key)] = &c
	return &c
}

// insert stores a new entry for key, replacing any previous one, and
// stamps it as changed by the running command.
func (x *exec) insert(key []byte, e *entry) {
	s := x.s
	slot := SlotOf(key)
	ks := s.ownSlot(slot)
	e.gen = s.snapGen
	x.changed(e)
	if old, ok := ks.m[string(key)]; ok {
		if old.expireAt != 0 {
			s.expires--
		}
	} else {
		s.keys++
	}
	if e.expireAt != 0 {
		s.expires++
	}
	ks.m[string(key)] = e
}

// remove deletes key from slot and reports whether it was present. A
// removal is a change: it stamps the slot's deleteSeq.
func (s *Store) remove(slot int, key []byte) bool {
	e, ok := s.slots[slot].m[string(key)]
	if !ok {
		return false
	}
	ks := s.ownSlot(slot)
	delete(ks.m, string(key))
	s.keys--
	if e.expireAt != 0 {
		s.expires--
	}
	s.deleteSeq[slot] = s.stamp()
	return true
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

// changed records that the running command changed the owned entry e.
func (x *exec) changed(e *entry) {
	e.version = x.s.stamp()
	e.lastWrite = uint32(x.now / 1000)
}

// setExpire changes the TTL of an owned entry, keeping the counts right.
func (s *Store) setExpire(e *entry, at int64) {
	if e.expireAt == 0 && at != 0 {
		s.expires++
	} else if e.expireAt != 0 && at == 0 {
		s.expires--
	}
	e.expireAt = at
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
		if len(s.slots[i].m) > 0 {
			s.deleteSeq[i] = s.stamp()
		}
		s.slots[i] = keyspace{gen: s.snapGen}
	}
	s.keys = 0
	s.expires = 0
}

// clone returns a copy of b that no other slice shares, so that APPEND on
// either never writes into the other's spare capacity.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// capped returns b without its spare capacity, for a second owner of the
// same bytes: an append through either then reallocates.
func capped(b []byte) []byte { return b[:len(b):len(b)] }
