package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
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

// shardConfig is what a shard needs to know besides its storage.
type shardConfig struct {
	id, firstSlot, lastSlot int
	nodeID                  string
	log                     *zap.Logger
	cfg                     Config // timeouts and snapshot settings
	// bootstrap is the voter list used when the storage holds no state.
	bootstrap []raft.Server
	// clientAddrOf maps a node ID to its client address, for redirects.
	clientAddrOf func(id string) string
}

// shardStorage is a shard's Raft storage and transport. closers are
// closed, in order, when the shard closes (or fails to start).
type shardStorage struct {
	logs      raft.LogStore
	stable    raft.StableStore
	snapshots raft.SnapshotStore
	transport raft.Transport
	closers   []func() error
	// abortRPCs, if set, fails the transport's RPCs in flight; a closing
	// shard calls it so that raft's shutdown does not wait on a dead peer.
	abortRPCs func()
}

// logCacheEntries is how many of the newest log entries each shard keeps
// decoded in memory (raft.LogCache). An entry is one group-commit batch.
const logCacheEntries = 256

// openShard opens (or creates) the shard's Raft storage under the node's
// data directory and starts its Raft group on layer, its route on the mux.
func openShard(n *Node, id, first, last int, layer *streamLayer) (*Shard, error) {
	dir := n.shardDir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create shard %d dir: %w", id, err)
	}
	log := n.log.Named("shard").With(zap.Int("shard", id))
	var (
		logStore interface {
			raft.LogStore
			raft.StableStore
		}
		closers []func() error
	)
	if n.wal != nil {
		logStore = n.wal.Shard(uint32(id)) // the node closes the WAL
	} else {
		bolt, err := n.openBolt(id)
		if err != nil {
			return nil, err
		}
		logStore = monotonicLog{bolt}
		closers = append(closers, bolt.Close)
	}
	closeStore := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	// Recent entries stay decoded in memory: the leader reads each entry
	// back once per follower to replicate it, and followers read it back
	// to apply it.
	logs, err := raft.NewLogCache(logCacheEntries, logStore)
	if err != nil {
		closeStore()
		return nil, fmt.Errorf("open shard %d log cache: %w", id, err)
	}
	snapshots, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, newHclog(log.Named("snapshots")))
	if err != nil {
		closeStore()
		return nil, fmt.Errorf("open shard %d snapshots: %w", id, err)
	}
	snapIndex, err := latestSnapshotIndex(snapshots)
	if err != nil {
		closeStore()
		return nil, fmt.Errorf("open shard %d snapshots: %w", id, err)
	}
	if err := verifyLog(id, logStore, snapIndex, log); err != nil {
		closeStore()
		return nil, fmt.Errorf("%w; refusing to start. Rebuild this replica from its peers: stop the node, "+
			"move %s aside and start it again, and it catches up from the others "+
			"(a single-node cluster has no other copy)", err, dir)
	}
	transport := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  newHclog(log.Named("transport")),
	})
	var servers []raft.Server
	for _, p := range n.meta.Peers {
		if n.meta.Join {
			break // added later by CLUSTER MEET; never bootstrap
		}
		servers = append(servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(p.ID),
			Address:  raft.ServerAddress(p.ClusterAddr),
		})
	}
	var trans raft.Transport = drainingTransport{transport}
	closeTransport := transport.Close
	if !n.cfg.DisableReadLease {
		q := newVoteQuietTransport(drainingTransport{transport}, n.cfg.HeartbeatTimeout, log)
		trans, closeTransport = q, q.Close
	}
	return startShard(shardConfig{
		id: id, firstSlot: first, lastSlot: last,
		nodeID:       n.cfg.NodeID,
		log:          log,
		cfg:          n.cfg,
		bootstrap:    servers,
		clientAddrOf: n.clientAddrOf,
	}, shardStorage{
		logs: logs, stable: logStore, snapshots: snapshots, transport: trans,
		closers:   append([]func() error{closeTransport}, closers...),
		abortRPCs: layer.abort,
	})
}

// startShard starts a shard's Raft group on the given storage,
// bootstrapping it with sc.bootstrap when the storage is empty.
func startShard(sc shardConfig, st shardStorage) (*Shard, error) {
	s := &Shard{
		id:           sc.id,
		firstSlot:    sc.firstSlot,
		lastSlot:     sc.lastSlot,
		log:          sc.log,
		clientAddrOf: sc.clientAddrOf,
		store:        store.New(),
		snapshots:    st.snapshots,
		closers:      st.closers,
		abortRPCs:    st.abortRPCs,
		applyLimit:   sc.cfg.ApplyTimeout,
		stop:         make(chan struct{}),
		leaderCh:     make(chan struct{}),
		proposals:    make(chan *proposal, 4096),
		inflight:     make(chan inflightEntry, maxInflight),
	}
	s.verify.r = s
	if !sc.cfg.DisableReadLease {
		s.lease.duration = sc.cfg.readLease()
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(sc.nodeID)
	rc.HeartbeatTimeout = sc.cfg.HeartbeatTimeout
	rc.ElectionTimeout = sc.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = sc.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = 20 * time.Millisecond
	rc.SnapshotThreshold = sc.cfg.SnapshotThreshold
	rc.SnapshotInterval = sc.cfg.SnapshotInterval
	rc.TrailingLogs = sc.cfg.TrailingLogs
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	rc.Logger = newHclog(s.log.Named("raft"))
	if err := raft.ValidateConfig(rc); err != nil {
		s.closeStorage()
		return nil, fmt.Errorf("shard %d raft config: %w", sc.id, err)
	}

	existing, err := raft.HasExistingState(st.logs, st.stable, st.snapshots)
	if err != nil {
		s.closeStorage()
		return nil, fmt.Errorf("shard %d read raft state: %w", sc.id, err)
	}
	switch {
	case !existing && len(sc.bootstrap) == 0:
		s.log.Info("shard has no state and no bootstrap voters; waiting to be added to the group")
	case !existing:
		if err := raft.BootstrapCluster(rc, st.logs, st.stable, st.snapshots, st.transport,
			raft.Configuration{Servers: sc.bootstrap}); err != nil {
			s.closeStorage()
			return nil, fmt.Errorf("bootstrap shard %d: %w", sc.id, err)
		}
		s.log.Info("shard bootstrapped", zap.Int("voters", len(sc.bootstrap)))
	}

	s.fsm = &fsm{shard: sc.id, store: s.store}
	s.snapshotBytes = sc.cfg.SnapshotBytes
	s.raft, err = raft.NewRaft(rc, s.fsm, st.logs, st.stable, st.snapshots, st.transport)
	if err != nil {
		s.closeStorage()
		return nil, fmt.Errorf("start shard %d raft: %w", sc.id, err)
	}
	observations := make(chan raft.Observation, 16)
	s.observer = raft.NewObserver(observations, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	s.raft.RegisterObserver(s.observer)
	s.wg.Add(6)
	go s.snapshotBySize()
	go s.proposer()
	go s.committer()
	go s.watchLeadership()
	go s.expireLoop()
	go s.watchLeaderChanges(observations)
	return s, nil
}

func (s *Shard) closeStorage() {
	for _, c := range s.closers {
		_ = c()
	}
}

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

// close stops the shard's Raft group and releases its files.
func (s *Shard) close() error {
	close(s.stop)
	s.raft.DeregisterObserver(s.observer)
	f := s.raft.Shutdown()
	if s.abortRPCs != nil {
		// A heartbeat to a peer that died without closing its socket
		// would hold the shutdown for the transport's whole timeout.
		s.abortRPCs()
	}
	err := f.Error()
	s.wg.Wait()
	s.closeStorage()
	if err != nil {
		return fmt.Errorf("shut down shard %d: %w", s.id, err)
	}
	return nil
}

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

// Digest returns the digest of this replica's keyspace (store.Digest).
func (s *Shard) Digest() [20]byte { return s.store.Digest() }

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
	term := s.raft.CurrentTerm()
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
		ReadyForLinearRead: s.raft.State() == raft.Leader && s.readyTerm.Load() == term,
		LeaseRemaining:     s.lease.remaining(term),
	}
}

// AddVoter adds a node to the shard's Raft group as a voter. It must run
// on the shard's leader; Raft changes membership one server at a time.
func (s *Shard) AddVoter(ctx context.Context, id, clusterAddr string) error {
	if s.raft.State() != raft.Leader {
		return s.notLeader()
	}
	s.membershipChanging()
	defer s.membershipChanging()
	f := s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(clusterAddr), 0, s.timeout(ctx))
	if err := f.Error(); err != nil {
		return fmt.Errorf("shard %d add voter %s: %w", s.id, id, err)
	}
	return nil
}

// RemoveServer removes a node from the shard's Raft group. It must run on
// the shard's leader.
func (s *Shard) RemoveServer(ctx context.Context, id string) error {
	if s.raft.State() != raft.Leader {
		return s.notLeader()
	}
	s.membershipChanging()
	defer s.membershipChanging()
	if err := s.raft.RemoveServer(raft.ServerID(id), 0, s.timeout(ctx)).Error(); err != nil {
		return fmt.Errorf("shard %d remove server %s: %w", s.id, id, err)
	}
	return nil
}

// Voters returns the shard's current voters (IDs and cluster addresses).
func (s *Shard) Voters() ([]raft.Server, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("shard %d configuration: %w", s.id, err)
	}
	return f.Configuration().Servers, nil
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

// snapshotBySize takes a snapshot once the entries applied since the last
// one add up to snapshotBytes. Raft's own trigger counts entries, and with
// group commit an entry may carry a thousand commands: counting bytes
// keeps the log on disk (and the pages of it mapped in memory) bounded.
func (s *Shard) snapshotBySize() {
	defer s.wg.Done()
	if s.snapshotBytes <= 0 {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.fsm.logBytes.Load() < s.snapshotBytes {
			continue
		}
		if err := s.Snapshot(); err != nil {
			s.log.Warn("snapshot by size failed", zap.Error(err))
		}
	}
}
