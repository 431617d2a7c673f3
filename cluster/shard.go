package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// Shard is one Raft group and the store it replicates: a contiguous range
// of slots. Its methods are safe for concurrent use.
type Shard struct {
	id           int
	firstSlot    int
	lastSlot     int
	log          *zap.Logger
	clientAddrOf func(id string) string
	store        *store.Store
	raft         *raft.Raft
	snapshots    raft.SnapshotStore
	closers      []func() error
	abortRPCs    func() // fails the transport's RPCs in flight
	applyLimit   time.Duration

	// readyTerm is the term in which this node, as leader, has applied
	// everything committed before its election (a Barrier). Reads are
	// served only while the current term equals it.
	fsm           *fsm
	snapshotBytes int64

	readyTerm atomic.Uint64
	// readySince is when readyTerm was last set (Unix ns).
	readySince atomic.Int64
	verify     verifier
	lease      lease
	// leaseReads counts read batches served under the lease.
	leaseReads atomic.Uint64
	// sole and soleGen remember soleVoter's answer (read.go).
	sole     atomic.Pointer[soleCache]
	soleGen  atomic.Uint64
	observer *raft.Observer
	stats    shardStats // measurements for metrics (observe.go)

	// proposals feed the group-commit loop; inflight carries its entries,
	// in log order, to the goroutine that answers them.
	proposals chan *proposal
	inflight  chan inflightEntry

	// leaderCh is closed, and replaced, whenever this node observes a
	// change of the shard's leader.
	leaderMu sync.Mutex
	leaderCh chan struct{}

	stop chan struct{}
	wg   sync.WaitGroup
	// resolveWarned is when resolveShard last warned (its loop only).
	resolveWarned time.Time
}

// NotLeaderError says this node does not lead the shard. The command was
// not proposed, so the client may safely retry elsewhere.
type NotLeaderError struct {
	Shard int
	// LeaderID and LeaderAddr (the leader's client address) are empty when
	// no leader is known.
	LeaderID   string
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return fmt.Sprintf("shard %d has no leader", e.Shard)
	}
	return fmt.Sprintf("shard %d is led by %s at %s", e.Shard, e.LeaderID, e.LeaderAddr)
}

// Is makes errors.Is(err, ErrNotLeader) true for every NotLeaderError.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// Errors a shard returns. ErrNotLeader means nothing was proposed;
// ErrUnknownOutcome means a write was proposed and may or may not apply.
var (
	ErrNotLeader      = errors.New("not the shard leader")
	ErrUnknownOutcome = errors.New("write outcome unknown")
	ErrShutdown       = errors.New("shard is shut down")
)

// ID returns the shard number.
func (s *Shard) ID() int { return s.id }

// Slots returns the first and last slot the shard owns.
func (s *Shard) Slots() (first, last int) { return s.firstSlot, s.lastSlot }

// IsLeader reports whether this node currently leads the shard.
func (s *Shard) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the leader's node ID, or "" when none is known.
func (s *Shard) Leader() string {
	_, id := s.raft.LeaderWithID()
	return string(id)
}

func (s *Shard) notLeader() error {
	_, id := s.raft.LeaderWithID()
	e := &NotLeaderError{Shard: s.id, LeaderID: string(id)}
	if id != "" {
		e.LeaderAddr = s.clientAddrOf(string(id))
	}
	return e
}

// Propose replicates cmds (in one log entry, possibly shared with other
// callers' commands: see groupcommit.go) and returns their replies once the
// entry is committed and applied here. cmds must not be changed until
// Propose returns. Errors: a *NotLeaderError (nothing proposed),
// ErrUnknownOutcome (the entry may still apply), or ctx's error before
// anything was proposed.
func (s *Shard) Propose(ctx context.Context, cmds [][][]byte) ([]resp.Reply, error) {
	if s.raft.State() != raft.Leader {
		return nil, s.notLeader()
	}
	p := &proposal{cmds: cmds, res: make(chan proposalResult, 1)}
	select {
	case s.proposals <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.stop:
		return nil, ErrShutdown
	}
	select {
	case r := <-p.res:
		return r.replies, r.err
	case <-s.stop:
		return nil, fmt.Errorf("shard %d: %w: %w", s.id, ErrUnknownOutcome, ErrShutdown)
	}
}

// applyError classifies the error of a failed raft.Apply.
func (s *Shard) applyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return s.notLeader()
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("shard %d: %w: %w", s.id, ErrUnknownOutcome, ErrShutdown)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrAbortedByRestore):
		s.log.Warn("write outcome unknown", zap.Error(err))
		return fmt.Errorf("shard %d: %w: %w", s.id, ErrUnknownOutcome, err)
	}
	// Anything else failed on this leader before the entry was stored
	// (raft answers a failed local log write, such as a full disk, with
	// the storage error and steps down): nothing was replicated.
	s.log.Error("write failed", zap.Error(err))
	return fmt.Errorf("shard %d: write not stored: %w", s.id, err)
}

// Digest returns the digest of this replica's keyspace (store.Digest).
func (s *Shard) Digest() [20]byte { return s.store.Digest() }

// Status describes the shard for INFO and CLUSTER views.
type Status struct {
	ID                 int
	FirstSlot          int
	LastSlot           int
	State              string
	LeaderID           string
	Term               uint64
	CommitIndex        uint64
	AppliedIndex       uint64
	LastIndex          uint64
	LastSnapshotIndex  uint64
	Keys, Expires      int
	Memory             store.MemoryStats
	ReadyForLinearRead bool
	// LeaseRemaining is how long this node's read lease still runs (0:
	// none).
	LeaseRemaining time.Duration
}

// Status returns the shard's current state.
func (s *Shard) Status() Status {
	st := s.store.Stats()
	_, leader := s.raft.LeaderWithID()
	var snapIndex uint64
	if metas, err := s.snapshots.List(); err == nil && len(metas) > 0 {
		snapIndex = metas[0].Index
	}
	term, ready := s.leaderReady()
	return Status{
		ID:                 s.id,
		FirstSlot:          s.firstSlot,
		LastSlot:           s.lastSlot,
		State:              s.raft.State().String(),
		LeaderID:           string(leader),
		Term:               term,
		CommitIndex:        s.raft.CommitIndex(),
		AppliedIndex:       s.raft.AppliedIndex(),
		LastIndex:          s.raft.LastIndex(),
		LastSnapshotIndex:  snapIndex,
		Keys:               st.Keys,
		Expires:            st.Expires,
		Memory:             s.store.Memory(),
		ReadyForLinearRead: ready,
		LeaseRemaining:     s.lease.remaining(term),
	}
}

// timeout is the apply timeout, shortened to ctx's deadline.
func (s *Shard) timeout(ctx context.Context) time.Duration {
	t := s.applyLimit
	if dl, ok := ctx.Deadline(); ok {
		t = min(t, time.Until(dl))
	}
	return t
}

// wait returns the future's error, or ErrShutdown if the shard closes
// first: hashicorp/raft does not answer futures still queued when it shuts
// down, and nothing may block Close on them.
func (s *Shard) wait(f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-s.stop:
		return raft.ErrRaftShutdown
	}
}
