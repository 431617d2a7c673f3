package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/raftcache/raftcache/resp"
)

// noLeaderWait bounds how long a command waits for a shard to elect a
// leader before the client is told the cluster is down. It covers a
// failover under the default timeouts.
const noLeaderWait = 5 * time.Second

// Propose applies cmds on the shard's leader, wherever it is: locally when
// this node leads, else forwarded over the cluster port. While the shard
// has no leader it waits (up to noLeaderWait, within ctx) for one. Errors
// are those of Shard.Propose; a *NotLeaderError still means the commands
// were never proposed.
func (n *Node) Propose(ctx context.Context, shard int, cmds [][][]byte) ([]resp.Reply, error) {
	var replies []resp.Reply
	err := n.onLeader(ctx, shard, func(s *Shard) error {
		var err error
		replies, err = s.Propose(ctx, cmds)
		return err
	}, func(ctx context.Context, addr string) error {
		body, err := n.forward(ctx, addr, opPropose, shard, cmds)
		if err != nil {
			return err
		}
		replies, err = resp.DecodeReplies(body)
		return err
	})
	return replies, err
}

// Read executes a read-only command linearizably on the shard's leader,
// forwarding it when another node leads.
func (n *Node) Read(ctx context.Context, shard int, args [][]byte) (resp.Reply, error) {
	rs, err := n.ReadBatch(ctx, shard, [][][]byte{args}, nil)
	if err != nil {
		return resp.Reply{}, err
	}
	return rs[0], nil
}

// ReadBatch executes read-only commands linearizably on the shard's
// leader, all after one leadership confirmation, in order, and returns one
// reply per command.
func (n *Node) ReadBatch(ctx context.Context, shard int, cmds [][][]byte, out []resp.Reply) ([]resp.Reply, error) {
	replies := out
	err := n.onLeader(ctx, shard, func(s *Shard) error {
		var err error
		replies, err = s.ReadBatch(ctx, cmds, out)
		return err
	}, func(ctx context.Context, addr string) error {
		body, err := n.forward(ctx, addr, opRead, shard, cmds)
		if err != nil {
			return err
		}
		rs, err := resp.DecodeReplies(body)
		if err == nil && len(rs) != len(cmds) {
			err = resp.ErrBadBinary
		}
		replies = rs
		return err
	})
	return replies, err
}

// onLeader runs local when this node leads the shard and remote with the
// leader's cluster address when another node does, retrying while the
// answer is "not the leader" (nothing was proposed, so a retry is safe)
// until a leader answers, ctx ends or noLeaderWait passes.
func (n *Node) onLeader(ctx context.Context, shard int, local func(*Shard) error,
	remote func(ctx context.Context, addr string) error) error {
	if n.removed.Load() {
		return ErrRemoved
	}
	s := n.shards[shard]
	deadline := time.Now().Add(noLeaderWait)
	backoff := 10 * time.Millisecond
	for {
		var err error
		// Taken before the attempt: a leader elected while it runs wakes
		// the retry at once instead of after the backoff.
		changed := s.leaderChanged()
		addr, id := s.raft.LeaderWithID()
		if id == "" || string(id) == n.meta.NodeID {
			err = local(s)
		} else {
			err = n.whileLeader(ctx, s, string(id), func(ctx context.Context) error {
				return remote(ctx, string(addr))
			})
		}
		if !errors.Is(err, ErrNotLeader) {
			return err
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-n.stop:
			return ErrShutdown
		case <-changed:
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// whileLeader runs call with a context that is cancelled as soon as this
// node sees the shard's leadership change, so that a command forwarded to
// a leader that stopped (SIGSTOP, a cut link) is abandoned when the shard
// fails over instead of waiting for the RPC timeout. An abandoned write is
// reported as an unknown outcome by forward; an abandoned read is retried.
func (n *Node) whileLeader(ctx context.Context, s *Shard, leader string, call func(context.Context) error) error {
	changed := s.leaderChanged()
	if s.Leader() != leader {
		return &NotLeaderError{Shard: s.id}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-changed:
			cancel()
		case <-ctx.Done():
		}
	}()
	return call(ctx)
}
