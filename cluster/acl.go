package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// The cluster's ACL users are one replicated value in shard 0's Raft
// group. Every node holds a replica of every shard, so every node applies
// the same changes in the same order: ACL SETUSER, DELUSER, LOAD and
// CONFIG SET requirepass become store.CmdACL entries in shard 0's log
// (ProposeACL), applied to the node's acl.Users by shard 0's FSM, and
// shard 0's snapshots carry the whole set. A change is acknowledged once
// a majority has it; a minority partition cannot change the users at all
// (shard 0 has no leader there), and a node that was down catches up from
// the log or a snapshot like any replica. A node's --requirepass and
// --aclfile only give the users it starts with until it applies the first
// replicated change (or a snapshot that carries them).

// aclShard is the shard whose Raft group replicates the ACL users.
const aclShard = 0

// aclSnapMagic starts a shard 0 snapshot that carries the ACL users
// before the store's snapshot (which starts "RCSN"). A snapshot without
// it (older, or taken before any ACL change) restores only the store.
const aclSnapMagic = "RCAC"

// holdACL makes this FSM (shard 0's) the one that applies ACL changes to
// users and carries them in its snapshots. Each change applied counts in
// aclOps, the same on every replica (snapshots carry it); the reply the
// proposer gets back is [count, reply], so that it can wait until its own
// replica applied the change (ProposeACL) before answering.
func (f *fsm) holdACL(users *acl.Users) {
	f.acl = users
	f.store.SetACLHook(func(op []byte) resp.Reply {
		n := f.aclOps.Add(1)
		var r resp.Reply
		if o, err := acl.DecodeOp(op); err != nil {
			// A change this version cannot read (written by a newer
			// node): every node of this version answers the same.
			r = resp.ErrorReply(fmt.Errorf("shard %d: ACL change: %w", f.shard, err))
		} else {
			r = users.Apply(o)
		}
		return resp.Array(resp.Int(int64(n)), r)
	})
}

// ProposeACL replicates one encoded ACL change (acl.Op.Encode) through
// shard 0's log and returns its reply once this node has applied it, so
// the change is in force here when the client hears of it.
func (n *Node) ProposeACL(ctx context.Context, op []byte) (resp.Reply, error) {
	replies, err := n.Propose(ctx, aclShard, [][][]byte{store.ACLArgs(op)})
	if err != nil {
		return resp.Reply{}, fmt.Errorf("replicate ACL change: %w", err)
	}
	if len(replies) != 1 {
		return resp.Reply{}, fmt.Errorf("replicate ACL change: %d replies", len(replies))
	}
	r := replies[0]
	if r.Kind != resp.KindArray || len(r.Elems) != 2 || r.Elems[0].Kind != resp.KindInt {
		return r, nil // an error reply from the store (no hook: not shard 0)
	}
	// The leader applied the change as the count-th; wait for this
	// replica to get there (bounded: the change is committed either way).
	count, f := uint64(r.Elems[0].Int), n.shards[aclShard].fsm
	ctx, cancel := context.WithTimeout(ctx, aclApplyWait)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for f.aclOps.Load() < count {
		select {
		case <-ctx.Done():
			n.log.Warn("ACL change committed but not yet applied here", zap.Uint64("change", count),
				zap.Uint64("applied", f.aclOps.Load()))
			return r.Elems[1], nil
		case <-tick.C:
		}
	}
	return r.Elems[1], nil
}

// aclApplyWait bounds how long ProposeACL waits for this node to apply a
// change the leader committed.
const aclApplyWait = 5 * time.Second

// ACL returns the node's ACL users (Config.ACL).
func (n *Node) ACL() *acl.Users { return n.cfg.ACL }

// aclSnapshot returns the ACL section of a shard 0 snapshot, or nil when
// this FSM holds no users or they were never changed through the log.
func (f *fsm) aclSnapshot() []byte {
	ops := f.aclOps.Load()
	if f.acl == nil || ops == 0 {
		return nil
	}
	data, err := f.acl.MarshalBinary()
	if err != nil {
		return nil
	}
	out := binary.AppendUvarint([]byte(aclSnapMagic), ops)
	out = binary.AppendUvarint(out, uint64(len(data)))
	return append(out, data...)
}

// maxACLSnapshot bounds the ACL section a snapshot may claim.
const maxACLSnapshot = 64 << 20

// readACLSection reads the ACL section at the start of a snapshot, if
// there is one — the count of changes applied and the users — and returns
// it with a reader of the store's snapshot.
func readACLSection(r io.Reader) (ops uint64, section []byte, rest io.Reader, err error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(len(aclSnapMagic))
	if err != nil || !bytes.Equal(head, []byte(aclSnapMagic)) {
		return 0, nil, br, nil // the store reports a short or bad snapshot
	}
	if _, err := br.Discard(len(aclSnapMagic)); err != nil {
		return 0, nil, nil, err
	}
	ops, err = binary.ReadUvarint(br)
	if err != nil || ops == 0 {
		return 0, nil, nil, fmt.Errorf("%w: bad ACL section", store.ErrCorruptSnapshot)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > maxACLSnapshot {
		return 0, nil, nil, fmt.Errorf("%w: bad ACL section", store.ErrCorruptSnapshot)
	}
	section = make([]byte, n)
	if _, err := io.ReadFull(br, section); err != nil {
		return 0, nil, nil, fmt.Errorf("%w: short ACL section", store.ErrCorruptSnapshot)
	}
	return ops, section, br, nil
}
