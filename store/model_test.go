package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

// The model is a plain reference keyspace: strings and hashes (fields in
// insertion order while the hash would be a listpack) with absolute
// expiry times. FuzzModel runs random command sequences against the store
// and the model and compares every reply, the whole contents, the
// store's counters and its heap accounting; it also snapshots in the
// middle of writes and checks that the snapshot restores the contents of
// its moment, and restores the store from itself.

type mpair struct{ f, v string }

type mval struct {
	str      string
	hash     []mpair // nil for a string
	table    bool    // the hash was converted to a hashtable
	expireAt int64
}

type model map[string]*mval

func (m model) live(k string, now int64) *mval {
	v := m[k]
	if v == nil || (v.expireAt != 0 && v.expireAt <= now) {
		return nil
	}
	return v
}

func (v *mval) field(f string) (int, bool) {
	for i, p := range v.hash {
		if p.f == f {
			return i, true
		}
	}
	return -1, false
}

// hset sets one field as Redis does, and converts the hash when it
// outgrows a listpack.
func (v *mval) hset(f, val string) bool {
	if len(f) > hashMaxListpackValue || len(val) > hashMaxListpackValue {
		v.table = true
	}
	if i, ok := v.field(f); ok {
		v.hash[i].v = val
		return false
	}
	v.hash = append(v.hash, mpair{f, val})
	if len(v.hash) > hashMaxListpackEntry {
		v.table = true
	}
	return true
}

// fuzzer turns bytes into choices.
type fuzzer struct {
	b []byte
	i int
}

func (z *fuzzer) next() int {
	if z.i >= len(z.b) {
		return 0
	}
	z.i++
	return int(z.b[z.i-1])
}
func (z *fuzzer) done() bool { return z.i >= len(z.b) }

var (
	// Most keys share a slot, so that its table is dense and removals
	// shift entries that other lookups of the same command hold.
	modelKeys = []string{"a", "b", "{a}c", "{a}d", "{a}e", "{a}f", "{a}g", "{a}h", "{a}i", "{a}j",
		"h", "{h}g", "big"}
	modelFields = []string{"f", "g", "name", "x1", "x2", ""}

	modelSizes = []int{0, 1, 3, 20, 64, 65, 100, 600, 5000, 33000, 70000}
)

func (z *fuzzer) key() string   { return modelKeys[z.next()%len(modelKeys)] }
func (z *fuzzer) field() string { return modelFields[z.next()%len(modelFields)] }
func (z *fuzzer) value() string {
	n := modelSizes[z.next()%len(modelSizes)]
	c := byte('a' + z.next()%26)
	return string(bytes.Repeat([]byte{c}, n))
}

func FuzzModel(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add(bytes.Repeat([]byte{13, 3, 9, 1, 40, 7}, 50))
	f.Add(bytes.Repeat([]byte{14, 3, 200, 2, 250, 17, 1, 30}, 40))
	seed := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		b := make([]byte, 600)
		for i := range b {
			b[i] = byte(seed.IntN(256))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runModel(t, data)
	})
}

// TestModelSequences runs long random sequences through the model check.
func TestModelSequences(t *testing.T) {
	n := 30
	if testing.Short() {
		n = 5
	}
	for i := range n {
		r := rand.New(rand.NewPCG(uint64(i), 99))
		b := make([]byte, 3000)
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		t.Run(strconv.Itoa(i), func(t *testing.T) { runModel(t, b) })
	}
}

func runModel(t *testing.T, data []byte) {
	z := &fuzzer{b: data}
	s := New()
	m := model{}
	now := int64(1_000_000)
	type pendingSnap struct {
		sn   *Snapshot
		want model
	}
	var snaps []pendingSnap
	for step := 0; !z.done() && step < 400; step++ {
		now += int64(z.next() % 3 * 700)
		op := z.next() % 22
		var cmd []string
		var want resp.Reply
		k := z.key()
		cur := m.live(k, now)
		// A write removes the expired key it meets (lookupWrite).
		purge := func(k string) {
			if m.live(k, now) == nil {
				delete(m, k)
			}
		}
		unordered := false
		switch op {
		case 0, 1: // SET k v [PX ms]
			purge(k)
			v := z.value()
			cmd = []string{"SET", k, v}
			want = resp.OK
			nv := &mval{str: v}
			if z.next()%3 == 0 {
				ms := int64(z.next()%5*500 + 1)
				cmd = append(cmd, "PX", strconv.FormatInt(ms, 10))
				nv.expireAt = now + ms
			}
			m[k] = nv
		case 2: // GET
			cmd = []string{"GET", k}
			want = resp.Null
			if cur != nil {
				want = resp.BulkString(cur.str)
				if cur.hash != nil {
					want = resp.ErrWrongType.Reply()
				}
			}
		case 3: // DEL
			purge(k)
			cmd = []string{"DEL", k}
			want = resp.Zero
			if cur != nil {
				want = resp.One
			}
			delete(m, k)
		case 4: // APPEND
			purge(k)
			v := z.value()
			cmd = []string{"APPEND", k, v}
			switch {
			case cur == nil:
				m[k] = &mval{str: v}
				want = resp.Int(int64(len(v)))
			case cur.hash != nil:
				want = resp.ErrWrongType.Reply()
			default:
				cur.str += v
				want = resp.Int(int64(len(cur.str)))
			}
		case 5: // INCR
			purge(k)
			cmd = []string{"INCR", k}
			switch {
			case cur == nil:
				m[k] = &mval{str: "1"}
				want = resp.One
			case cur.hash != nil:
				want = resp.ErrWrongType.Reply()
			default:
				n, err := strconv.ParseInt(cur.str, 10, 64)
				if err != nil || strconv.FormatInt(n, 10) != cur.str || n == 1<<63-1 {
					want = resp.Reply{Kind: resp.KindError}
					break
				}
				cur.str = strconv.FormatInt(n+1, 10)
				want = resp.Int(n + 1)
			}
		case 6: // PEXPIRE
			ms := int64(z.next()%4*400) - 100
			purge(k)
			cmd = []string{"PEXPIRE", k, strconv.FormatInt(ms, 10)}
			want = resp.Zero
			if cur != nil {
				want = resp.One
				if ms <= 0 {
					delete(m, k)
				} else {
					cur.expireAt = now + ms
				}
			}
		case 7: // PERSIST
			purge(k)
			cmd = []string{"PERSIST", k}
			want = resp.Zero
			if cur != nil && cur.expireAt != 0 {
				cur.expireAt = 0
				want = resp.One
			}
		case 8: // RENAME k k2
			k2 := z.key()
			cmd = []string{"RENAME", k, k2}
			purge(k)
			if cur == nil {
				want = resp.ErrNoSuchKey.Reply()
			} else {
				purge(k2)
				want = resp.OK
				delete(m, k)
				m[k2] = cur
			}
		case 9: // COPY k k2 REPLACE
			k2 := z.key()
			cmd = []string{"COPY", k, k2, "REPLACE"}
			switch {
			case k == k2:
				want = resp.ErrSameObject.Reply()
			case cur == nil:
				want = resp.Zero
			default:
				purge(k2)
				want = resp.One
				c := *cur
				c.hash = slices.Clone(cur.hash)
				m[k2] = &c
			}
		case 10, 11, 12: // HSET k f v [f v ...]
			purge(k)
			cmd = []string{"HSET", k}
			n := 1 + z.next()%3
			if z.next()%8 == 0 {
				n = 60 + z.next()%80 // past the listpack's 128 fields, at times
			}
			added := int64(0)
			var fields []mpair
			for i := range n {
				f, v := z.field(), z.value()
				if n > 3 {
					f = "m" + strconv.Itoa(i)
				}
				if len(v) > 200 {
					v = v[:z.next()%80]
				}
				cmd = append(cmd, f, v)
				fields = append(fields, mpair{f, v})
			}
			switch {
			case cur != nil && cur.hash == nil:
				want = resp.ErrWrongType.Reply()
			default:
				if cur == nil {
					cur = &mval{hash: []mpair{}}
					m[k] = cur
				}
				for _, p := range fields {
					if cur.hset(p.f, p.v) {
						added++
					}
				}
				want = resp.Int(added)
			}
		case 13: // HDEL k f...
			f1, f2 := z.field(), z.field()
			purge(k)
			cmd = []string{"HDEL", k, f1, f2}
			switch {
			case cur == nil:
				want = resp.Zero
			case cur.hash == nil:
				want = resp.ErrWrongType.Reply()
			default:
				n := int64(0)
				for _, f := range []string{f1, f2} {
					if i, ok := cur.field(f); ok {
						cur.hash = slices.Delete(cur.hash, i, i+1)
						n++
					}
				}
				if len(cur.hash) == 0 {
					delete(m, k)
				}
				want = resp.Int(n)
			}
		case 14: // HGET
			f := z.field()
			cmd = []string{"HGET", k, f}
			want = resp.Null
			if cur != nil {
				if cur.hash == nil {
					want = resp.ErrWrongType.Reply()
				} else if i, ok := cur.field(f); ok {
					want = resp.BulkString(cur.hash[i].v)
				}
			}
		case 15, 16: // HGETALL
			cmd = []string{"HGETALL", k}
			want = resp.Reply{Kind: resp.KindMap, Elems: []resp.Reply{}}
			if cur != nil {
				if cur.hash == nil {
					want = resp.ErrWrongType.Reply()
				} else {
					for _, p := range cur.hash {
						want.Elems = append(want.Elems, resp.BulkString(p.f), resp.BulkString(p.v))
					}
					unordered = cur.table
				}
			}
		case 17: // GETDEL
			purge(k)
			cmd = []string{"GETDEL", k}
			want = resp.Null
			if cur != nil {
				if cur.hash != nil {
					want = resp.ErrWrongType.Reply()
				} else {
					want = resp.BulkString(cur.str)
					delete(m, k)
				}
			}
		case 18: // snapshot now, written out later
			sn := s.Snapshot()
			snaps = append(snaps, pendingSnap{sn, cloneModel(m)})
		case 19: // write out and check the oldest snapshot
			if len(snaps) > 0 {
				p := snaps[0]
				snaps = snaps[1:]
				var buf bytes.Buffer
				if _, err := p.sn.WriteTo(&buf); err != nil {
					t.Fatal(err)
				}
				p.sn.Release()
				checkModel(t, restored(t, buf.Bytes()), p.want, "snapshot")
			}
		case 20: // the leader's expiry
			keys, _ := s.ExpiredKeys(now, 0, 100)
			args := []string{CmdDropExpired}
			for _, k := range keys {
				args = append(args, string(k))
			}
			if len(keys) > 0 {
				cmd = args
				want = resp.Int(int64(len(keys)))
			}
			for _, k := range keys {
				delete(m, string(k))
			}
		case 21: // restore the store from its own snapshot
			if len(snaps) == 0 {
				r := restored(t, snapshotBytes(t, s))
				s = r
			}
		}
		if cmd != nil {
			got := do(s, now, argv(cmd...))
			if !modelReplyEqual(got, want, unordered) {
				t.Fatalf("step %d at %d: %q: got %s, want %s", step, now, abbrev(cmd), fmtReply(got), fmtReply(want))
			}
		}
		if step%16 == 0 || op == 21 {
			checkCounts(t, s)
			checkModelLive(t, s, m, now)
		}
	}
	checkModelLive(t, s, m, now)
	for _, p := range snaps {
		p.sn.Release()
	}
	checkCounts(t, s)
	checkHeap(t, s)
}

func cloneModel(m model) model {
	c := model{}
	for k, v := range m {
		cv := *v
		cv.hash = slices.Clone(v.hash)
		c[k] = &cv
	}
	return c
}

// modelReplyEqual compares replies; an error reply with no text in want
// matches any error.
func modelReplyEqual(got, want resp.Reply, unordered bool) bool {
	if want.Kind == resp.KindError && want.Str == nil {
		return got.Kind == resp.KindError
	}
	return replyEqual(got, want) && fmtReply(got) == fmtReply(want) && (unordered || orderEqual(got, want))
}

// orderEqual compares map replies pair by pair in order (replyEqual does
// not): a listpack answers in insertion order.
func orderEqual(got, want resp.Reply) bool {
	if got.Kind != resp.KindMap {
		return true
	}
	for i := range got.Elems {
		if !bytes.Equal(got.Elems[i].Str, want.Elems[i].Str) {
			return false
		}
	}
	return true
}

// checkModelLive compares the store's contents, expired keys left out,
// with the model's at now.
func checkModelLive(t *testing.T, s *Store, m model, now int64) {
	t.Helper()
	got := dump(s)
	live := model{}
	for k, v := range m {
		if v.expireAt == 0 || v.expireAt > now {
			live[k] = v
		}
	}
	for k, v := range got.Keys {
		if v.ExpireAt != 0 && v.ExpireAt <= now {
			delete(got.Keys, k)
		}
	}
	compareModel(t, got, live, "store")
}

// checkModel compares everything in s with m.
func checkModel(t *testing.T, s *Store, m model, what string) {
	t.Helper()
	checkCounts(t, s)
	compareModel(t, dump(s), m, what)
}

func compareModel(t *testing.T, got state, m model, what string) {
	t.Helper()
	if len(got.Keys) != len(m) {
		t.Fatalf("%s holds %d keys, the model %d", what, len(got.Keys), len(m))
	}
	for k, mv := range m {
		v, ok := got.Keys[k]
		if !ok {
			t.Fatalf("%s lacks %q", what, k)
		}
		if v.ExpireAt != mv.expireAt {
			t.Fatalf("%s: %q expires at %d, the model at %d", what, k, v.ExpireAt, mv.expireAt)
		}
		if mv.hash == nil {
			if v.Hash != nil || v.Str != mv.str {
				t.Fatalf("%s: %q = %.40q, the model %.40q", what, k, v.Str, mv.str)
			}
			continue
		}
		wantEnc := encListpack
		if mv.table {
			wantEnc = encHashtable
		}
		if v.Enc != wantEnc || len(v.Hash) != len(mv.hash) {
			t.Fatalf("%s: hash %q is %s of %d fields, the model %s of %d", what, k,
				encodingNames[v.Enc], len(v.Hash), encodingNames[wantEnc], len(mv.hash))
		}
		for i, p := range mv.hash {
			if v.Hash[p.f] != p.v {
				t.Fatalf("%s: %q field %q = %q, the model %q", what, k, p.f, v.Hash[p.f], p.v)
			}
			if !mv.table && v.Order[i] != p.f {
				t.Fatalf("%s: %q fields in order %q, the model %v", what, k, v.Order, mv.hash)
			}
		}
	}
}

// checkHeap checks the heap's accounting against the chunks the store
// holds: what is neither held nor waiting for a snapshot has leaked.
func checkHeap(t *testing.T, s *Store) {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.heap
	var held int64
	for slot := range s.slots {
		s.eachKey(slot, func(o *obj) bool {
			held += int64(h.chunkSize(o.ref))
			if o.enc == encHashtable {
				bh := s.bigOf(o)
				var fields int64
				for _, e := range bh.t.e {
					if e != 0 {
						fields += int64(h.chunkSize(e & refMask))
					}
				}
				if fields != bh.bytes {
					t.Fatalf("hash %q accounts %d bytes of fields, holds %d", o.key(), bh.bytes, fields)
				}
				held += fields
			}
			return true
		})
	}
	for _, ref := range h.pending {
		held += int64(h.chunkSize(ref))
	}
	if got := h.chunkBytes + h.largeBytes; got != held {
		t.Fatalf("the heap accounts %d bytes of chunks, the store holds %d", got, held)
	}
	var live int64
	for p := 1; p < len(h.meta); p++ {
		live += int64(h.meta[p].live) * int64(classSize[h.meta[p].class])
	}
	if live != h.chunkBytes {
		t.Fatalf("pages hold %d bytes of chunks, the heap accounts %d", live, h.chunkBytes)
	}
}

func abbrev(cmd []string) []string {
	out := make([]string, len(cmd))
	for i, c := range cmd {
		if len(c) > 20 {
			c = fmt.Sprintf("%.12s...(%d)", c, len(c))
		}
		out[i] = c
	}
	return out
}
