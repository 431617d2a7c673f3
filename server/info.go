package server

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/resp"
)

// infoSection writes one INFO section's fields under its title.
type infoSection struct {
	name, title string
	inDefault   bool
	write       func(s *Server, b *infoBuilder)
}

// infoSections are INFO's sections in Redis 7.2's order, then raftcache's
// own (Raft), which only "all", "everything" or its name shows. Modules is
// always empty.
var infoSections = []infoSection{
	{"server", "Server", true, (*Server).infoServer},
	{"clients", "Clients", true, (*Server).infoClients},
	{"memory", "Memory", true, (*Server).infoMemory},
	{"persistence", "Persistence", true, (*Server).infoPersistence},
	{"stats", "Stats", true, (*Server).infoStats},
	{"replication", "Replication", true, (*Server).infoReplication},
	{"cpu", "CPU", true, (*Server).infoCPU},
	{"modules", "Modules", true, func(*Server, *infoBuilder) {}},
	{"commandstats", "Commandstats", false, (*Server).infoCommandStats},
	{"errorstats", "Errorstats", true, (*Server).infoErrorStats},
	{"latencystats", "Latencystats", false, (*Server).infoLatencyStats},
	{"cluster", "Cluster", true, (*Server).infoCluster},
	{"keyspace", "Keyspace", true, (*Server).infoKeyspace},
	{"raft", "Raft", false, (*Server).infoRaft},
}

type infoBuilder struct{ strings.Builder }

func (b *infoBuilder) field(name, value string) {
	b.WriteString(name)
	b.WriteByte(':')
	b.WriteString(value)
	b.WriteString("\r\n")
}

func (b *infoBuilder) int(name string, v int64) { b.field(name, strconv.FormatInt(v, 10)) }

// cmdInfo implements INFO [section ...]: no argument or "default" gives the
// default sections, "all" and "everything" every section; several
// sections may be named; unknown names are ignored, as Redis does.
func (s *Server) cmdInfo(args [][]byte) resp.Reply {
	want := map[string]bool{}
	all := false
	if len(args) == 1 {
		want["default"] = true
	}
	for _, a := range args[1:] {
		name := strings.ToLower(string(a))
		if name == "all" || name == "everything" {
			all = true
		}
		want[name] = true
	}
	var b infoBuilder
	for _, sec := range infoSections {
		if !(all || want[sec.name] || (want["default"] && sec.inDefault)) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + sec.title + "\r\n")
		sec.write(s, &b)
	}
	return resp.Verbatim(b.String())
}

// runID is the node's 40-hex-character id (CLUSTER MYID), stable for a
// node ID.
func (s *Server) runID() string { return cluster.HexID(s.backend.NodeID()) }

func (s *Server) infoServer(b *infoBuilder) {
	uptime := time.Since(s.started)
	port := s.listenPort()
	exe, _ := os.Executable()
	b.field("redis_version", RedisVersion)
	b.field("raftcache_version", s.cfg.Version)
	b.field("redis_git_sha1", "00000000")
	b.field("redis_git_dirty", "0")
	b.field("redis_build_id", "0")
	b.field("redis_mode", "cluster")
	b.field("os", runtime.GOOS+" "+runtime.GOARCH)
	b.field("arch_bits", strconv.Itoa(strconv.IntSize))
	b.field("multiplexing_api", "go-netpoll")
	b.field("go_version", runtime.Version())
	b.int("process_id", int64(os.Getpid()))
	b.field("process_supervised", "no")
	b.field("run_id", s.runID())
	b.field("tcp_port", port)
	b.int("server_time_usec", time.Now().UnixMicro())
	b.int("uptime_in_seconds", int64(uptime/time.Second))
	b.int("uptime_in_days", int64(uptime/(24*time.Hour)))
	b.int("lru_clock", time.Now().Unix()&(1<<24-1))
	b.field("hz", "10")
	b.field("configured_hz", "10")
	b.field("executable", exe)
	b.field("config_file", s.cfg.ConfigFile)
	b.field("io_threads_active", "0")
	b.field("listener0", "name=tcp,bind="+s.listenHost()+",port="+port)
	b.field("node_id", s.backend.NodeID())
}

func (s *Server) infoClients(b *infoBuilder) {
	s.mu.Lock()
	n := len(s.clients)
	s.mu.Unlock()
	b.int("connected_clients", int64(n))
	b.field("cluster_connections", "0")
	b.field("maxclients", lookupParam("maxclients").get(s))
	b.field("client_recent_max_input_buffer", "0")
	b.field("client_recent_max_output_buffer", "0")
	b.field("blocked_clients", "0")
	b.field("tracking_clients", "0")
	b.field("clients_in_timeout_table", "0")
	b.field("total_blocking_keys", "0")
	b.field("total_blocking_keys_on_nokey", "0")
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + "B"
	}
	f := float64(n)
	suffix := []string{"K", "M", "G", "T", "P"}
	i := -1
	for f >= unit && i < len(suffix)-1 {
		f /= unit
		i++
	}
	return strconv.FormatFloat(f, 'f', 2, 64) + suffix[i]
}

func (s *Server) infoPersistence(b *infoBuilder) {
	b.field("loading", "0")
	b.field("async_loading", "0")
	b.field("rdb_changes_since_last_save", "0")
	b.field("rdb_bgsave_in_progress", "0")
	b.int("rdb_last_save_time", s.lastSave.Load())
	b.field("rdb_last_bgsave_status", "ok")
	b.field("rdb_last_bgsave_time_sec", "-1")
	b.field("rdb_current_bgsave_time_sec", "-1")
	b.int("rdb_saves", s.stats.saves.Load())
	b.field("aof_enabled", "0")
	b.field("aof_rewrite_in_progress", "0")
	b.field("aof_rewrite_scheduled", "0")
	b.field("aof_last_rewrite_time_sec", "-1")
	b.field("aof_current_rewrite_time_sec", "-1")
	b.field("aof_last_bgrewrite_status", "ok")
	b.field("aof_rewrites", "0")
	b.field("aof_last_write_status", "ok")
	b.field("raft_log", "on")
	log := s.backend.LogInfo()
	b.field("raft_log_store", log.Store)
	b.field("raft_log_fsync", log.Fsync.String())
	if log.Store == cluster.LogStoreWAL {
		w := log.WAL
		b.int("raft_log_segments", int64(w.Segments))
		b.int("raft_log_disk_bytes", w.DiskBytes)
		b.int("raft_log_writes", int64(w.Writes))
		b.int("raft_log_bytes_written", int64(w.BytesWritten))
		b.int("raft_log_syncs", int64(w.Syncs))
		avg := int64(0)
		if w.Syncs > 0 {
			avg = w.SyncTime.Microseconds() / int64(w.Syncs)
		}
		b.int("raft_log_sync_avg_usec", avg)
	}
	b.field("dir", s.cfg.DataDir)
}

func (s *Server) infoStats(b *infoBuilder) {
	b.int("total_connections_received", s.stats.connections.Load())
	b.int("total_commands_processed", s.stats.commands.Load())
	b.field("instantaneous_ops_per_sec", "0")
	b.int("total_net_input_bytes", s.stats.netIn.Load())
	b.int("total_net_output_bytes", s.stats.netOut.Load())
	b.int("rejected_connections", s.stats.rejected.Load())
	var expired uint64
	for _, m := range s.backend.ShardMetrics() {
		expired += m.ExpiredKeys
	}
	b.int("expired_keys", int64(expired))
	ev := s.backend.EvictionStats()
	b.int("evicted_keys", ev.Evicted)
	b.field("evicted_clients", "0")
	b.int("total_eviction_exceeded_time", ev.ExceededTotal.Milliseconds())
	b.int("current_eviction_exceeded_time", ev.ExceededNow.Milliseconds())
	b.int("keyspace_hits", ev.Hits)
	b.int("keyspace_misses", ev.Misses)
	b.field("pubsub_channels", "0")
	b.field("pubsub_patterns", "0")
	b.field("pubsubshard_channels", "0")
	b.field("total_forks", "0")
	b.field("tracking_total_keys", "0")
	b.field("unexpected_error_replies", "0")
	b.int("total_error_replies", s.stats.errors.Load())
	// ACL refusals on this node, as Redis 7 counts them (they survive
	// ACL LOG RESET).
	acl := s.aclLog.Stats()
	b.int("acl_access_denied_auth", acl.Auth)
	b.int("acl_access_denied_cmd", acl.Command)
	b.int("acl_access_denied_key", acl.Key)
	b.int("acl_access_denied_channel", acl.Channel)
	// raftcache's own: TLS handshakes that failed or timed out (garbage,
	// plain text on the TLS port, refused certificates, stalls).
	b.int("raftcache_tls_handshake_failures", s.stats.tlsHandshakeFailures.Load())
	// Cross-shard transactions this node coordinated (xtx.go): committed;
	// aborted by a WATCH or an NX condition; attempts restarted after a
	// lock conflict; answered TRYAGAIN (conflicts past the patience, or a
	// command that waited on a locked key too long).
	x := s.xtx.stats.snapshot()
	b.int("raftcache_xtx_committed", x.Committed)
	b.int("raftcache_xtx_aborted", x.Aborted)
	b.int("raftcache_xtx_conflicts", x.Conflicts)
	b.int("raftcache_xtx_tryagain", x.TryAgain)
}

// roleOf is the node's role as INFO replication and ROLE give it, from
// its shards' status: master while it leads a shard (or has none), else
// slave.
func roleOf(sts []cluster.Status) string {
	for _, st := range sts {
		if st.State == "Leader" {
			return "master"
		}
	}
	if len(sts) == 0 {
		return "master"
	}
	return "slave"
}

// infoReplication reports each shard's Raft state; the node is a master
// for the shards it leads and a replica of the others.
func (s *Server) infoReplication(b *infoBuilder) {
	sts := s.backend.Status()
	b.field("role", roleOf(sts))
	b.int("connected_slaves", int64(len(s.backend.Peers())-1))
	b.field("master_failover_state", "no-failover")
	b.field("master_replid", s.runID())
	b.field("master_replid2", "0000000000000000000000000000000000000000")
	b.field("master_repl_offset", "0")
	b.field("second_repl_offset", "-1")
	b.field("repl_backlog_active", "0")
	b.field("repl_backlog_size", "0")
	b.field("repl_backlog_first_byte_offset", "0")
	b.field("repl_backlog_histlen", "0")
	followers := s.followersFields(sts)
	for i, st := range sts {
		b.field("shard"+strconv.Itoa(st.ID),
			"slots="+strconv.Itoa(st.FirstSlot)+"-"+strconv.Itoa(st.LastSlot)+
				",state="+strings.ToLower(st.State)+
				",leader="+st.LeaderID+
				",term="+strconv.FormatUint(st.Term, 10)+
				",commit_index="+strconv.FormatUint(st.CommitIndex, 10)+
				",applied_index="+strconv.FormatUint(st.AppliedIndex, 10)+
				",last_index="+strconv.FormatUint(st.LastIndex, 10)+
				",snapshot_index="+strconv.FormatUint(st.LastSnapshotIndex, 10)+
				leaseField(st)+
				followers[i])
	}
}

// leaseField gives, for a shard this node leads, how long its read lease
// still runs (",lease_ms=0" when it holds none).
func leaseField(st cluster.Status) string {
	if !strings.EqualFold(st.State, "leader") {
		return ""
	}
	return ",lease_ms=" + strconv.FormatInt(st.LeaseRemaining.Milliseconds(), 10)
}

// followerLagWait bounds how long INFO waits for followers to report
// their log positions: a follower that is down or cut off must not hold
// INFO up.
const followerLagWait = 300 * time.Millisecond

// followersFields lists, for each shard this node leads, each follower's
// lag in log entries (",followers=n2:0|n3:5"; -1 for one that did not
// answer in time). Shards and followers are asked at once.
func (s *Server) followersFields(sts []cluster.Status) []string {
	ctx, cancel := context.WithTimeout(s.ctx, followerLagWait)
	defer cancel()
	out := make([]string, len(sts))
	var wg sync.WaitGroup
	for i, st := range sts {
		if !strings.EqualFold(st.State, "leader") {
			continue
		}
		wg.Go(func() {
			lags := s.backend.FollowerLag(ctx, st.ID)
			if len(lags) == 0 {
				return
			}
			parts := make([]string, len(lags))
			for j, l := range lags {
				parts[j] = l.ID + ":" + strconv.FormatInt(l.Entries, 10)
			}
			out[i] = ",followers=" + strings.Join(parts, "|")
		})
	}
	wg.Wait()
	return out
}

func (s *Server) infoCPU(b *infoBuilder) {
	user, sys := cpuTimes()
	b.field("used_cpu_sys", strconv.FormatFloat(sys, 'f', 6, 64))
	b.field("used_cpu_user", strconv.FormatFloat(user, 'f', 6, 64))
	b.field("used_cpu_sys_children", "0.000000")
	b.field("used_cpu_user_children", "0.000000")
}

func (s *Server) infoCluster(b *infoBuilder) {
	b.field("cluster_enabled", "1")
}

func (s *Server) infoKeyspace(b *infoBuilder) {
	var keys, expires int
	for _, st := range s.backend.Status() {
		keys += st.Keys
		expires += st.Expires
	}
	if keys > 0 {
		b.field("db0", "keys="+strconv.Itoa(keys)+",expires="+strconv.Itoa(expires)+",avg_ttl=0")
	}
}
