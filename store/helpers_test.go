package store

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

// argv builds a command from its words.
func argv(words ...string) [][]byte {
	out := make([][]byte, len(words))
	for i, w := range words {
		out[i] = []byte(w)
	}
	return out
}

// step is one command of a scenario: at time now, run cmd (split on
// spaces, or argv when an argument holds a space or is empty) and expect
// want. Write commands go through Apply, read commands through Read.
type step struct {
	now  int64
	cmd  string
	want resp.Reply
	argv []string
}

func (st step) args() [][]byte {
	if st.argv != nil {
		return argv(st.argv...)
	}
	return argv(strings.Fields(st.cmd)...)
}

type scenario struct {
	name  string
	steps []step
}

// Expected replies.
var (
	ok   = resp.OK
	null = resp.Null
)

func n(v int64) resp.Reply       { return resp.Int(v) }
func bulk(s string) resp.Reply   { return resp.BulkString(s) }
func simple(s string) resp.Reply { return resp.Simple(s) }
func arr(e ...resp.Reply) resp.Reply {
	return resp.Array(e...)
}

// bulks is an array of bulk strings.
func bulks(ss ...string) resp.Reply {
	elems := make([]resp.Reply, len(ss))
	for i, s := range ss {
		elems[i] = resp.BulkString(s)
	}
	return resp.Array(elems...)
}

// scanR is a SCAN or HSCAN reply: the cursor and the elements.
func scanR(cursor string, elems ...string) resp.Reply {
	return arr(bulk(cursor), bulks(elems...))
}
func rerr(s string) resp.Reply { return resp.NewError(s).Reply() }
func hmap(kv ...string) resp.Reply {
	elems := make([]resp.Reply, len(kv))
	for i, s := range kv {
		elems[i] = resp.BulkString(s)
	}
	return resp.Reply{Kind: resp.KindMap, Elems: elems}
}

const (
	errSyntax    = "ERR syntax error"
	errNotInt    = "ERR value is not an integer or out of range"
	errWrongType = "WRONGTYPE Operation against a key holding the wrong kind of value"
	errOverflow  = "ERR increment or decrement would overflow"
)

// do runs one command on s at now, through Apply for a write and Read for
// a read, as the cluster layer does.
func do(s *Store, now int64, args [][]byte) resp.Reply {
	if h, _ := lookupHandler(args[0]); h.write {
		return s.Apply(now, [][][]byte{args}, nil)[0]
	}
	return s.Read(now, args)
}

func runScenarios(t *testing.T, cases []scenario) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			for i, st := range tc.steps {
				got := do(s, st.now, st.args())
				if !replyEqual(normalize(st.args(), got), normalize(st.args(), st.want)) {
					t.Fatalf("step %d: at %d %q: got %s, want %s", i, st.now, st.args(), fmtReply(got), fmtReply(st.want))
				}
				checkCounts(t, s)
			}
		})
	}
}

// normalize puts the elements of a reply that Redis gives in no defined
// order (KEYS, HKEYS, HVALS, the keys of a SCAN page, the pairs of an
// HSCAN page) in sorted order, so that tables can state them in any
// order.
func normalize(args [][]byte, r resp.Reply) resp.Reply {
	name := strings.ToLower(string(args[0]))
	switch {
	case r.Kind != resp.KindArray:
		return r
	case name == "keys" || name == "hkeys" || name == "hvals":
		return resp.Array(sortedElems(r.Elems, 1)...)
	case (name == "scan" || name == CmdScan || name == "hscan") && len(r.Elems) == 2:
		step := 1
		if name == "hscan" {
			step = 2
		}
		return arr(r.Elems[0], resp.Array(sortedElems(r.Elems[1].Elems, step)...))
	}
	return r
}

// sortedElems sorts groups of step elements by their rendering.
func sortedElems(elems []resp.Reply, step int) []resp.Reply {
	var groups [][]resp.Reply
	for i := 0; i+step <= len(elems); i += step {
		groups = append(groups, elems[i:i+step])
	}
	slices.SortFunc(groups, func(a, b []resp.Reply) int {
		return strings.Compare(fmtReply(resp.Array(a...)), fmtReply(resp.Array(b...)))
	})
	out := make([]resp.Reply, 0, len(elems))
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// replyEqual compares replies by kind and content; the pairs of a map
// reply are compared in any order, since hashes have no order.
func replyEqual(a, b resp.Reply) bool {
	if a.Kind != b.Kind || a.Int != b.Int || a.Float != b.Float || !bytes.Equal(a.Str, b.Str) {
		return false
	}
	if (a.Str == nil) != (b.Str == nil) && (a.Kind == resp.KindBulk || a.Kind == resp.KindSimple) {
		return false
	}
	if len(a.Elems) != len(b.Elems) {
		return false
	}
	if a.Kind == resp.KindMap {
		return fmtReply(a) == fmtReply(b)
	}
	for i := range a.Elems {
		if !replyEqual(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	return true
}

var kindNames = map[resp.Kind]string{
	resp.KindNull: "null", resp.KindNullArray: "nullarray", resp.KindSimple: "simple",
	resp.KindError: "error", resp.KindInt: "int", resp.KindBulk: "bulk",
	resp.KindArray: "array", resp.KindMap: "map", resp.KindSet: "set",
	resp.KindDouble: "double", resp.KindBool: "bool", resp.KindVerbatim: "verbatim",
}

// fmtReply renders a reply for messages and comparisons; map pairs are
// sorted.
func fmtReply(r resp.Reply) string {
	switch r.Kind {
	case resp.KindNull, resp.KindNullArray:
		return kindNames[r.Kind]
	case resp.KindInt, resp.KindBool:
		return kindNames[r.Kind] + ":" + strconv.FormatInt(r.Int, 10)
	case resp.KindDouble:
		return fmt.Sprintf("double:%v", r.Float)
	case resp.KindArray, resp.KindSet, resp.KindMap:
		var parts []string
		if r.Kind == resp.KindMap {
			for i := 0; i+1 < len(r.Elems); i += 2 {
				parts = append(parts, fmtReply(r.Elems[i])+"=>"+fmtReply(r.Elems[i+1]))
			}
			slices.Sort(parts)
		} else {
			for _, e := range r.Elems {
				parts = append(parts, fmtReply(e))
			}
		}
		return kindNames[r.Kind] + "[" + strings.Join(parts, " ") + "]"
	default:
		return kindNames[r.Kind] + ":" + strconv.Quote(string(r.Str))
	}
}

// checkCounts verifies the store's key and expiry counters against its
// tables, and the heap's accounting against its chunks.
func checkCounts(t testing.TB, s *Store) {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys, expires := 0, 0
	for slot := range s.slots {
		n := 0
		s.eachKey(slot, func(o *obj) bool {
			n++
			keys++
			if o.expireAt != 0 {
				expires++
			}
			if SlotOf(o.key()) != slot {
				t.Fatalf("key %q in slot %d, belongs in %d", o.key(), slot, SlotOf(o.key()))
			}
			var h obj
			if !s.find(&h, slot, s.hashKey(o.key()), o.key()) || h.ref != o.ref {
				t.Fatalf("key %q is not found where it is", o.key())
			}
			x := exec{s: s}
			if o.isHash() && x.hlen(o) == 0 {
				t.Fatalf("key %q holds an empty hash", o.key())
			}
			if o.enc == encListpack && x.hlen(o) > hashMaxListpackEntry {
				t.Fatalf("key %q: listpack of %d fields", o.key(), x.hlen(o))
			}
			return true
		})
		if n != s.slots[slot].t.n {
			t.Fatalf("slot %d: table counts %d keys, holds %d", slot, s.slots[slot].t.n, n)
		}
	}
	if keys != s.keys || expires != s.expires {
		t.Fatalf("counters keys=%d expires=%d, tables hold keys=%d expires=%d", s.keys, s.expires, keys, expires)
	}
	if s.liveSnaps == 0 && len(s.heap.pending) != 0 {
		t.Fatalf("%d chunks wait for snapshots, none is live", len(s.heap.pending))
	}
}

// value is one key's full state, comparable with ==-like tools.
type value struct {
	Str       string
	Hash      map[string]string // nil for a string
	Order     []string          // a listpack's fields in order
	ExpireAt  int64
	Version   uint64
	LastWrite int64
	Enc       encoding
}

// state is a store's whole content, expired keys included, with the
// replicated bookkeeping that WATCH and OBJECT read.
type state struct {
	LastNow   int64
	Seq       uint64
	DeleteSeq map[int]uint64 // non-zero entries only
	Keys      map[string]value
}

// dump returns s's full state through unexported access.
func dump(s *Store) state {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := state{LastNow: s.lastNow, Seq: s.seq, DeleteSeq: map[int]uint64{}, Keys: map[string]value{}}
	for slot, d := range s.deleteSeq {
		if d != 0 {
			st.DeleteSeq[slot] = d
		}
	}
	x := exec{s: s}
	for slot := range s.slots {
		s.eachKey(slot, func(o *obj) bool {
			v := value{ExpireAt: o.expireAt, Version: o.version(), LastWrite: int64(o.lastWrite()), Enc: o.enc}
			if o.isHash() {
				v.Hash = map[string]string{}
				for _, p := range x.hashPairs(nil, o) {
					v.Hash[string(p.field)] = string(p.value)
					if o.enc == encListpack {
						v.Order = append(v.Order, string(p.field))
					}
				}
			} else {
				v.Str = string(o.val())
			}
			st.Keys[string(o.key())] = v
			return true
		})
	}
	return st
}

func (a state) equal(b state) bool {
	if a.LastNow != b.LastNow || a.Seq != b.Seq || !maps.Equal(a.DeleteSeq, b.DeleteSeq) || len(a.Keys) != len(b.Keys) {
		return false
	}
	for k, va := range a.Keys {
		vb, ok := b.Keys[k]
		if !ok || va.Str != vb.Str || va.ExpireAt != vb.ExpireAt || (va.Hash == nil) != (vb.Hash == nil) ||
			!maps.Equal(va.Hash, vb.Hash) || !slices.Equal(va.Order, vb.Order) || va.Version != vb.Version ||
			va.LastWrite != vb.LastWrite || va.Enc != vb.Enc {
			return false
		}
	}
	return true
}

// diff describes how b differs from a, for failure messages.
func (a state) diff(b state) string {
	var out []string
	if a.LastNow != b.LastNow {
		out = append(out, fmt.Sprintf("lastNow %d != %d", a.LastNow, b.LastNow))
	}
	if a.Seq != b.Seq {
		out = append(out, fmt.Sprintf("seq %d != %d", a.Seq, b.Seq))
	}
	if !maps.Equal(a.DeleteSeq, b.DeleteSeq) {
		out = append(out, fmt.Sprintf("deleteSeq %v != %v", a.DeleteSeq, b.DeleteSeq))
	}
	for k, va := range a.Keys {
		vb, ok := b.Keys[k]
		if !ok {
			out = append(out, fmt.Sprintf("%q missing", k))
		} else if fmt.Sprint(va) != fmt.Sprint(vb) {
			out = append(out, fmt.Sprintf("%q: %v != %v", k, va, vb))
		}
	}
	for k := range b.Keys {
		if _, ok := a.Keys[k]; !ok {
			out = append(out, fmt.Sprintf("%q extra", k))
		}
	}
	slices.Sort(out)
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("... %d more", len(out)-10))
	}
	return strings.Join(out, "; ")
}

// mustApply runs write commands at now and fails on an error reply.
func mustApply(t testing.TB, s *Store, now int64, cmds ...[][]byte) {
	t.Helper()
	for i, r := range s.Apply(now, cmds, nil) {
		if r.IsError() {
			t.Fatalf("%q: %s", cmds[i], r.Str)
		}
	}
}
