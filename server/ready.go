package server

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/raftcache/raftcache/cluster"
)

// readinessTimeout bounds how long a readiness check waits for the shard
// leaders to say how far they are: a leader that does not answer within
// it makes the node not ready.
const readinessTimeout = time.Second

// readiness is the node's readiness (CLUSTER INFO's raftcache_ready, INFO
// raft, /readyz).
func (s *Server) readiness() cluster.Readiness {
	ctx, cancel := context.WithTimeout(s.ctx, readinessTimeout)
	defer cancel()
	return s.backend.Readiness(ctx)
}

// Ready reports whether the node is ready to serve and to let the next
// node of a rolling restart go (see cluster.Node.Readiness), and why not.
func (s *Server) Ready() (bool, string) {
	r := s.readiness()
	return r.Ready, r.Reason
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// infoRaft is INFO raft: readiness, the node log's sync latency, and each
// shard's Raft state as this node sees it.
func (s *Server) infoRaft(b *infoBuilder) {
	r := s.readiness()
	b.field("raft_ready", boolDigit(r.Ready))
	if !r.Ready {
		b.field("raft_ready_reason", r.Reason)
	}
	b.field("raft_log_store", s.backend.LogInfo().Store)
	sync := s.backend.LogSyncLatency()
	b.int("raft_log_syncs", int64(sync.Count))
	b.field("raft_log_sync_latency_usec", latencyPercentiles(sync, s.conf.percentiles()))
	lags := map[int]cluster.ReplicaLag{}
	for _, l := range r.Shards {
		lags[l.Shard] = l
	}
	now := time.Now()
	for _, m := range s.backend.ShardMetrics() {
		f := []string{
			"state=" + strings.ToLower(m.State),
			"leader=" + m.LeaderID,
			"term=" + strconv.FormatUint(m.Term, 10),
			"commit_index=" + strconv.FormatUint(m.CommitIndex, 10),
			"applied_index=" + strconv.FormatUint(m.AppliedIndex, 10),
			"last_index=" + strconv.FormatUint(m.LastIndex, 10),
			"last_contact_ms=" + strconv.FormatInt(max(m.LastContact.Milliseconds(), -1), 10),
			"leader_changes=" + strconv.FormatUint(m.LeaderChanges, 10),
			"snapshot_index=" + strconv.FormatUint(m.LastSnapshotIndex, 10),
			"snapshot_size=" + strconv.FormatInt(m.SnapshotSize, 10),
		}
		age := int64(-1)
		if !m.SnapshotTime.IsZero() {
			age = int64(now.Sub(m.SnapshotTime) / time.Second)
		}
		f = append(f, "snapshot_age_sec="+strconv.FormatInt(age, 10))
		if l, ok := lags[m.ID]; ok {
			f = append(f, "lag_entries="+strconv.FormatInt(l.Entries, 10),
				"lag_seconds="+strconv.FormatFloat(l.Seconds, 'f', 3, 64))
		}
		f = append(f, "apply_latency_usec="+strings.ReplaceAll(latencyPercentiles(m.Apply, s.conf.percentiles()), ",", "|"))
		b.field("shard"+strconv.Itoa(m.ID), strings.Join(f, ","))
	}
}
