package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// logIndexes are a replica's applied, commit and last log indexes.
type logIndexes struct{ applied, commit, last uint64 }

// indexesOf asks the node at clusterAddr (or this node) for its indexes of
// the shard.
func (n *Node) indexesOf(ctx context.Context, shard int, id, clusterAddr string) (logIndexes, error) {
	if id == n.meta.NodeID {
		r := n.shards[shard].raft
		return logIndexes{r.AppliedIndex(), r.CommitIndex(), r.LastIndex()}, nil
	}
	req := binary.BigEndian.AppendUint16([]byte{opIndexes}, uint16(shard))
	status, body, err := n.rpcTo(clusterAddr).call(ctx, req)
	if err != nil {
		return logIndexes{}, err
	}
	if status != statusOK || len(body) != 24 {
		return logIndexes{}, fmt.Errorf("indexes of shard %d from %s: %s", shard, id, body)
	}
	return logIndexes{
		applied: binary.BigEndian.Uint64(body),
		commit:  binary.BigEndian.Uint64(body[8:]),
		last:    binary.BigEndian.Uint64(body[16:]),
	}, nil
}

// replicasHolding counts the shard's voters other than its leader whose
// log holds everything the leader had committed when the call began,
// and so every write acknowledged before it. The voters are asked at
// once: one that does not answer (stopped, cut off) holds up only its own
// answer, not the others'.
func (n *Node) replicasHolding(ctx context.Context, shard int) (int, error) {
	s := n.shards[shard]
	leaderAddr, leaderID := s.raft.LeaderWithID()
	if leaderID == "" {
		return 0, s.notLeader()
	}
	lead, err := n.indexesOf(ctx, shard, string(leaderID), string(leaderAddr))
	if err != nil {
		return 0, err
	}
	voters, err := s.Voters()
	if err != nil {
		return 0, err
	}
	var count atomic.Int32
	var wg sync.WaitGroup
	for _, v := range voters {
		if v.ID == leaderID || v.Suffrage != raft.Voter {
			continue
		}
		wg.Go(func() {
			idx, err := n.indexesOf(ctx, shard, string(v.ID), string(v.Address))
			if err == nil && idx.last >= lead.commit {
				count.Add(1)
			}
		})
	}
	wg.Wait()
	return int(count.Load()), nil
}

// WaitReplicas implements WAIT: it returns the number of replicas (other
// than the leader) holding every write acknowledged on the given shards
// before the call — the smallest count over those shards — waiting up to
// timeout (0: until ctx ends) for at least numreplicas.
//
// Each shard's count is the most replicas any round of asking found: a
// replica that held the writes once has acknowledged them, and a round
// cut short by the deadline (or by a replica that does not answer) must
// not take back what an earlier round counted.
func (n *Node) WaitReplicas(ctx context.Context, shards []int, numreplicas int, timeout time.Duration) (int, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	held := make([]int, len(shards))
	for {
		least := -1
		for i, shard := range shards {
			if c, err := n.replicasHolding(ctx, shard); err == nil {
				held[i] = max(held[i], c)
			}
			if least < 0 || held[i] < least {
				least = held[i]
			}
		}
		if least < 0 {
			least = len(n.meta.Peers) - 1 // no writes on this connection yet
		}
		if least >= numreplicas {
			return least, nil
		}
		select {
		case <-ctx.Done():
			return least, nil
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Lag is how far one replica of a shard trails the shard's leader.
type Lag struct {
	ID string
	// Entries is the leader's last log index minus the replica's; -1 when
	// the replica did not answer.
	Entries int64
}

// FollowerLag reports, for a shard this node leads, each other voter's
// lag behind this node's log; nil when this node does not lead it.
func (n *Node) FollowerLag(ctx context.Context, shard int) []Lag {
	s := n.shards[shard]
	if !s.IsLeader() {
		return nil
	}
	voters, err := s.Voters()
	if err != nil {
		return nil
	}
	last := s.raft.LastIndex()
	out := make([]Lag, 0, len(voters)) // never reallocated: the goroutines hold pointers into it
	var wg sync.WaitGroup
	for _, v := range voters {
		if string(v.ID) == n.meta.NodeID {
			continue
		}
		out = append(out, Lag{ID: string(v.ID), Entries: -1})
		l := &out[len(out)-1]
		wg.Go(func() {
			if idx, err := n.indexesOf(ctx, shard, string(v.ID), string(v.Address)); err == nil {
				l.Entries = int64(last) - int64(idx.last)
			}
		})
	}
	wg.Wait()
	return out
}
