package cluster

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftcache/raftcache/internal/hist"
)

// Measurements for metrics and INFO. Everything here is read at scrape
// time from state the shard keeps anyway, or counted with an atomic add
// on a path that already does far more (an apply, a sync, an election).

// shardStats are what a shard measures besides Raft's own state.
type shardStats struct {
	// apply times each entry this node proposed as leader, from its hand-off
	// to Raft until it is committed and applied here.
	apply hist.Histogram
	// leaderChanges counts the leaders this replica has seen elected (an
	// observation naming a leader).
	leaderChanges atomic.Uint64
	// expired counts the expired keys this node, as leader, had removed
	// through the log.
	expired atomic.Uint64
}

// countLeaderChange counts a leader observation that names a leader.
func (s *Shard) countLeaderChange(o raft.Observation) {
	if lo, ok := o.Data.(raft.LeaderObservation); ok && lo.LeaderID != "" {
		s.stats.leaderChanges.Add(1)
	}
}

// ShardMetrics is one replica's state for metrics, beyond Status.
type ShardMetrics struct {
	Status
	// LastContact is how long ago this replica last heard from the
	// shard's leader: 0 on the leader, negative when it never has.
	LastContact time.Duration
	// LeaderChanges counts the leaders this replica has seen elected since
	// the node started.
	LeaderChanges uint64
	// ExpiredKeys counts the expired keys this node removed through the
	// log while it led the shard, since it started.
	ExpiredKeys uint64
	// SnapshotTerm and SnapshotSize describe the newest snapshot on disk;
	// SnapshotTime is when it was taken here (zero: no snapshot, or a time
	// the store does not record).
	SnapshotTerm uint64
	SnapshotSize int64
	SnapshotTime time.Time
	// LastAppendedAt is when, by the leader's clock, the leader appended
	// the newest entry applied here (zero: none applied since start).
	LastAppendedAt time.Time
	// Apply is the distribution of the time from proposal to commit and
	// apply of the entries this node proposed as the shard's leader.
	Apply *hist.Snapshot
}

// Metrics returns the replica's state for metrics.
func (s *Shard) Metrics() ShardMetrics {
	m := ShardMetrics{
		Status:        s.Status(),
		LeaderChanges: s.stats.leaderChanges.Load(),
		ExpiredKeys:   s.stats.expired.Load(),
		Apply:         s.stats.apply.Snapshot(),
	}
	switch last := s.raft.LastContact(); {
	case s.raft.State() == raft.Leader:
	case last.IsZero():
		m.LastContact = -1
	default:
		m.LastContact = time.Since(last)
	}
	if metas, err := s.snapshots.List(); err == nil && len(metas) > 0 {
		m.SnapshotTerm = metas[0].Term
		m.SnapshotSize = metas[0].Size
		m.SnapshotTime = snapshotTime(metas[0].ID)
	}
	if ns := s.fsm.appendedAt.Load(); ns != 0 {
		m.LastAppendedAt = time.Unix(0, ns)
	}
	return m
}

// snapshotTime reads the creation time a file snapshot store writes into
// a snapshot's ID ("term-index-unixmillis").
func snapshotTime(id string) time.Time {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(id[i+1:], 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// nodeStats are what a node measures besides its shards.
type nodeStats struct {
	logSync hist.Histogram
	// syncHook, if set, also sees every sync (LATENCY's event).
	syncHook atomic.Pointer[func(time.Duration)]
}

// observeSync is the WAL's sync observer: it runs on the WAL's writer
// goroutine once per sync.
func (st *nodeStats) observeSync(d time.Duration) {
	st.logSync.Observe(d)
	if h := st.syncHook.Load(); h != nil {
		(*h)(d)
	}
}

// LogSyncLatency returns the distribution of the node log's sync times
// (fdatasync of a WAL segment); empty with the bolt log store, whose syncs
// happen inside bbolt.
func (n *Node) LogSyncLatency() *hist.Snapshot { return n.stats.logSync.Snapshot() }

// OnLogSync makes fn see the duration of every sync of the node log from
// now on (nil: none). fn runs on the log's writer goroutine: it must be
// quick, since the next write waits for it.
func (n *Node) OnLogSync(fn func(time.Duration)) {
	if fn == nil {
		n.stats.syncHook.Store(nil)
		return
	}
	n.stats.syncHook.Store(&fn)
}
