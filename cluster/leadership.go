package cluster

import (
	"context"
	"errors"
	"sync"
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

// The leadership room: the one place where a shard's leader-only work
// starts and stops, after hashicorp/nomad's establishLeadership and
// revokeLeadership (nomad/leader.go).
//
// runLeadership follows raft's LeaderCh. On gaining leadership it runs a
// Barrier, so that everything committed before the election is applied
// here, marks the term ready for reads (readyTerm) and opens the room: the
// shard's leader-only loops start, with a context of the room's own. On
// losing leadership it closes the room: it cancels that context, waits for
// the loops to return and drops the read lease. Nothing leader-only
// outlives the room, and nothing starts before the barrier.
//
// Lost and regained: LeaderCh keeps only the newest value, so a loss
// followed at once by a new election can arrive as a single true. A true
// while the room is open therefore means a new term: the room is closed
// and opened again, behind a barrier of the new term (reads check the
// term against readyTerm, so they never lean on the old barrier).
//
// A barrier that fails while this node still leads in the same term is
// tried again (barrierRetry later): raft refuses it while a leadership
// transfer is in progress (the balancer may start one right after an
// election), and a transfer that fails leaves this node leading a term
// that would otherwise never serve reads nor run its leader-only work.
// A barrier that fails because leadership was lost, or raft shut down,
// leaves the room closed; LeaderCh then brings the loss.
//
// Node-wide loops act for every shard this node leads at once, so they run
// for the node's life (startLeaderLoops) and ask each shard, every round,
// whether it leads: leaseLoop sends one lease RPC per peer for all of them;
// evictLoop measures the node's memory on every node (MemoryUsed serves
// followers too) and evicts only for shards whose room is open
// (leaderReady); balanceLoop keeps a node-wide "healthy since" clock.

// barrierRetry is how long a leader waits before it tries a failed
// post-election barrier again.
const barrierRetry = 50 * time.Millisecond

// leaderRoom is what runLeadership holds while the room is open.
type leaderRoom struct {
	term   uint64             // the term the room was opened in
	cancel context.CancelFunc // nil while the room is closed
	loops  sync.WaitGroup
}

func (r *leaderRoom) open() bool { return r.cancel != nil }

// runLeadership opens and closes the shard's leadership room as this node
// gains and loses leadership, until the shard closes.
func (s *Shard) runLeadership() {
	defer s.wg.Done()
	var room leaderRoom
	defer s.revokeLeadership(&room)
	for {
		select {
		case <-s.stop:
			return
		case isLeader := <-s.raft.LeaderCh():
			if !isLeader {
				s.revokeLeadership(&room)
				s.log.Info("shard leadership lost")
				continue
			}
			if room.open() {
				s.log.Info("shard leadership lost and regained", zap.Uint64("old_term", room.term))
				s.revokeLeadership(&room)
			}
			s.establishLeadership(&room)
		}
	}
}

// establishLeadership runs the post-election barrier and, if this node
// still leads in the same term, marks the term ready and starts the
// leader-only loops.
func (s *Shard) establishLeadership(room *leaderRoom) {
	term := s.raft.CurrentTerm()
	start := time.Now()
	for tries := 0; ; tries++ {
		err := s.wait(s.raft.Barrier(s.applyLimit))
		if err == nil {
			break
		}
		stillLeading := s.raft.CurrentTerm() == term && s.raft.State() == raft.Leader
		if tries == 0 || !stillLeading {
			s.log.Warn("post-election barrier failed", zap.Uint64("term", term),
				zap.Bool("retrying", stillLeading), zap.Error(err))
		}
		if !stillLeading || errors.Is(err, raft.ErrRaftShutdown) {
			return
		}
		select {
		case <-s.stop:
			return
		case <-time.After(barrierRetry):
		}
	}
	if s.raft.CurrentTerm() != term || s.raft.State() != raft.Leader {
		return // lost during the barrier; LeaderCh brings the news
	}
	s.readySince.Store(time.Now().UnixNano())
	s.readyTerm.Store(term)
	s.log.Info("shard leader ready", zap.Uint64("term", term),
		zap.Duration("barrier", time.Since(start)))
	ctx, cancel := context.WithCancel(context.Background())
	room.term, room.cancel = term, cancel
	room.loops.Go(func() { s.expireLoop(ctx) })
}

// revokeLeadership stops the leader-only loops, waits for them, and drops
// the read lease. It does nothing to a closed room but drop the lease.
func (s *Shard) revokeLeadership(room *leaderRoom) {
	if room.open() {
		room.cancel()
		room.loops.Wait()
		room.term, room.cancel = 0, nil
	}
	s.lease.drop()
}

// leaderReady reports whether this node leads the shard in a term whose
// post-election barrier has completed, and the term it read.
func (s *Shard) leaderReady() (term uint64, ok bool) {
	term = s.raft.CurrentTerm()
	return term, s.raft.State() == raft.Leader && s.readyTerm.Load() == term
}

// expireLoop removes expired keys through the log while the room is open:
// every tick it proposes the removal of a bounded batch, so the work per
// tick is bounded and every replica removes the same keys.
func (s *Shard) expireLoop(ctx context.Context) {
	const batch = 256
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	cursor := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The room closes only once LeaderCh has told of the loss; raft's
		// state knows first.
		if s.raft.State() != raft.Leader {
			continue
		}
		keys, next := s.store.ExpiredKeys(time.Now().UnixMilli(), cursor, batch)
		cursor = next
		if len(keys) == 0 {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, s.applyLimit)
		_, err := s.Propose(pctx, [][][]byte{store.DropExpiredArgs(keys)})
		cancel()
		switch {
		case err == nil:
			s.stats.expired.Add(uint64(len(keys)))
		case errors.Is(err, ErrNotLeader), ctx.Err() != nil:
		default:
			s.log.Warn("expiry proposal failed", zap.Error(err))
		}
	}
}

// tickUntil runs fn every interval until stop is closed.
func tickUntil(stop <-chan struct{}, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		fn()
	}
}

// startLeaderLoops starts the node-wide loops that act for the shards this
// node leads (see the room above for why they are node-wide).
func (n *Node) startLeaderLoops() {
	if !n.cfg.NoBalance {
		n.wg.Add(1)
		go n.balanceLoop()
	}
	n.wg.Add(1)
	go n.leaseLoop()
	n.wg.Add(1)
	go n.resolveLoop()
}
