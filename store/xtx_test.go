package store

import (
	"bytes"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

func xtx(id string, deadline int64, keys []string, cmds ...[][]byte) *XTx {
	t := &XTx{ID: []byte(id), Deadline: deadline, DecisionShard: 2}
	for _, k := range keys {
		t.Keys = append(t.Keys, []byte(k))
	}
	t.Cmds = cmds
	return t
}

func read(s *Store, now int64, words ...string) resp.Reply { return s.Read(now, argv(words...)) }

func mustEqual(t *testing.T, what string, got, want resp.Reply) {
	t.Helper()
	if !replyEqual(got, want) {
		t.Fatalf("%s: got %s, want %s", what, fmtReply(got), fmtReply(want))
	}
}

// TestXPrepareLocksUntilCommit: a prepared transaction's keys answer
// LOCKED to every other command — read path, write path, WATCH's version
// read and a single-shard transaction's guard with the commands it governs
// — until its commit, which runs the kept commands once.
func TestXPrepareLocksUntilCommit(t *testing.T) {
	s := New()
	do(s, 1000, argv("SET", "a", "1"))
	tx := xtx("t1", 5000, []string{"a", "b"}, argv("INCR", "a"), argv("SET", "b", "x"))
	tx.Reads = [][][]byte{argv("GET", "a")}
	mustEqual(t, "prepare", do(s, 1001, XPrepareArgs(tx)), arr(bulk("1")))

	locked := ErrLocked.Reply()
	mustEqual(t, "GET on the read path", read(s, 1002, "GET", "a"), locked)
	mustEqual(t, "SET", do(s, 1002, argv("SET", "b", "y")), locked)
	mustEqual(t, "WATCH's version read", read(s, 1002, CmdVersion, "z", "a"), locked)
	mustEqual(t, "another key", do(s, 1002, argv("SET", "c", "1")), simple("OK"))
	got := s.Apply(1002, [][][]byte{TxArgs(1, nil), argv("GET", "b"), argv("GET", "c")}, nil)
	if len(got) != 3 || !IsLocked(got[0]) || got[1].Kind != resp.KindNull || !replyEqual(got[2], bulk("1")) {
		t.Fatalf("a guarded batch on a locked key: %v", got)
	}
	mustEqual(t, "a second transaction on a locked key", do(s, 1003, XPrepareArgs(xtx("t2", 5000, []string{"b"}))), locked)
	var o obj
	if !s.findLive(&o, []byte("a"), 1003) {
		t.Fatal("a is missing")
	}
	mustEqual(t, "eviction of a locked key", do(s, 1003, EvictArgs([]Candidate{{Key: []byte("a"), Version: o.version()}})), n(0))
	mustEqual(t, "the same prepare again", do(s, 1003, XPrepareArgs(tx)), arr(bulk("1")))

	want := arr(n(2), simple("OK"))
	mustEqual(t, "commit", do(s, 1004, XTxArgs(CmdXCommit, []byte("t1"))), want)
	mustEqual(t, "commit again", do(s, 1005, XTxArgs(CmdXCommit, []byte("t1"))), want)
	mustEqual(t, "a after commit", read(s, 1005, "GET", "a"), bulk("2"))
	mustEqual(t, "b after commit", read(s, 1005, "GET", "b"), bulk("x"))
	if s.HasXLocks() {
		t.Fatal("locks left after commit")
	}
	// Past the reply retention the outcome is gone: a commit with no
	// record is an error, never a second run.
	if r := do(s, 5000+xtxReplyRetention+1, XTxArgs(CmdXCommit, []byte("t1"))); r.Kind != resp.KindError {
		t.Fatalf("a commit of a forgotten transaction: %s", fmtReply(r))
	}
	mustEqual(t, "a ran once", read(s, 1_000_000, "GET", "a"), bulk("2"))
}

func TestXPrepareChecks(t *testing.T) {
	s := New()
	do(s, 1000, argv("SET", "w", "1"))
	vs, err := ParseVersions(argv("w", "missing"), read(s, 1000, CmdVersion, "w", "missing"))
	if err != nil {
		t.Fatal(err)
	}
	do(s, 1001, argv("SET", "w", "2")) // changes w after WATCH
	tx := xtx("t1", 5000, []string{"w"})
	tx.Watched = vs
	mustEqual(t, "watched key changed", do(s, 1002, XPrepareArgs(tx)), resp.NullArr)
	if s.HasXLocks() {
		t.Fatal("a refused prepare locked keys")
	}
	tx.Reads = [][][]byte{argv("SET", "w", "3")}
	tx.Watched = nil
	r := do(s, 1003, XPrepareArgs(tx))
	if r.Kind != resp.KindArray || r.Elems[0].Kind != resp.KindError {
		t.Fatalf("a write among the reads ran: %s", fmtReply(r))
	}
	mustEqual(t, "abort", do(s, 1004, XTxArgs(CmdXAbort, []byte("t1"))), simple("OK"))
	mustEqual(t, "abort again", do(s, 1005, XTxArgs(CmdXAbort, []byte("t1"))), simple("OK"))
	mustEqual(t, "w after abort", read(s, 1005, "GET", "w"), bulk("2"))
	for _, bad := range [][][]byte{
		argv(CmdXPrepare),
		argv(CmdXPrepare, "t", "x", "0", "0", "0", "0", "0", "0", "0"),
		argv(CmdXPrepare, "t", "1", "0", "5", "a", "0", "0", "0", "0", "0"),
		argv(CmdXPrepare, "t", "1", "0", "0", "0", "0", "1", "\xff", "0", "0"),
		argv(CmdXDecide, "t"),
		argv(CmdXCommit),
		argv(CmdXResolve, "t", "x"),
		argv(CmdXPending, "x"),
	} {
		if r := do(s, 1006, bad); r.Kind != resp.KindError {
			t.Fatalf("%q: %s", bad, fmtReply(r))
		}
	}
}

// TestXDecide: the first decision recorded is the only one — a decide
// sent again answers it, a resolver that asked first makes the decide
// abort, a decide past the deadline aborts, and an absent key that exists
// aborts.
func TestXDecide(t *testing.T) {
	s := New()
	do(s, 1000, argv("SET", "e", "1"))
	commit := xtx("c", 5000, []string{"k"}, argv("SET", "k", "v"))
	commit.Reads = [][][]byte{argv("EXISTS", "e")}
	want := arr(XCommitted, arr(n(1)), arr(simple("OK")))
	mustEqual(t, "decide", do(s, 1001, XDecideArgs(commit)), want)
	mustEqual(t, "decide again", do(s, 1002, XDecideArgs(commit)), want)
	mustEqual(t, "resolve after commit", do(s, 1003, XResolveArgs([]byte("c"), 5000, 1)), arr(XCommitted, arr()))

	mustEqual(t, "resolve first", do(s, 1004, XResolveArgs([]byte("r"), 5000, 1)), arr(XAborted, arr()))
	late := xtx("r", 5000, []string{"k2"}, argv("SET", "k2", "v"))
	mustEqual(t, "decide after the resolver", do(s, 1005, XDecideArgs(late)), arr(XAborted, resp.EmptyArr, resp.EmptyArr))

	past := xtx("p", 1000, []string{"k3"}, argv("SET", "k3", "v"))
	mustEqual(t, "decide past the deadline", do(s, 1006, XDecideArgs(past)), arr(XAborted, resp.EmptyArr, resp.EmptyArr))

	nx := xtx("nx", 5000, []string{"e"}, argv("SET", "e", "2"))
	nx.Absent = [][]byte{[]byte("e")}
	mustEqual(t, "an absent key exists", do(s, 1007, XDecideArgs(nx)), arr(XExists, resp.EmptyArr, resp.EmptyArr))
	for _, k := range []string{"k2", "k3"} {
		mustEqual(t, k, read(s, 1008, "EXISTS", k), n(0))
	}
	mustEqual(t, "e kept", read(s, 1008, "GET", "e"), bulk("1"))

	// A forgotten commit is dropped; an old unknown one is not guessed.
	forget := xtx("f", 5000, nil)
	forget.Forget = [][]byte{[]byte("c")}
	do(s, 1009, XDecideArgs(forget))
	mustEqual(t, "a forgotten commit resolves to abort", do(s, 1010, XResolveArgs([]byte("c"), 5000, 1)), arr(XAborted, arr()))
	mustEqual(t, "too old to know", do(s, 1_000_000, XResolveArgs([]byte("old"), 1000, 1)), arr(XUnknown, arr()))
}

// TestXDecideWrites: writes the coordinator computed after every
// participant was prepared travel with the decision: the decision shard,
// prepared itself, releases its locks at the decision; a participant's
// resolver gets its writes from the decision and commits them; a snapshot
// keeps them.
func TestXDecideWrites(t *testing.T) {
	d, p := New(), New()
	prep := xtx("w", 5000, []string{"x"})
	prep.DecisionShard = 0
	mustEqual(t, "prepare the decision shard", do(d, 1000, XPrepareArgs(prep)), arr())
	mustEqual(t, "prepare a participant", do(p, 1000, XPrepareArgs(xtx("w", 5000, []string{"y"}))), arr())
	dec := xtx("w", 5000, []string{"x"}, argv("SET", "x", "1"))
	dec.Writes = []XWrite{{Shard: 1, Cmd: argv("SET", "y", "2")}, {Shard: 2, Cmd: argv("SET", "z", "3")}}
	mustEqual(t, "decide", do(d, 1001, XDecideArgs(dec)), arr(XCommitted, arr(), arr(simple("OK"))))
	if d.HasXLocks() {
		t.Fatal("the decision left its own shard's locks")
	}
	var buf bytes.Buffer
	sn := d.Snapshot()
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	restored := New()
	if err := restored.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Store{"decision shard": d, "restored": restored} {
		decision, commit, err := ParseXResolve([]byte("w"), do(s, 1002, XResolveArgs([]byte("w"), 5000, 1)))
		if err != nil || decision != "COMMIT" || len(commit) != 3 {
			t.Fatalf("%s: resolve: %s %q %v", name, decision, commit, err)
		}
		if name == "restored" {
			mustEqual(t, "commit with the writes", do(p, 1003, commit), arr(simple("OK")))
		}
	}
	mustEqual(t, "y", read(p, 1004, "GET", "y"), bulk("2"))
	mustEqual(t, "z is shard 2's", read(p, 1004, "EXISTS", "z"), n(0))
	if p.HasXLocks() {
		t.Fatal("the participant kept its locks")
	}
}

// TestXSnapshot: locks, records and outcomes survive a snapshot: the
// restored store refuses the locked key, commits the kept commands, and
// answers a decide sent again as before.
func TestXSnapshot(t *testing.T) {
	s := New()
	do(s, 1000, XPrepareArgs(xtx("p", 5000, []string{"a"}, argv("SET", "a", "1"))))
	decided := xtx("d", 5000, []string{"b"}, argv("INCR", "b"))
	want := do(s, 1001, XDecideArgs(decided))
	var buf bytes.Buffer
	sn := s.Snapshot()
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	r := New()
	if err := r.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "locked after restore", read(r, 1002, "GET", "a"), ErrLocked.Reply())
	p, err := ParseXPending(read(r, 1002, CmdXPending, "6000"))
	if err != nil || len(p) != 1 || string(p[0].ID) != "p" || p[0].Deadline != 5000 || p[0].DecisionShard != 2 {
		t.Fatalf("pending after restore: %+v %v", p, err)
	}
	if p, _ := ParseXPending(read(r, 1002, CmdXPending, "4000")); len(p) != 0 {
		t.Fatalf("pending before its deadline: %+v", p)
	}
	mustEqual(t, "decide again after restore", do(r, 1003, XDecideArgs(decided)), want)
	mustEqual(t, "commit after restore", do(r, 1003, XTxArgs(CmdXCommit, []byte("p"))), arr(simple("OK")))
	mustEqual(t, "a", read(r, 1004, "GET", "a"), bulk("1"))
}

func FuzzXTxState(f *testing.F) {
	s := New()
	do(s, 1000, XPrepareArgs(xtx("p", 5000, []string{"a", "b"}, argv("SET", "a", "1"))))
	d := xtx("d", 5000, []string{"c"}, argv("SET", "c", "1"))
	d.Writes = []XWrite{{Shard: 1, Cmd: argv("DEL", "q")}}
	do(s, 1000, XDecideArgs(d))
	f.Add(s.xtx.marshal())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := unmarshalXTx(b)
		if err != nil {
			return
		}
		// What decodes encodes back to something that decodes the same.
		again, err := unmarshalXTx(st.marshal())
		if err != nil || len(again.recs) != len(st.recs) || len(again.locks) != len(st.locks) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
