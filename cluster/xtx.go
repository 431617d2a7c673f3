package cluster

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/raftcache/raftcache/store"
)

// Resolving cross-shard transactions whose coordinator went quiet (see
// DESIGN.md, "Cross-shard transactions"). The coordinator is any node's
// server and holds nothing that matters: every prepared participant keeps
// its record and locks in its own log. When a record outlives its
// deadline, the participant's leader asks the decision shard
// (raftcache.xresolve: the decision, or abort recorded now if there is
// none) and applies the answer to its own shard with raftcache.xcommit or
// raftcache.xabort. A new leader inherits the records with the log, so it
// finishes what an old one — or a dead coordinator — started.

const (
	// resolveEvery is how often a leader looks for overdue records.
	resolveEvery = 200 * time.Millisecond
	// resolveMargin is how long past its deadline (the coordinator's
	// clock) a record waits before its leader (another node's clock)
	// resolves it: the allowance for clock difference between nodes.
	// Resolving early is safe — the decision shard records abort and the
	// coordinator's later decide answers abort — but it fails a
	// transaction that was only slow.
	resolveMargin = 2 * time.Second
)

// resolveLoop resolves overdue records of the shards this node leads.
func (n *Node) resolveLoop() {
	defer n.wg.Done()
	tickUntil(n.stop, resolveEvery, func() {
		for _, s := range n.shards {
			if _, ok := s.leaderReady(); ok && s.store.HasXRecords() {
				n.resolveShard(s)
			}
		}
	})
}

// resolveShard resolves the overdue records of s, which this node leads.
func (n *Node) resolveShard(s *Shard) {
	before := time.Now().Add(-resolveMargin).UnixMilli()
	pending, err := store.ParseXPending(s.store.Read(before, store.XPendingArgs(before)))
	if err != nil {
		s.log.Warn("read overdue cross-shard transactions", zap.Error(err))
		return
	}
	for _, p := range pending {
		ctx, cancel := context.WithTimeout(context.Background(), 2*s.applyLimit)
		err := n.resolveOne(ctx, s, p)
		cancel()
		if err != nil {
			// Most likely the decision shard (or this leadership) is out
			// of reach: the rest waits for the next round rather than
			// each taking the timeout, and the warning is said once in a
			// while rather than every round of a partition.
			if !errors.Is(err, ErrNotLeader) && time.Since(s.resolveWarned) > resolveWarnEvery {
				s.resolveWarned = time.Now()
				s.log.Warn("resolve cross-shard transaction", zap.ByteString("txid", p.ID),
					zap.Int("decision_shard", p.DecisionShard), zap.Int("pending", len(pending)), zap.Error(err))
			}
			return
		}
	}
}

// resolveWarnEvery bounds how often a shard warns that it cannot resolve.
const resolveWarnEvery = 5 * time.Second

func (n *Node) resolveOne(ctx context.Context, s *Shard, p store.XPending) error {
	if p.DecisionShard < 0 || p.DecisionShard >= len(n.shards) {
		return errors.New("decision shard out of range")
	}
	rs, err := n.Propose(ctx, p.DecisionShard, [][][]byte{store.XResolveArgs(p.ID, p.Deadline, s.id)})
	if err != nil {
		return err
	}
	decision, finish, err := store.ParseXResolve(p.ID, rs[0])
	switch {
	case err != nil:
		return err
	case decision == string(store.XAborted.Str):
		finish = store.XTxArgs(store.CmdXAbort, p.ID)
	case decision != string(store.XCommitted.Str):
		// Too old for the decision shard to remember: never guess; the
		// keys stay locked for an operator to look at.
		s.log.Error("cross-shard transaction outcome unknown; its keys stay locked",
			zap.ByteString("txid", p.ID), zap.Int("decision_shard", p.DecisionShard))
		return nil
	}
	if _, err := s.Propose(ctx, [][][]byte{finish}); err != nil {
		return err
	}
	s.log.Info("resolved a cross-shard transaction its coordinator left",
		zap.ByteString("txid", p.ID), zap.String("outcome", decision))
	return nil
}
