package cluster

import (
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/raftcache/raftcache/store"
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
	if sc.id == aclShard {
		s.fsm.holdACL(sc.cfg.ACL)
	}
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
	s.wg.Add(5)
	go s.snapshotBySize()
	go s.proposer()
	go s.committer()
	go s.runLeadership() // the leader-only loops start and stop in there
	go s.watchLeaderChanges(observations)
	return s, nil
}

func (s *Shard) closeStorage() {
	for _, c := range s.closers {
		_ = c()
	}
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
