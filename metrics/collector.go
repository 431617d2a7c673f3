package metrics

import (
	"context"
	"math"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/internal/hist"
	"github.com/raftcache/raftcache/server"
)

// scrapeTimeout bounds the questions a scrape asks other nodes (each
// follower's lag, the leaders' commit indexes).
const scrapeTimeout = 2 * time.Second

// durationBuckets are the histograms' bucket bounds in seconds: every
// power of two of nanoseconds from 1.024 µs to 17.2 s. They are bounds of
// internal/hist's buckets, so the cumulative counts are exact.
var durationBuckets = func() []float64 {
	var out []float64
	for ns := 1 << 10; ns <= 1<<34; ns <<= 1 {
		out = append(out, float64(ns)/1e9)
	}
	return out
}()

var raftStates = []string{"leader", "follower", "candidate", "shutdown"}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("raftcache_"+name, help, labels, nil)
}

// collector reads the server's and the node's state at each scrape.
type collector struct {
	srv     *server.Server
	node    *cluster.Node
	version string

	buildInfo, ready                                     *prometheus.Desc
	commands, commandsRejected, commandErrors, duration  *prometheus.Desc
	errorReplies, clients, connections, rejected         *prometheus.Desc
	netIn, netOut, keys, expires, expired, evicted, mem  *prometheus.Desc
	state, isLeader, term, leader, hasLeader, commit     *prometheus.Desc
	applied, lastIndex, replicaLag, replicaLagSeconds    *prometheus.Desc
	followerLag, lastContact, snapAge, snapSize, snapIdx *prometheus.Desc
	applyDur, leaderChanges, logSync, logWrites          *prometheus.Desc
	logBytes, logSegments, logDisk, crossShard           *prometheus.Desc
}

func newCollector(srv *server.Server, node *cluster.Node, version string) *collector {
	return &collector{
		srv: srv, node: node, version: version,
		buildInfo: desc("build_info", "Always 1; labels name the node, raftcache's version and the Redis version it speaks.",
			"node", "version", "redis_version"),
		ready: desc("ready", "1 when every shard has a leader and this node's replicas are within --ready-max-lag entries "+
			"of their leaders (what /readyz answers), else 0."),
		commands: desc("commands_total", "Commands that ran, by command (subcommands as container|sub).", "command"),
		commandsRejected: desc("commands_rejected_total",
			"Commands refused before they ran (unknown arity, CROSSSLOT, NOAUTH, a transaction's rules), by command.", "command"),
		commandErrors: desc("command_errors_total", "Commands that ran and answered an error, by command.", "command"),
		duration: desc("command_duration_seconds",
			"Time from dispatch to reply of the commands that ran, by command (a write's Raft round trip included).", "command"),
		errorReplies: desc("error_replies_total", "Error replies sent, by their first word (ERR, WRONGTYPE, MOVED, ...).", "error"),
		clients:      desc("connected_clients", "Client connections open."),
		connections:  desc("connections_received_total", "Client connections accepted."),
		rejected:     desc("connections_rejected_total", "Client connections refused (maxclients, protected mode)."),
		netIn:        desc("net_input_bytes_total", "Bytes read from clients."),
		netOut:       desc("net_output_bytes_total", "Bytes written to clients."),
		keys:         desc("keys", "Keys in this node's replica of the shard (expired keys not yet removed included).", "shard"),
		expires:      desc("expiring_keys", "Keys with a TTL in this node's replica of the shard.", "shard"),
		expired:      desc("expired_keys_total", "Expired keys this node removed through the log while it led the shard.", "shard"),
		evicted:      desc("evicted_keys_total", "Keys removed by maxmemory eviction, as this node's replicas applied them."),
		mem:          desc("memory_used_bytes", "Bytes of live heap objects (INFO's used_memory)."),
		state:        desc("shard_state", "1 for this replica's Raft state of the shard, 0 for the others.", "shard", "state"),
		isLeader:     desc("shard_is_leader", "1 when this node leads the shard.", "shard"),
		term:         desc("shard_term", "The shard's current Raft term as this node knows it.", "shard"),
		leader: desc("shard_leader", "1, labelled with the shard's leader as this node sees it (leader=\"\" while none).",
			"shard", "leader"),
		hasLeader: desc("shard_has_leader", "1 while this node knows a leader of the shard.", "shard"),
		commit:    desc("shard_commit_index", "The shard's Raft commit index on this node.", "shard"),
		applied:   desc("shard_applied_index", "The last log index this node's replica of the shard applied.", "shard"),
		lastIndex: desc("shard_last_log_index", "The last index in this node's log of the shard.", "shard"),
		replicaLag: desc("shard_replica_lag_entries",
			"The shard leader's commit index minus this replica's applied index (0 on the leader); absent when the leader does not answer.", "shard"),
		replicaLagSeconds: desc("shard_replica_lag_seconds",
			"How long ago, by the leader's clock, the leader appended the newest entry this replica applied, while it lags (0 when caught up).", "shard"),
		followerLag: desc("shard_follower_lag_entries",
			"On the shard's leader: its last log index minus each follower's; absent for a follower that does not answer.", "shard", "follower"),
		lastContact: desc("shard_last_contact_seconds",
			"Time since this replica last heard from the shard's leader (0 on the leader; absent if never).", "shard"),
		snapAge:       desc("shard_snapshot_age_seconds", "Age of the shard's newest snapshot on this node (absent without one).", "shard"),
		snapSize:      desc("shard_snapshot_size_bytes", "Size of the shard's newest snapshot on this node.", "shard"),
		snapIdx:       desc("shard_snapshot_index", "Last log index the shard's newest snapshot on this node covers.", "shard"),
		applyDur:      desc("shard_apply_duration_seconds", "On the leader: time from handing an entry to Raft until it is committed and applied.", "shard"),
		leaderChanges: desc("shard_leader_changes_total", "Leaders of the shard this node has seen elected.", "shard"),
		logSync:       desc("log_sync_duration_seconds", "Time of each sync (fdatasync) of the node's write-ahead log, which every shard's writes wait for."),
		logWrites:     desc("log_writes_total", "Write calls to the node's write-ahead log (each carries the appends of every shard queued meanwhile)."),
		logBytes:      desc("log_written_bytes_total", "Bytes written to the node's write-ahead log."),
		logSegments:   desc("log_segments", "Segment files of the node's write-ahead log."),
		logDisk:       desc("log_disk_bytes", "Disk space of the node's write-ahead log's segments, preallocation included."),
		crossShard: desc("cross_shard_transactions_total",
			"Cross-shard transactions this node coordinated, by event: committed, aborted (a WATCH or an NX condition), "+
				"conflict (an attempt restarted after meeting another transaction's lock), tryagain (answered TRYAGAIN).", "event"),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.buildInfo, c.ready, c.commands, c.commandsRejected, c.commandErrors,
		c.duration, c.errorReplies, c.clients, c.connections, c.rejected, c.netIn, c.netOut, c.keys, c.expires,
		c.expired, c.evicted, c.mem, c.state, c.isLeader, c.term, c.leader, c.hasLeader, c.commit, c.applied,
		c.lastIndex, c.replicaLag, c.replicaLagSeconds, c.followerLag, c.lastContact, c.snapAge, c.snapSize,
		c.snapIdx, c.applyDur, c.leaderChanges, c.logSync, c.logWrites, c.logBytes, c.logSegments, c.logDisk,
		c.crossShard} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	histogram := func(d *prometheus.Desc, s *hist.Snapshot, labels ...string) {
		ch <- histogramMetric(d, s, labels...)
	}
	gauge(c.buildInfo, 1, c.node.ID(), c.version, server.RedisVersion)

	st := c.srv.Stats()
	for _, cs := range st.Commands {
		counter(c.commands, float64(cs.Calls), cs.Name)
		counter(c.commandsRejected, float64(cs.Rejected), cs.Name)
		counter(c.commandErrors, float64(cs.Failed), cs.Name)
		if cs.Latency.Count > 0 {
			histogram(c.duration, cs.Latency, cs.Name)
		}
	}
	for code, n := range st.ErrorReplies {
		counter(c.errorReplies, float64(n), code)
	}
	x := st.CrossShard
	counter(c.crossShard, float64(x.Committed), "committed")
	counter(c.crossShard, float64(x.Aborted), "aborted")
	counter(c.crossShard, float64(x.Conflicts), "conflict")
	counter(c.crossShard, float64(x.TryAgain), "tryagain")
	gauge(c.clients, float64(st.ConnectedClients))
	counter(c.connections, float64(st.ConnectionsReceived))
	counter(c.rejected, float64(st.RejectedConnections))
	counter(c.netIn, float64(st.NetInputBytes))
	counter(c.netOut, float64(st.NetOutputBytes))
	counter(c.evicted, float64(c.node.EvictionStats().Evicted))
	gauge(c.mem, heapObjectBytes())

	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	readiness := c.node.Readiness(ctx)
	gauge(c.ready, boolValue(readiness.Ready))
	lags := map[int]cluster.ReplicaLag{}
	for _, l := range readiness.Shards {
		lags[l.Shard] = l
	}
	now := time.Now()
	for _, s := range c.node.Shards() {
		m := s.Metrics()
		shard := strconv.Itoa(m.ID)
		gauge(c.keys, float64(m.Keys), shard)
		gauge(c.expires, float64(m.Expires), shard)
		counter(c.expired, float64(m.ExpiredKeys), shard)
		state := strings.ToLower(m.State)
		for _, name := range raftStates {
			gauge(c.state, boolValue(name == state), shard, name)
		}
		gauge(c.isLeader, boolValue(state == "leader"), shard)
		gauge(c.term, float64(m.Term), shard)
		gauge(c.leader, 1, shard, m.LeaderID)
		gauge(c.hasLeader, boolValue(m.LeaderID != ""), shard)
		gauge(c.commit, float64(m.CommitIndex), shard)
		gauge(c.applied, float64(m.AppliedIndex), shard)
		gauge(c.lastIndex, float64(m.LastIndex), shard)
		if l, ok := lags[m.ID]; ok && l.Entries >= 0 {
			gauge(c.replicaLag, float64(l.Entries), shard)
			if l.Seconds >= 0 {
				gauge(c.replicaLagSeconds, l.Seconds, shard)
			}
		}
		if state == "leader" {
			for _, f := range c.node.FollowerLag(ctx, m.ID) {
				if f.Entries >= 0 {
					gauge(c.followerLag, float64(f.Entries), shard, f.ID)
				}
			}
		}
		if m.LastContact >= 0 {
			gauge(c.lastContact, m.LastContact.Seconds(), shard)
		}
		if !m.SnapshotTime.IsZero() {
			gauge(c.snapAge, max(now.Sub(m.SnapshotTime).Seconds(), 0), shard)
		}
		gauge(c.snapSize, float64(m.SnapshotSize), shard)
		gauge(c.snapIdx, float64(m.LastSnapshotIndex), shard)
		histogram(c.applyDur, m.Apply, shard)
		counter(c.leaderChanges, float64(m.LeaderChanges), shard)
	}

	histogram(c.logSync, c.node.LogSyncLatency())
	if info := c.node.LogInfo(); info.Store == cluster.LogStoreWAL {
		counter(c.logWrites, float64(info.WAL.Writes))
		counter(c.logBytes, float64(info.WAL.BytesWritten))
		gauge(c.logSegments, float64(info.WAL.Segments))
		gauge(c.logDisk, float64(info.WAL.DiskBytes))
	}
}

// histogramMetric exports a histogram snapshot with durationBuckets.
func histogramMetric(d *prometheus.Desc, s *hist.Snapshot, labels ...string) prometheus.Metric {
	bounds := make([]float64, len(durationBuckets))
	for i, b := range durationBuckets {
		bounds[i] = b * 1e9
	}
	cum := s.Cumulative(bounds)
	buckets := make(map[float64]uint64, len(durationBuckets))
	for i, b := range durationBuckets {
		buckets[b] = cum[i]
	}
	return prometheus.MustNewConstHistogram(d, s.Count, s.Sum.Seconds(), buckets, labels...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// heapObjectBytes reads the live heap from the runtime without stopping
// the world (runtime.ReadMemStats would).
func heapObjectBytes() float64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return math.NaN()
	}
	return float64(sample[0].Value.Uint64())
}
