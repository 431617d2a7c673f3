package cluster

import (
	"testing"
	"time"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// TestResolverFinishesLeftTransactions: records whose coordinator went
// quiet past their deadline are resolved by their shard's leader with the
// decision shard — aborted when there is no decision (and the decision
// shard then refuses a late commit), committed with the writes the
// decision carries when there is one — on every replica.
func TestResolverFinishesLeftTransactions(t *testing.T) {
	ns := newNodeSet(t, 3, 2, nil)
	ctx := t.Context()
	node := ns.nodes[1] // any node: Propose forwards to the leaders
	past := time.Now().Add(-time.Minute).UnixMilli()
	prepare := func(id, key string) {
		t.Helper()
		tx := &store.XTx{ID: []byte(id), Deadline: past, DecisionShard: 1, Keys: [][]byte{[]byte(key)},
			Cmds: [][][]byte{{[]byte("SET"), []byte(key), []byte("kept")}}}
		r, err := node.Propose(ctx, 0, [][][]byte{store.XPrepareArgs(tx)})
		if err != nil || r[0].Kind != resp.KindArray {
			t.Fatalf("prepare %s: %v %+v", id, err, r)
		}
	}
	// Decided commit on shard 1 before the participant is resolved; the
	// decide's deadline is in the future so that it commits.
	dec := &store.XTx{ID: []byte("committed"), Deadline: time.Now().Add(time.Minute).UnixMilli(),
		Writes: []store.XWrite{{Shard: 0, Cmd: [][]byte{[]byte("SET"), []byte("w"), []byte("carried")}}}}
	if r, err := node.Propose(ctx, 1, [][][]byte{store.XDecideArgs(dec)}); err != nil || !statusIs(r[0], "COMMIT") {
		t.Fatalf("decide: %v %+v", err, r)
	}
	prepare("committed", "c")
	prepare("abandoned", "a")
	for _, n := range ns.nodes {
		waitUntil(t, "the resolvers to finish both transactions on "+n.ID(), 20*time.Second, func() bool {
			s := n.shards[0].store
			now := time.Now().UnixMilli()
			return !s.HasXRecords() && replyIs(s.Read(now, [][]byte{[]byte("GET"), []byte("c")}), "kept") &&
				replyIs(s.Read(now, [][]byte{[]byte("GET"), []byte("w")}), "carried") &&
				s.Read(now, [][]byte{[]byte("GET"), []byte("a")}).Kind == resp.KindNull
		})
	}
	// The coordinator waking up now sends its decide, with the
	// transaction's deadline: refused, whether or not the resolver's abort
	// is still remembered.
	late := &store.XTx{ID: []byte("abandoned"), Deadline: past}
	if r, err := node.Propose(ctx, 1, [][][]byte{store.XDecideArgs(late)}); err != nil || !statusIs(r[0], "ABORT") {
		t.Fatalf("a decide after the resolver's abort: %v %+v", err, r)
	}
}

func replyIs(r resp.Reply, s string) bool { return r.Kind == resp.KindBulk && string(r.Str) == s }

// statusIs reports whether a decide's reply carries the decision s.
func statusIs(r resp.Reply, s string) bool {
	return r.Kind == resp.KindArray && len(r.Elems) == 3 && r.Elems[0].Kind == resp.KindSimple && string(r.Elems[0].Str) == s
}
