package store

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/raftcache/raftcache/resp"
)

// Eviction support. The store only keeps the data eviction decides with
// and applies the decisions; a shard's leader decides (cluster/evict.go).
//
// Access data: the first 4 bytes of every record (record.go) hold the
// time of its last access, in tenths of a second modulo 2^24 (bits 0–23:
// 19 days), and a
// logarithmic access counter (bits 24–31), as Redis keeps its LRU clock or
// LFU counter in the 24 bits of robj.lru, except that raftcache keeps both
// for every key, so that changing the policy needs no warm-up. Reads on
// this replica and writes update it; it is neither replicated nor
// snapshotted nor in DEBUG DIGEST, so replicas may differ in it freely.
// Reads run in parallel under the read lock, so the word is read and
// written atomically (records are 4-byte aligned).

// EvictPolicy is a maxmemory-policy.
type EvictPolicy uint8

// The maxmemory policies, as Redis names them.
const (
	NoEviction EvictPolicy = iota
	AllKeysLRU
	AllKeysLFU
	AllKeysRandom
	VolatileLRU
	VolatileLFU
	VolatileRandom
	VolatileTTL
)

var policyNames = [...]string{"noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}

func (p EvictPolicy) String() string { return policyNames[p] }

// ParseEvictPolicy parses a maxmemory-policy name, case-insensitively.
func ParseEvictPolicy(s string) (EvictPolicy, bool) {
	for i, n := range policyNames {
		if strings.EqualFold(s, n) {
			return EvictPolicy(i), true
		}
	}
	return NoEviction, false
}

// EvictPolicyNames lists the policies in Redis's order of its error text.
func EvictPolicyNames() []string {
	return []string{"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
		"allkeys-lfu", "allkeys-random", "noeviction"}
}

// Volatile reports whether the policy evicts only keys with a TTL.
func (p EvictPolicy) Volatile() bool { return p >= VolatileLRU }

// LFU reports whether the policy ranks keys by access frequency.
func (p EvictPolicy) LFU() bool { return p == AllKeysLFU || p == VolatileLFU }

// AccessParams are the settings access tracking follows: the policy (for
// OBJECT FREQ and IDLETIME, which Redis answers only under LFU and under
// the other policies respectively), lfu-log-factor and lfu-decay-time.
type AccessParams struct {
	Policy       EvictPolicy
	LFULogFactor int
	LFUDecayTime int // minutes per halving step of the counter; 0: never
}

// DefaultAccessParams are Redis's defaults.
var DefaultAccessParams = AccessParams{Policy: NoEviction, LFULogFactor: 10, LFUDecayTime: 1}

// SetAccessParams sets what access tracking follows. Safe at any time.
func (s *Store) SetAccessParams(p AccessParams) { s.access.Store(&p) }

func (s *Store) accessParams() *AccessParams {
	if p := s.access.Load(); p != nil {
		return p
	}
	return &DefaultAccessParams
}

const (
	lfuInitVal = 5 // a new key's counter, as Redis's LFU_INIT_VAL
	clockBits  = 24
	clockMask  = 1<<clockBits - 1
)

// clockUnit is the access clock's resolution in milliseconds: finer than
// Redis's second, so that sampled LRU tells apart keys used within the
// same second.
const clockUnit = 100

func clockOf(now int64) uint32 { return uint32(now/clockUnit) & clockMask }

// accessWord returns a pointer to the record's access word.
func accessWord(rec []byte) *uint32 { return (*uint32)(unsafe.Pointer(&rec[0])) }

// newAccess is the access word of a record created at now.
func newAccess(now int64) uint32 { return lfuInitVal<<clockBits | clockOf(now) }

// idleUnits is how long ago the access word's last access was, in clock
// units. A clock up to a minute behind the access (a reader whose clock
// lags the writer's) counts as no time at all; the clock wraps after 19
// days, so longer idle times read as shorter than they are.
func idleUnits(w uint32, now int64) int64 {
	d := (clockOf(now) - w&clockMask) & clockMask
	if d > clockMask-60_000/clockUnit {
		return 0
	}
	return int64(d)
}

// idleSeconds is idleUnits in whole seconds, as OBJECT IDLETIME says it.
func idleSeconds(w uint32, now int64) int64 { return idleUnits(w, now) * clockUnit / 1000 }

// decayed is the word's counter after lfu-decay-time's decrements for the
// minutes since its last access (Redis's LFUDecrAndReturn).
func decayed(w uint32, now int64, p *AccessParams) uint32 {
	counter := w >> clockBits
	if p.LFUDecayTime <= 0 {
		return counter
	}
	periods := uint32(idleUnits(w, now) * clockUnit / 60_000 / int64(p.LFUDecayTime))
	if periods >= counter {
		return 0
	}
	return counter - periods
}

// accessed is the word after an access at now: the counter decayed, then
// incremented with probability 1/((counter-init)*lfu-log-factor+1) (Redis's
// LFULogIncr), and the clock set to now.
func accessed(w uint32, now int64, p *AccessParams) uint32 {
	counter := decayed(w, now, p)
	if counter < 255 {
		base := float64(int(counter) - lfuInitVal)
		if base < 0 {
			base = 0
		}
		if rand.Float64() < 1/(base*float64(p.LFULogFactor)+1) {
			counter++
		}
	}
	return counter<<clockBits | clockOf(now)
}

// touchAccess records an access to o at now.
func (s *Store) touchAccess(o *obj, now int64) {
	w := accessWord(o.rec)
	atomic.StoreUint32(w, accessed(atomic.LoadUint32(w), now, s.accessParams()))
}

// KeyspaceStats are the read lookups' hits and misses and the keys
// removed by eviction, since the store was made.
type KeyspaceStats struct {
	Hits, Misses, Evicted int64
}

// KeyspaceStats returns the counters behind INFO's keyspace_hits,
// keyspace_misses and evicted_keys.
func (s *Store) KeyspaceStats() KeyspaceStats {
	return KeyspaceStats{Hits: s.hits.Load(), Misses: s.misses.Load(), Evicted: s.evicted.Load()}
}

// noTouch are the read commands that do not count as an access, as in
// Redis (LOOKUP_NOTOUCH): they ask about a key rather than use it.
var noTouch = map[string]bool{"exists": true, "type": true, "ttl": true, "pttl": true,
	"expiretime": true, "pexpiretime": true, "object": true, "memory": true, CmdVersion: true}

// Candidate is a key eviction may remove: Score ranks it (higher goes
// first), Version is the record's version when it was sampled (the
// eviction of a key written since does nothing), Size is its MEMORY USAGE.
type Candidate struct {
	Key     []byte
	Version uint64
	Score   uint64
	Size    int64
}

// Sample draws up to n keys at random, as Redis's eviction does, and
// appends them to out with their scores under policy p at now: idle time
// for the LRU policies, 255 minus the decayed counter (idle time breaking
// ties) for LFU, the nearness of the expiry for volatile-ttl, a random
// number for the random policies. Volatile policies sample only keys with
// a TTL. Keys are copied: out outlives the lock.
func (s *Store) Sample(p EvictPolicy, n int, now int64, out []Candidate) []Candidate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.keys == 0 || (p.Volatile() && s.expires == 0) {
		return out
	}
	params := s.accessParams()
	x := exec{s: s, now: now}
	for tries := 0; n > 0 && tries < 16*n+64; tries++ {
		o, ok := s.randomRecord(func(o *obj) bool { return !p.Volatile() || o.expireAt != 0 })
		if !ok {
			break
		}
		w := atomic.LoadUint32(accessWord(o.rec))
		var score uint64
		switch p {
		case AllKeysLRU, VolatileLRU:
			score = uint64(idleUnits(w, now))
		case AllKeysLFU, VolatileLFU:
			score = uint64(255-decayed(w, now, params))<<clockBits | uint64(idleUnits(w, now))
		case VolatileTTL:
			score = math.MaxUint64 - uint64(o.expireAt)
		default:
			score = rand.Uint64()
		}
		out = append(out, Candidate{Key: append([]byte(nil), o.key()...), Version: o.version(), Score: score,
			Size: x.usage(&o)})
		n--
	}
	return out
}

// randomRecord returns a key's record drawn nearly uniformly: a random
// position of a random slot's table, again if it is empty (tables are
// between a quarter and four fifths full, so every key has about the same
// chance). A store holds the keys of its shard's slots only, perhaps few:
// after 64 misses it takes the first key accept takes from a random point
// on (looking at 1024 keys at most), which favours keys after a run of
// empty slots. s.mu is held.
func (s *Store) randomRecord(accept func(o *obj) bool) (obj, bool) {
	for range 64 {
		slot := rand.IntN(NumSlots)
		t := &s.slots[slot].t
		if t.n == 0 {
			continue
		}
		pos := rand.IntN(len(t.e))
		if e := t.e[pos]; e != 0 {
			o := decodeRecord(s.heap.bytes(e & refMask))
			o.ref, o.slot, o.pos = e&refMask, slot, pos
			if accept(&o) {
				return o, true
			}
		}
	}
	start, budget := rand.IntN(NumSlots), 1024 // keys looked at, at most
	for i := range NumSlots {
		slot := (start + i) % NumSlots
		t := &s.slots[slot].t
		if t.n == 0 {
			continue
		}
		off := rand.IntN(len(t.e))
		for j := range t.e {
			pos := (off + j) % len(t.e)
			if e := t.e[pos]; e != 0 {
				o := decodeRecord(s.heap.bytes(e & refMask))
				o.ref, o.slot, o.pos = e&refMask, slot, pos
				if accept(&o) {
					return o, true
				}
				if budget--; budget == 0 {
					return obj{}, false
				}
			}
		}
	}
	return obj{}, false
}

// CmdEvict is the replicated removal of the keys a leader chose to
// evict: "raftcache.evict key version [key version ...]". A key goes only
// if its record still has the version it had when sampled, so a key
// written since its sampling stays; each replica removes the same keys.
// It answers how many went.
const CmdEvict = "raftcache.evict"

func init() { registerInternal(CmdEvict, true, cmdEvict) }

func cmdEvict(x exec, a [][]byte) resp.Reply {
	if len(a)%2 != 1 {
		return resp.ErrWrongArgs(CmdEvict).Reply()
	}
	n := int64(0)
	for i := 1; i+1 < len(a); i += 2 {
		if len(a[i+1]) != 8 {
			return resp.ErrSyntax.Reply()
		}
		var o obj
		if !x.s.find(&o, SlotOf(a[i]), x.s.hashKey(a[i]), a[i]) {
			continue
		}
		if o.version() != binary.BigEndian.Uint64(a[i+1]) {
			continue
		}
		if _, held := x.s.xtx.locks[string(a[i])]; held {
			continue // a cross-shard transaction holds it: not evicted under it
		}
		x.s.remove(&o)
		n++
	}
	x.s.evicted.Add(n)
	return resp.Int(n)
}

// Access hints: access data is kept per replica, and a follower never sees
// the reads its leader serves, so a new leader would judge keys by their
// writes alone and evict a hot set that is only read. The leader therefore
// notes one read in hintEvery (at most hintMax distinct keys between two
// hints), and cluster proposes them now and then as CmdTouch, which every
// replica applies as an access to those keys. It changes no value, version
// or digest.
const (
	hintEvery = 16
	hintMax   = 256
	// CmdTouch is "raftcache.touch key...": an access to each key, on
	// every replica.
	CmdTouch = "raftcache.touch"
)

func init() { registerInternal(CmdTouch, true, cmdTouch) }

func cmdTouch(x exec, a [][]byte) resp.Reply {
	n := int64(0)
	for _, key := range a[1:] {
		var o obj
		if x.s.find(&o, SlotOf(key), x.s.hashKey(key), key) {
			x.s.touchAccess(&o, x.now)
			n++
		}
	}
	return resp.Int(n)
}

// noteRead samples the reads of this replica for access hints.
func (s *Store) noteRead(key []byte) {
	if s.hintReads.Add(1)%hintEvery != 0 || !s.hinting.Load() {
		return
	}
	s.hintMu.Lock()
	defer s.hintMu.Unlock()
	if len(s.hints) < hintMax {
		s.hints = append(s.hints, append([]byte(nil), key...))
	}
}

// SetHinting turns the sampling of reads for access hints on or off
// (on only while this replica leads and eviction is on).
func (s *Store) SetHinting(on bool) { s.hinting.Store(on) }

// TakeHints returns the keys sampled since the last call, as a CmdTouch
// command, or nil when there are none.
func (s *Store) TakeHints() [][]byte {
	s.hintMu.Lock()
	keys := s.hints
	s.hints = nil
	s.hintMu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, bytes.Compare)
	keys = slices.CompactFunc(keys, bytes.Equal)
	return append([][]byte{[]byte(CmdTouch)}, keys...)
}

// EvictArgs builds the CmdEvict command for cands.
func EvictArgs(cands []Candidate) [][]byte {
	args := make([][]byte, 0, 1+2*len(cands))
	args = append(args, []byte(CmdEvict))
	for _, c := range cands {
		args = append(args, c.Key, binary.BigEndian.AppendUint64(nil, c.Version))
	}
	return args
}
