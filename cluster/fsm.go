package cluster

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// fsm adapts one shard's store to raft.FSM. It only decodes entries and
// delegates: all command semantics live in store.
//
// hashicorp/raft calls Apply, Snapshot and Restore from one goroutine, never
// concurrently; Persist runs concurrently with Apply, which the store's
// copy-on-write snapshot allows.
type fsm struct {
	shard int
	store *store.Store
	// logBytes counts the bytes of entries applied since the last
	// snapshot, for snapshots by size (see Shard.snapshotBySize).
	logBytes atomic.Int64
	// appendedAt is when the leader appended the newest entry applied
	// here (Unix nanoseconds by the leader's clock; 0: none since start),
	// for the replica's lag in seconds.
	appendedAt atomic.Int64
	// applied is the index of the newest command entry applied here (0:
	// none since start). raft's AppliedIndex counts entries handed to the
	// FSM goroutine, which may not have applied them yet; a restored
	// snapshot leaves applied as it was until the next entry.
	applied atomic.Uint64
	// acl is set on shard 0's FSM, which applies the ACL changes and
	// carries the users in its snapshots (acl.go); aclOps counts the
	// changes applied (replicated state: snapshots carry it).
	acl    *acl.Users
	aclOps atomic.Uint64
}

var _ raft.FSM = (*fsm)(nil)

// Apply applies one log entry and returns its replies ([]resp.Reply), one
// per command. A command's own failure (WRONGTYPE, ...) is a reply, not an
// error. An entry that does not decode means the log is damaged or was
// written by an incompatible version: applying past it would make this
// replica diverge, so Apply panics and the node stops.
func (f *fsm) Apply(l *raft.Log) interface{} {
	if l.Type != raft.LogCommand {
		return nil
	}
	f.logBytes.Add(int64(len(l.Data)))
	if !l.AppendedAt.IsZero() {
		f.appendedAt.Store(l.AppendedAt.UnixNano())
	}
	e, err := decodeEntry(l.Data)
	if err != nil {
		panic(fmt.Sprintf("shard %d: cannot apply log entry %d: %v", f.shard, l.Index, err))
	}
	replies := f.store.Apply(e.now, e.cmds, make([]resp.Reply, 0, len(e.cmds)))
	f.applied.Store(l.Index)
	return replies
}

// Snapshot freezes the store in O(slots); Persist writes it out.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.logBytes.Store(0)
	return fsmSnapshot{sn: f.store.Snapshot(), acl: f.aclSnapshot()}, nil
}

// Restore replaces the store with a snapshot. A damaged snapshot is refused
// and the store is left as it was.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	ops, section, rest, err := readACLSection(rc)
	if err != nil {
		return fmt.Errorf("restore shard %d: %w", f.shard, err)
	}
	if section != nil && f.acl != nil {
		// Checked before the store is replaced, so that a bad section
		// leaves both as they were.
		if err := acl.New().Restore(section); err != nil {
			return fmt.Errorf("restore shard %d ACL users: %w", f.shard, err)
		}
	}
	if err := f.store.Restore(rest); err != nil {
		return fmt.Errorf("restore shard %d: %w", f.shard, err)
	}
	if section != nil && f.acl != nil {
		if err := f.acl.Restore(section); err != nil {
			return fmt.Errorf("restore shard %d ACL users: %w", f.shard, err)
		}
		f.aclOps.Store(ops)
	}
	return nil
}

type fsmSnapshot struct {
	sn  *store.Snapshot
	acl []byte // the ACL section, written first (shard 0 only; see acl.go)
}

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if len(s.acl) > 0 {
		if _, err := sink.Write(s.acl); err != nil {
			_ = sink.Cancel()
			return err
		}
	}
	if _, err := s.sn.WriteTo(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s fsmSnapshot) Release() { s.sn.Release() }
