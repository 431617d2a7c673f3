package cluster

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// ErrCorruptLog is wrapped by the error Open returns when a shard's Raft
// log on disk fails its checks.
var ErrCorruptLog = errors.New("raft log is damaged")

// verifyLog reads every entry of a shard's log and checks it: each must
// load, and each command entry must pass its checksum. A node whose log is
// damaged must not start: it could serve, or replicate, wrong data. bbolt
// panics on some kinds of damage; that is reported as damage too.
func verifyLog(shard int, logs raft.LogStore) (err error) {
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
