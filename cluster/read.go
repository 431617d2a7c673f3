package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftcache/raftcache/resp"
)

// Read executes a read-only command linearizably: only on the leader,
// after it has applied everything committed before its election, and
// either under its lease (lease.go) or after it has confirmed, after the
// read arrived, that it is still the leader. Concurrent reads share one
// confirmation round.
func (s *Shard) Read(ctx context.Context, args [][]byte) (resp.Reply, error) {
	rs, err := s.ReadBatch(ctx, [][][]byte{args}, nil)
	if err != nil {
		return resp.Reply{}, err
	}
	return rs[0], nil
}

// ReadBatch is Read for several commands: one lease check or leadership
// confirmation, then every command in order against the same state. The
// replies are appended to out, which may be nil.
func (s *Shard) ReadBatch(ctx context.Context, cmds [][][]byte, out []resp.Reply) ([]resp.Reply, error) {
	if rs, ok := s.leaseRead(cmds, out); ok {
		return rs, nil
	}
	if err := s.readBarrier(ctx); err != nil {
		return out, err
	}
	now := time.Now().UnixMilli()
	for _, args := range cmds {
		out = append(out, s.store.Read(now, args))
	}
	return out, nil
}

// leaseRead serves cmds under the lease, if this node holds one for a
// term whose post-election barrier has completed. It reads the store
// first and checks the lease after: whatever pause falls between the two,
// the state read is then one no other leader can have changed.
func (s *Shard) leaseRead(cmds [][][]byte, out []resp.Reply) ([]resp.Reply, bool) {
	term := s.raft.CurrentTerm()
	if s.readyTerm.Load() != term || !s.lease.holds(term) {
		return out, false
	}
	n := len(out)
	now := time.Now().UnixMilli()
	for _, args := range cmds {
		out = append(out, s.store.Read(now, args))
	}
	if s.raft.State() == raft.Leader && s.raft.CurrentTerm() == term && s.lease.holds(term) {
		s.leaseReads.Add(1)
		return out, true
	}
	clear(out[n:])
	return out[:n], false
}

// ReadLocal executes a read-only command on this replica's state without
// any leadership check: possibly stale, for READONLY connections and
// introspection.
func (s *Shard) ReadLocal(args [][]byte) resp.Reply {
	return s.store.Read(time.Now().UnixMilli(), args)
}

// readBarrier returns nil once a read may be served linearizably.
func (s *Shard) readBarrier(ctx context.Context) error {
	if s.raft.State() != raft.Leader {
		return s.notLeader()
	}
	// A sole voter that leads cannot be deposed without its own vote: it
	// needs no confirmation round.
	if !s.soleVoter() {
		if err := s.verify.confirm(ctx); err != nil {
			if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
				return s.notLeader()
			}
			return fmt.Errorf("shard %d confirm leadership: %w", s.id, err)
		}
	}
	// Checked after the confirmation: if the term still equals readyTerm,
	// the confirmation happened in the term whose barrier has completed.
	if term := s.raft.CurrentTerm(); term != s.readyTerm.Load() {
		return s.waitReady(ctx)
	}
	return nil
}

// soleVoter reports whether this node, as the shard's leader, is its only
// voter (a single-node cluster), so reads need no leadership round trip.
// Raft uses the latest configuration, committed or not, the moment it is
// in the log; a voter added later is in it before it can vote.
//
// The answer is remembered for the term (asking raft for its configuration
// goes through its main loop and allocates, per read batch); a membership
// change this node starts (AddVoter, RemoveServer: the only way the
// configuration of a shard it leads changes) forgets it, before and after.
// While a voter is being added to a sole voter, no other node can be
// elected without this one's vote either.
func (s *Shard) soleVoter() bool {
	term, gen := s.raft.CurrentTerm(), s.soleGen.Load()
	if c := s.sole.Load(); c != nil && c.term == term && c.gen == gen {
		return c.sole
	}
	_, self := s.raft.LeaderWithID()
	voters := 0
	sole := true
	for _, srv := range s.raft.GetConfiguration().Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			if srv.ID != self {
				sole = false
			}
			voters++
		}
	}
	sole = sole && voters == 1
	s.sole.Store(&soleCache{term: term, gen: gen, sole: sole})
	return sole
}

// soleCache is soleVoter's answer for a term and a membership generation.
type soleCache struct {
	term, gen uint64
	sole      bool
}

// membershipChanging makes soleVoter ask again.
func (s *Shard) membershipChanging() { s.soleGen.Add(1) }

// waitReady waits, within ctx, for the post-election barrier.
func (s *Shard) waitReady(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if s.raft.State() != raft.Leader {
			return s.notLeader()
		}
		if s.raft.CurrentTerm() == s.readyTerm.Load() {
			// Confirm again: leadership must hold after readiness.
			if s.soleVoter() {
				// No other node can be elected without this one's vote, and this
				// one is the leader: it is the leader for as long as it is.
			} else if err := s.verify.confirm(ctx); err != nil {
				return s.notLeader()
			}
			if s.raft.CurrentTerm() == s.readyTerm.Load() {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return s.notLeader()
		case <-s.stop:
			return ErrShutdown
		case <-t.C:
		}
	}
}

// verifier shares one leadership confirmation (raft.VerifyLeader) among
// all reads waiting at the moment it starts; a read that arrives while a
// round is running waits for the next one, so every read's confirmation
// happens after the read arrived.
type verifier struct {
	r       *Shard
	mu      sync.Mutex
	waiting []chan error
	running bool
	rounds  atomic.Uint64 // VerifyLeader calls made
}

func (v *verifier) confirm(ctx context.Context) error {
	ch := make(chan error, 1)
	v.mu.Lock()
	v.waiting = append(v.waiting, ch)
	if !v.running {
		v.running = true
		go v.loop()
	}
	v.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (v *verifier) loop() {
	for {
		v.mu.Lock()
		batch := v.waiting
		v.waiting = nil
		if len(batch) == 0 {
			v.running = false
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
		v.rounds.Add(1)
		err := v.r.raft.VerifyLeader().Error()
		for _, ch := range batch {
			ch <- err
		}
	}
}
