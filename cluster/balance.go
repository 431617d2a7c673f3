package cluster

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// Leadership balancing: shard i's preferred leader is the i-th voter in ID
// order (round robin), so with as many shards as nodes every node leads
// one shard and carries write load. Each node checks the shards it leads
// and hands leadership to the preferred node when that node is up and the
// cluster has been healthy for a while, so a node that returns after a
// failure gets its shards back.
const (
	balanceEvery   = time.Second
	balanceSettle  = 3 * time.Second  // healthy this long before moving leaders
	balanceBackoff = 10 * time.Second // after a failed transfer of a shard
)

// preferredLeader returns the voter that should lead shard id.
func preferredLeader(id int, voters []raft.Server) (raft.Server, bool) {
	var vs []raft.Server
	for _, v := range voters {
		if v.Suffrage == raft.Voter {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return raft.Server{}, false
	}
	slices.SortFunc(vs, func(a, b raft.Server) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return vs[id%len(vs)], true
}

func (n *Node) balanceLoop() {
	defer n.wg.Done()
	t := time.NewTicker(balanceEvery)
	defer t.Stop()
	var healthySince time.Time
	retryAfter := map[int]time.Time{}
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if !n.Ready() {
			healthySince = time.Time{}
			continue
		}
		if healthySince.IsZero() {
			healthySince = time.Now()
		}
		if time.Since(healthySince) < balanceSettle {
			continue
		}
		for _, s := range n.shards {
			if !s.IsLeader() || time.Now().Before(retryAfter[s.id]) {
				continue
			}
			voters, err := s.Voters()
			if err != nil {
				continue
			}
			want, ok := preferredLeader(s.id, voters)
			if !ok || string(want.ID) == n.meta.NodeID {
				continue
			}
			if err := n.transferLeadership(s, want); err != nil {
				retryAfter[s.id] = time.Now().Add(balanceBackoff)
				s.log.Info("leadership transfer not done", zap.String("to", string(want.ID)), zap.Error(err))
				continue
			}
			// One move per round: let the cluster settle before the next.
			healthySince = time.Now()
			break
		}
	}
}

// transferLeadership hands the shard to want if that node answers.
func (n *Node) transferLeadership(s *Shard, want raft.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := n.indexesOf(ctx, s.id, string(want.ID), string(want.Address)); err != nil {
		return err
	}
	s.log.Info("moving shard leadership to its preferred node", zap.String("to", string(want.ID)))
	err := s.transfer(func() raft.Future { return s.raft.LeadershipTransferToServer(want.ID, want.Address) })
	if err != nil && !errors.Is(err, raft.ErrNotLeader) {
		return err
	}
	return nil
}

// handOff transfers the shard's leadership to the most up-to-date other
// voter before a clean shutdown, so that its writes move on at once
// instead of after an election timeout. It gives up after about one
// election timeout (hashicorp/raft bounds the transfer).
func (s *Shard) handOff() {
	if !s.IsLeader() {
		return
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return
	}
	voters := 0
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			voters++
		}
	}
	if voters < 2 {
		return // no one to hand it to
	}
	start := time.Now()
	if err := s.transfer(func() raft.Future { return s.raft.LeadershipTransfer() }); err != nil {
		s.log.Info("leadership not handed off before shutdown", zap.Error(err))
		return
	}
	_, to := s.raft.LeaderWithID()
	s.log.Info("handed shard leadership off before shutdown", zap.String("to", string(to)),
		zap.Duration("took", time.Since(start)))
}
