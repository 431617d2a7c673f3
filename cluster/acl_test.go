package cluster

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

func setUserOp(t *testing.T, name string, rules ...string) []byte {
	t.Helper()
	args := make([][]byte, len(rules))
	for i, r := range rules {
		args[i] = []byte(r)
	}
	op, err := acl.New().PrepareSetUser([]byte(name), args)
	if err != nil {
		t.Fatalf("SETUSER %s %q: %v", name, rules, err)
	}
	return op.Encode()
}

// TestACLReplicatesThroughShardZero: an ACL change proposed on any node is
// in force there when acknowledged, reaches every node, and survives a
// restart of a node that starts with empty users (it replays shard 0).
func TestACLReplicatesThroughShardZero(t *testing.T) {
	ns := newNodeSet(t, 3, 2, nil)
	ctx := t.Context()
	for i, node := range ns.nodes {
		r, err := node.ProposeACL(ctx, setUserOp(t, "u"+string(rune('1'+i)), "on", ">pw", "~k*", "+get"))
		if err != nil || r.IsError() {
			t.Fatalf("SETUSER through %s: %v %q", node.ID(), err, r.Str)
		}
		if node.ACL().Authenticate([]byte("u"+string(rune('1'+i))), []byte("pw")) == nil {
			t.Fatalf("%s acknowledged SETUSER before applying it", node.ID())
		}
	}
	waitUntil(t, "every node knows every user", 10*time.Second, func() bool {
		for _, node := range ns.nodes {
			for _, u := range []string{"u1", "u2", "u3"} {
				if node.ACL().Authenticate([]byte(u), []byte("pw")) == nil {
					return false
				}
			}
		}
		return true
	})
	want := ns.nodes[0].ACL().List()
	// A refused change is a reply, the same everywhere, and changes nothing.
	if r, err := ns.nodes[2].ProposeACL(ctx, acl.DelUserOp([][]byte{[]byte("default")}).Encode()); err != nil || !r.IsError() {
		t.Fatalf("DELUSER default: %v %v", r, err)
	}

	// Restart n3 with users of its own: shard 0's log gives them back.
	cfg := ns.cfgs[2]
	ns.stop("n3")
	cfg.ACL = acl.New()
	node, err := Open(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ns.nodes[2] = node
	waitUntil(t, "the restarted node's users", 20*time.Second, func() bool {
		return slices.Equal(node.ACL().List(), want)
	})
}

// TestACLSnapshotSection: shard 0's snapshot carries the users before the
// store's snapshot once they changed through the log; a snapshot without
// the section restores the store only; a damaged section is refused and
// leaves both the store and the users as they were.
func TestACLSnapshotSection(t *testing.T) {
	apply := func(f *fsm, cmds ...[][]byte) []resp.Reply {
		return f.store.Apply(1000, cmds, nil)
	}
	snapshot := func(f *fsm) []byte {
		sn, err := f.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer sn.Release()
		var sink memSink
		if err := sn.Persist(&sink); err != nil {
			t.Fatal(err)
		}
		return sink.Bytes()
	}
	src := &fsm{shard: 0, store: store.New()}
	src.holdACL(acl.New())
	apply(src, [][]byte{[]byte("SET"), []byte("k"), []byte("v")})
	if b := snapshot(src); bytes.HasPrefix(b, []byte(aclSnapMagic)) {
		t.Fatal("a snapshot carried users that never changed through the log")
	}
	// The store answers [changes applied, reply] (ProposeACL unwraps it).
	if r := apply(src, store.ACLArgs(setUserOp(t, "alice", "on", ">pw", "+@all", "~*"))); len(r[0].Elems) != 2 ||
		r[0].Elems[0].Int != 1 || r[0].Elems[1].IsError() {
		t.Fatalf("apply SETUSER: %+v", r[0])
	}
	if r := apply(src, store.ACLArgs([]byte{99})); len(r[0].Elems) != 2 || r[0].Elems[0].Int != 2 || !r[0].Elems[1].IsError() {
		t.Fatalf("an undecodable ACL change: %+v", r[0])
	}
	data := snapshot(src)
	if !bytes.HasPrefix(data, []byte(aclSnapMagic)) {
		t.Fatal("the snapshot has no ACL section")
	}

	dst := &fsm{shard: 0, store: store.New()}
	dst.holdACL(acl.New())
	if err := dst.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if dst.acl.Authenticate([]byte("alice"), []byte("pw")) == nil || dst.store.Digest() != src.store.Digest() ||
		dst.aclOps.Load() != 2 {
		t.Fatalf("restore lost the users, the keys or the count of changes (%d)", dst.aclOps.Load())
	}

	// Shard 1 holds no users: the section is read past, the store restored.
	other := &fsm{shard: 1, store: store.New()}
	if err := other.Restore(io.NopCloser(bytes.NewReader(data))); err != nil || other.store.Digest() != src.store.Digest() {
		t.Fatalf("restore on a shard without users: %v", err)
	}

	// A damaged section: nothing changes.
	bad := append([]byte(nil), data...)
	bad[len(aclSnapMagic)+1] ^= 0xff
	keep := &fsm{shard: 0, store: store.New()}
	keep.holdACL(acl.New())
	apply(keep, [][]byte{[]byte("SET"), []byte("mine"), []byte("1")})
	before := keep.store.Digest()
	if err := keep.Restore(io.NopCloser(bytes.NewReader(bad))); err == nil {
		t.Fatal("a damaged ACL section was restored")
	}
	if keep.store.Digest() != before || keep.acl.User("alice") != nil {
		t.Fatal("a refused restore changed the store or the users")
	}
}
