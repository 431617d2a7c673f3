package store

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

// watch reads the versions of keys at now, as the server does for WATCH.
func watch(t *testing.T, s *Store, now int64, keys ...string) []KeyVersion {
	t.Helper()
	args := argv(append([]string{CmdVersion}, keys...)...)
	v, err := ParseVersions(args[1:], s.Read(now, args))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// execTx applies a guarded transaction at now and returns its replies,
// the guard's first.
func execTx(s *Store, now int64, watched []KeyVersion, cmds ...[][]byte) []resp.Reply {
	batch := append([][][]byte{TxArgs(len(cmds), watched)}, cmds...)
	return s.Apply(now, batch, nil)
}

// words splits each command on spaces.
func words(cmds ...string) [][][]byte {
	out := make([][][]byte, len(cmds))
	for i, c := range cmds {
		out[i] = argv(strings.Fields(c)...)
	}
	return out
}

func TestWatchGuard(t *testing.T) {
	for _, c := range []struct {
		name    string
		setup   []string // applied at 1000
		watched []string // read at 1000
		between []string // applied at 2000 after WATCH
		runs    bool
	}{
		{name: "unchanged", setup: []string{"SET k v"}, watched: []string{"k"}, runs: true},
		{name: "read only", setup: []string{"SET k v"}, watched: []string{"k"}, between: []string{"GET k", "EXISTS k", "TTL k"}, runs: true},
		{name: "overwritten", setup: []string{"SET k v"}, watched: []string{"k"}, between: []string{"SET k w"}},
		{name: "same value", setup: []string{"SET k v"}, watched: []string{"k"}, between: []string{"SET k v"}},
		{name: "SET NX that fails", setup: []string{"SET k v"}, watched: []string{"k"}, between: []string{"SET k w NX"}, runs: true},
		{name: "SET XX on a missing key", watched: []string{"k"}, between: []string{"SET k w XX"}, runs: true},
		{name: "INCRBY 0", setup: []string{"SET k 1"}, watched: []string{"k"}, between: []string{"INCRBY k 0"}},
		{name: "APPEND", setup: []string{"SET k 1"}, watched: []string{"k"}, between: []string{"APPEND k 2"}},
		{name: "TTL set", setup: []string{"SET k v"}, watched: []string{"k"}, between: []string{"EXPIRE k 100"}},
		{name: "EXPIRE NX that fails", setup: []string{"SET k v EX 100"}, watched: []string{"k"}, between: []string{"EXPIRE k 5 NX"}, runs: true},
		{name: "PERSIST without TTL", setup: []string{"SET k v"}, watched: []string{"k"}, between: []string{"PERSIST k"}, runs: true},
		{name: "PERSIST", setup: []string{"SET k v EX 100"}, watched: []string{"k"}, between: []string{"PERSIST k"}},
		{name: "GETEX without options", setup: []string{"SET k v EX 100"}, watched: []string{"k"}, between: []string{"GETEX k"}, runs: true},
		{name: "hash field set", setup: []string{"HSET h f v"}, watched: []string{"h"}, between: []string{"HSET h g w"}},
		{name: "HDEL of no field", setup: []string{"HSET h f v"}, watched: []string{"h"}, between: []string{"HDEL h nope"}, runs: true},
		{name: "HDEL of the last field", setup: []string{"HSET h f v"}, watched: []string{"h"}, between: []string{"HDEL h f"}},
		{name: "deleted", setup: []string{"SET k v"}, watched: []string{"k"}, between: []string{"DEL k"}},
		{name: "deleted and made again", setup: []string{"SET k v"}, watched: []string{"k"}, between: []string{"DEL k", "SET k v"}},
		{name: "another key changed", setup: []string{"SET k v", "SET o v"}, watched: []string{"k"}, between: []string{"SET o w", "DEL o"}, runs: true},
		{name: "absent and still absent", watched: []string{"k"}, between: []string{"SET o v"}, runs: true},
		{name: "absent, then created", watched: []string{"k"}, between: []string{"SET k v"}},
		{name: "absent, created and deleted", watched: []string{"k"}, between: []string{"SET k v", "DEL k"}},
		{name: "absent, created and renamed away", watched: []string{"k"}, between: []string{"SET k v", "RENAME k o"}},
		{name: "absent, same slot removal", setup: []string{"SET {k}o v"}, watched: []string{"k"}, between: []string{"DEL {k}o"}},
		{name: "absent, other slot removal", setup: []string{"SET o v"}, watched: []string{"k"}, between: []string{"DEL o"}, runs: true},
		{name: "expired by time", setup: []string{"SET k v PX 500"}, watched: []string{"k"}},
		{name: "expired and dropped", setup: []string{"SET k v PX 500"}, watched: []string{"k"}, between: []string{CmdDropExpired + " k"}},
		{name: "expires after the transaction", setup: []string{"SET k v PX 1001"}, watched: []string{"k"}, runs: true},
		{name: "expires at the transaction's time", setup: []string{"SET k v PX 1000"}, watched: []string{"k"}},
		{name: "FLUSHALL", setup: []string{"SET k v"}, watched: []string{"k"}, between: []string{"FLUSHALL"}},
		{name: "FLUSHALL of the absent key's slot", setup: []string{"SET {k}o v"}, watched: []string{"k"}, between: []string{"FLUSHDB"}},
		{name: "FLUSHALL of other slots", setup: []string{"SET o v"}, watched: []string{"k"}, between: []string{"FLUSHALL"}, runs: true},
		{name: "renamed away", setup: []string{"SET k v"}, watched: []string{"k"}, between: []string{"RENAME k o"}},
		{name: "renamed onto", setup: []string{"SET k v", "SET o w"}, watched: []string{"k"}, between: []string{"RENAME o k"}},
		{name: "copied onto", setup: []string{"SET k v", "SET o v"}, watched: []string{"k"}, between: []string{"COPY o k REPLACE"}},
		{name: "two keys, one changed", setup: []string{"SET k v", "SET o v"}, watched: []string{"k", "o"}, between: []string{"SET o w"}},
		{name: "two keys, none changed", setup: []string{"SET k v", "SET o v"}, watched: []string{"k", "o", "absent"}, runs: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New()
			mustApply(t, s, 1000, words(c.setup...)...)
			w := watch(t, s, 1000, c.watched...)
			if len(c.between) > 0 {
				s.Apply(2000, words(c.between...), nil)
			}
			now := int64(2000)
			r := execTx(s, now, w, argv("SET", "marker", "1"), argv("GET", "marker"))
			if c.runs {
				if !replyEqual(r[0], ok) || !replyEqual(r[1], ok) || !replyEqual(r[2], bulk("1")) {
					t.Fatalf("the transaction should run: %s %s %s", fmtReply(r[0]), fmtReply(r[1]), fmtReply(r[2]))
				}
			} else {
				if r[0].Kind != resp.KindNullArray || r[1].Kind != resp.KindNull || r[2].Kind != resp.KindNull {
					t.Fatalf("the transaction should abort: %s %s %s", fmtReply(r[0]), fmtReply(r[1]), fmtReply(r[2]))
				}
				if got := s.Read(now, argv("EXISTS", "marker")); got.Int != 0 {
					t.Fatal("an aborted transaction wrote")
				}
			}
			checkCounts(t, s)
		})
	}
}

func TestVersionReply(t *testing.T) {
	s := New()
	if r := s.Read(1000, argv(CmdVersion, "k", "h")); !replyEqual(r, arr(arr(n(0), n(0)), arr(n(0), n(0)))) {
		t.Fatalf("empty store: %s", fmtReply(r))
	}
	mustApply(t, s, 1000, argv("SET", "k", "v"))                              // seq 1
	mustApply(t, s, 1000, argv("MSET", "a", "1", "b", "2"), argv("GET", "k")) // seq 2; a read takes none
	mustApply(t, s, 1000, argv("SET", "k", "v", "NX"), argv("DEL", "nope"))   // no change, no seq
	mustApply(t, s, 1000, argv("HSET", "h", "f", "v"))                        // seq 3
	if r := s.Read(1000, argv(CmdVersion, "k", "a", "b", "h", "nope")); !replyEqual(r,
		arr(arr(n(1), n(3)), arr(n(2), n(3)), arr(n(2), n(3)), arr(n(3), n(3)), arr(n(0), n(3)))) {
		t.Fatalf("versions: %s", fmtReply(r))
	}
	mustApply(t, s, 1000, argv("APPEND", "k", "")) // seq 4: Redis counts it as a change
	if r := s.Read(1000, argv(CmdVersion, "k")); !replyEqual(r, arr(arr(n(4), n(4)))) {
		t.Fatalf("after APPEND of nothing: %s", fmtReply(r))
	}
	mustApply(t, s, 1000, argv("DEL", "a", "b"), argv("FLUSHALL")) // seq 5, seq 6
	st := dump(s)
	if st.Seq != 6 || st.DeleteSeq[slotOf("a")] != 5 || st.DeleteSeq[slotOf("k")] != 6 {
		t.Fatalf("seq %d, deleteSeq %v", st.Seq, st.DeleteSeq)
	}
	if _, err := ParseVersions(argv("k"), rerr("ERR boom")); err == nil || err.Error() != "ERR boom" {
		t.Fatalf("error reply: %v", err)
	}
	if _, err := ParseVersions(argv("k", "l"), arr(arr(n(1), n(1)))); err == nil {
		t.Fatal("short reply accepted")
	}
}

func TestTxArgs(t *testing.T) {
	got := TxArgs(3, []KeyVersion{{Key: []byte("k"), Version: 7, Seq: 9}, {Key: []byte("x y"), Seq: 12}})
	want := argv(CmdTx, "3", "k", "7", "9", "x y", "0", "12")
	if len(got) != len(want) {
		t.Fatalf("%q", got)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%q, want %q", got, want)
		}
	}
}

func TestTxBatch(t *testing.T) {
	s := New()
	mustApply(t, s, 1000, argv("SET", "k", "1"), argv("HSET", "h", "f", "v"))
	w := watch(t, s, 1000, "k")

	// The guard governs only its n commands: what follows runs.
	r := s.Apply(1000, [][][]byte{
		argv("INCR", "before"),
		TxArgs(2, w),
		argv("INCR", "k"), argv("GET", "h"), // a read and an error inside
		argv("INCR", "after"),
	}, nil)
	want := []resp.Reply{n(1), ok, n(2), rerr(errWrongType), n(1)}
	for i := range want {
		if !replyEqual(r[i], want[i]) {
			t.Fatalf("reply %d: %s, want %s", i, fmtReply(r[i]), fmtReply(want[i]))
		}
	}

	// k changed: this guard fails; another transaction in the same batch
	// with fresh versions runs.
	fresh := watch(t, s, 1000, "k")
	r = s.Apply(1000, [][][]byte{
		TxArgs(2, w), argv("SET", "k", "lost"), argv("SET", "x", "lost"),
		argv("INCR", "after"),
		TxArgs(1, fresh), argv("SET", "k", "won"),
	}, nil)
	want = []resp.Reply{resp.NullArr, null, null, n(2), ok, ok}
	for i := range want {
		if !replyEqual(r[i], want[i]) {
			t.Fatalf("reply %d: %s, want %s", i, fmtReply(r[i]), fmtReply(want[i]))
		}
	}
	if got := s.Read(1000, argv("MGET", "k", "x")); !replyEqual(got, arr(bulk("won"), null)) {
		t.Fatalf("after: %s", fmtReply(got))
	}

	// A change earlier in the same batch fails the guard.
	w = watch(t, s, 1000, "k")
	r = s.Apply(1000, [][][]byte{argv("SET", "k", "v"), TxArgs(1, w), argv("SET", "y", "1")}, nil)
	if r[1].Kind != resp.KindNullArray || r[2].Kind != resp.KindNull {
		t.Fatalf("%s %s", fmtReply(r[1]), fmtReply(r[2]))
	}

	// A guard for more commands than the batch holds skips what there is.
	w = watch(t, s, 1000, "nothing")
	mustApply(t, s, 1000, argv("SET", "nothing", "1"))
	r = s.Apply(1000, [][][]byte{TxArgs(5, w), argv("SET", "z", "1")}, nil)
	if len(r) != 2 || r[0].Kind != resp.KindNullArray || r[1].Kind != resp.KindNull {
		t.Fatalf("%d replies", len(r))
	}

	// No watched keys, and no commands.
	r = s.Apply(1000, [][][]byte{TxArgs(0, nil), TxArgs(1, nil), argv("SET", "z", "2")}, nil)
	if !replyEqual(r[0], ok) || !replyEqual(r[1], ok) || !replyEqual(r[2], ok) {
		t.Fatalf("%s %s %s", fmtReply(r[0]), fmtReply(r[1]), fmtReply(r[2]))
	}
	checkCounts(t, s)
}

func TestTxMalformed(t *testing.T) {
	errTx := rerr("ERR invalid arguments for internal command 'raftcache.tx'")
	for _, guard := range [][][]byte{
		argv(CmdTx, "1", "k", "1"),
		argv(CmdTx, "1", "k", "x", "1"),
		argv(CmdTx, "1", "k", "1", "-1"),
		argv(CmdTx, "1", "k", "-1", "1"),
	} {
		s := New()
		r := s.Apply(1000, [][][]byte{guard, argv("SET", "a", "1"), argv("SET", "b", "1")}, nil)
		if !replyEqual(r[0], errTx) || r[1].Kind != resp.KindNull || !replyEqual(r[2], ok) {
			t.Fatalf("%q: %s %s %s", guard, fmtReply(r[0]), fmtReply(r[1]), fmtReply(r[2]))
		}
	}
	for _, guard := range [][][]byte{argv(CmdTx), argv(CmdTx, "x"), argv(CmdTx, "-1"), argv(CmdTx, "99999999999")} {
		s := New()
		r := s.Apply(1000, [][][]byte{guard, argv("SET", "a", "1")}, nil)
		if !replyEqual(r[0], errTx) || !replyEqual(r[1], ok) {
			t.Fatalf("%q: %s %s", guard, fmtReply(r[0]), fmtReply(r[1]))
		}
	}
	if r := New().Read(1000, argv(CmdTx, "0")); !replyEqual(r, rerr("ERR write command raftcache.tx sent to the read path")) {
		t.Fatalf("read path: %s", fmtReply(r))
	}
}

// TestWatchAfterRestore checks that a replica restored from a snapshot
// decides a guard as the replica that took the snapshot: versions, seq
// and removals are part of the snapshot.
func TestWatchAfterRestore(t *testing.T) {
	s := New()
	var cmds [][][]byte
	for i := range 200 {
		cmds = append(cmds, argv("SET", fmt.Sprint("k", i), "v"))
		if i%3 == 0 {
			cmds = append(cmds, argv("DEL", fmt.Sprint("k", i)))
		}
	}
	mustApply(t, s, 1000, cmds...)
	var keys []string
	for i := range 220 {
		keys = append(keys, fmt.Sprint("k", i))
	}
	w := watch(t, s, 1000, keys...)
	r := restored(t, snapshotBytes(t, s))
	if a, b := dump(s), dump(r); !a.equal(b) {
		t.Fatalf("restored state differs: %s", a.diff(b))
	}
	for i := range 220 {
		between := argv("SET", fmt.Sprint("k", i), "w")
		if i%2 == 0 {
			between = argv("DEL", fmt.Sprint("k", i))
		}
		for _, st := range []*Store{s, r} {
			st.Apply(2000, [][][]byte{between}, nil)
		}
		one := []KeyVersion{w[i]}
		r1 := execTx(s, 2000, one, argv("SET", "m", fmt.Sprint(i)))
		r2 := execTx(r, 2000, one, argv("SET", "m", fmt.Sprint(i)))
		if fmtReply(r1[0]) != fmtReply(r2[0]) {
			t.Fatalf("key %d: %s on the original, %s on the restored replica", i, fmtReply(r1[0]), fmtReply(r2[0]))
		}
	}
	if a, b := dump(s), dump(r); !a.equal(b) {
		t.Fatalf("replicas diverged: %s", a.diff(b))
	}
}
