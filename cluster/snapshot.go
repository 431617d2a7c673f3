package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// Snapshot asks Raft for a snapshot of the shard now.
func (s *Shard) Snapshot() error {
	if err := s.raft.Snapshot().Error(); err != nil {
		if errors.Is(err, raft.ErrNothingNewToSnapshot) {
			return nil
		}
		return fmt.Errorf("snapshot shard %d: %w", s.id, err)
	}
	return nil
}

// snapshotBySize takes a snapshot once the entries applied since the last
// one add up to snapshotBytes. Raft's own trigger counts entries, and with
// group commit an entry may carry a thousand commands: counting bytes
// keeps the log on disk (and the pages of it mapped in memory) bounded.
func (s *Shard) snapshotBySize() {
	defer s.wg.Done()
	if s.snapshotBytes <= 0 {
		return
	}
	tickUntil(s.stop, time.Second, func() {
		if s.fsm.logBytes.Load() < s.snapshotBytes {
			return
		}
		if err := s.Snapshot(); err != nil {
			s.log.Warn("snapshot by size failed", zap.Error(err))
		}
	})
}
