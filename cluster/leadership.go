package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/raftcache/raftcache/store"
)

// watchLeaderChanges wakes everyone waiting on leaderChanged at each
// leader observation.
func (s *Shard) watchLeaderChanges(obs <-chan raft.Observation) {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case o := <-obs:
			s.countLeaderChange(o)
			s.leaderMu.Lock()
			close(s.leaderCh)
			s.leaderCh = make(chan struct{})
			s.leaderMu.Unlock()
		}
	}
}

// leaderChanged returns a channel closed at the next leader change this
// node observes.
func (s *Shard) leaderChanged() <-chan struct{} {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	return s.leaderCh
}

// watchLeadership runs a Barrier after every election this node wins, then
// marks the term ready for reads. Losing and regaining leadership starts a
// new term, which needs its own barrier.
func (s *Shard) watchLeadership() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case isLeader := <-s.raft.LeaderCh():
			if !isLeader {
				s.lease.drop()
				s.log.Info("shard leadership lost")
				continue
			}
			term := s.raft.CurrentTerm()
			start := time.Now()
			if err := s.wait(s.raft.Barrier(s.applyLimit)); err != nil {
				s.log.Warn("post-election barrier failed", zap.Uint64("term", term), zap.Error(err))
				continue
			}
			if s.raft.CurrentTerm() == term && s.raft.State() == raft.Leader {
				s.readySince.Store(time.Now().UnixNano())
				s.readyTerm.Store(term)
				s.log.Info("shard leader ready", zap.Uint64("term", term),
					zap.Duration("barrier", time.Since(start)))
			}
		}
	}
}

// expireLoop removes expired keys through the log while this node leads:
// every tick it proposes the removal of a bounded batch, so the work per
// tick is bounded and every replica removes the same keys.
func (s *Shard) expireLoop() {
	defer s.wg.Done()
	const batch = 256
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	cursor := 0
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.raft.State() != raft.Leader {
			continue
		}
		keys, next := s.store.ExpiredKeys(time.Now().UnixMilli(), cursor, batch)
		cursor = next
		if len(keys) == 0 {
			continue
		}
		cmd := make([][]byte, 0, len(keys)+1)
		cmd = append(cmd, []byte(store.CmdDropExpired))
		cmd = append(cmd, keys...)
		ctx, cancel := context.WithTimeout(context.Background(), s.applyLimit)
		if _, err := s.Propose(ctx, [][][]byte{cmd}); err != nil && !errors.Is(err, ErrNotLeader) {
			s.log.Warn("expiry proposal failed", zap.Error(err))
		} else if err == nil {
			s.stats.expired.Add(uint64(len(keys)))
		}
		cancel()
	}
}
