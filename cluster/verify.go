package cluster

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.uber.org/zap"
)

// ErrCorruptLog is wrapped by the error Open returns when a shard's Raft
// log on disk fails its checks.
var ErrCorruptLog = errors.New("raft log is damaged")

// monotonicLog is a shard's bbolt log store, declared gap-free to
// hashicorp/raft. For a store that does not say so, raft keeps a
// follower's old log tail when it installs a snapshot: the log then holds
// stale entries, a gap the snapshot covers, and the new entries. Declared
// monotonic, raft deletes the whole old log on install instead. Our logs
// are bounded by --snapshot-bytes, so that delete is bounded too.
type monotonicLog struct{ *raftboltdb.BoltStore }

// IsMonotonic implements raft.MonotonicLogStore.
func (monotonicLog) IsMonotonic() bool { return true }

// latestSnapshotIndex is the log index the newest snapshot covers, 0 when
// there is none.
func latestSnapshotIndex(snaps raft.SnapshotStore) (uint64, error) {
	metas, err := snaps.List()
	if err != nil {
		return 0, fmt.Errorf("list snapshots: %w", err)
	}
	if len(metas) == 0 {
		return 0, nil
	}
	return metas[0].Index, nil // newest first
}

// verifyLog reads every entry of a shard's log and checks it: each must
// load, and each command entry must pass its checksum. A node whose log is
// damaged must not start: it could serve, or replicate, wrong data. bbolt
// panics on some kinds of damage; that is reported as damage too.
//
// A gap at or below snapIndex is not damage: it is what a snapshot
// install left in a log written before the store was declared monotonic.
// The entries the snapshot covers are then deleted, so that the stale
// tail before the gap can never be replicated, and the rest is checked.
func verifyLog(shard int, logs raft.LogStore, snapIndex uint64, log *zap.Logger) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("shard %d: %w: reading it panicked: %v", shard, ErrCorruptLog, p)
		}
	}()
	first, err := logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("shard %d: %w: first index: %w", shard, ErrCorruptLog, err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return fmt.Errorf("shard %d: %w: last index: %w", shard, ErrCorruptLog, err)
	}
	if first == 0 && last == 0 {
		return nil
	}
	var l raft.Log
	for i := first; i <= last; i++ {
		if err := logs.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) && i <= snapIndex {
				cut := min(snapIndex, last)
				log.Info("log has a gap the latest snapshot covers; deleting the entries it covers",
					zap.Uint64("gap", i), zap.Uint64("from", first), zap.Uint64("to", cut))
				if err := logs.DeleteRange(first, cut); err != nil {
					return fmt.Errorf("shard %d: delete log entries %d-%d covered by snapshot %d: %w",
						shard, first, cut, snapIndex, err)
				}
				i = cut
				continue
			}
			return fmt.Errorf("shard %d: %w: entry %d: %w", shard, ErrCorruptLog, i, err)
		}
		if l.Index != i {
			return fmt.Errorf("shard %d: %w: entry %d is stored as %d", shard, ErrCorruptLog, i, l.Index)
		}
		if l.Type == raft.LogCommand {
			if _, err := decodeEntry(l.Data); err != nil {
				return fmt.Errorf("shard %d: %w: entry %d: %w", shard, ErrCorruptLog, i, err)
			}
		}
	}
	return nil
}
