package server

import (
	"bytes"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/raftcache/raftcache/internal/hist"
	"github.com/raftcache/raftcache/resp"
)

// commandStats are one command's counters for INFO commandstats: calls
// that ran, their total time, calls refused before they ran (arity,
// CROSSSLOT, a transaction's rules, ...) and calls that ran and answered
// an error.
type commandStats struct {
	calls, usec, rejected, failed atomic.Int64
	// latency is the distribution of the calls' times, while
	// latency-tracking is on (INFO latencystats, LATENCY HISTOGRAM,
	// the metrics' histograms).
	latency hist.Histogram
}

// record counts one command for INFO's stats and commandstats: name is
// its full name ("" for an unknown command), ran whether it was executed
// rather than refused or queued.
func (s *Server) record(name string, ran bool, r *resp.Reply, took time.Duration) {
	if r.IsError() {
		s.stats.errors.Add(1)
		code := r.Str
		if i := bytes.IndexByte(code, ' '); i >= 0 {
			code = code[:i]
		}
		v, ok := s.stats.perError.Load(string(code))
		if !ok {
			v, _ = s.stats.perError.LoadOrStore(string(code), new(atomic.Int64))
		}
		v.(*atomic.Int64).Add(1)
	}
	if name == "" {
		return
	}
	v, ok := s.stats.perCommand.Load(name)
	if !ok {
		v, _ = s.stats.perCommand.LoadOrStore(name, new(commandStats))
	}
	cs := v.(*commandStats)
	switch {
	case !ran && r.IsError():
		cs.rejected.Add(1)
	case ran:
		cs.calls.Add(1)
		cs.usec.Add(took.Microseconds())
		if r.IsError() {
			cs.failed.Add(1)
		}
		if s.conf.latencyTracking.Load() {
			cs.latency.Observe(took)
		}
	}
}

// observeCommand offers a command that ran for took to the slow log and
// the latency monitor.
func (s *Server) observeCommand(c *client, cmd *resp.Command, args [][]byte, took time.Duration) {
	s.maybeLogSlow(c, cmd, args, took)
	if cmd != nil && cmd.HasFlag(resp.FlagFast) {
		s.LatencyEvent(EventFastCommand, took)
	} else {
		s.LatencyEvent(EventCommand, took)
	}
}

// resetStats zeroes the statistics, for CONFIG RESETSTAT.
func (s *Server) resetStats() {
	s.stats.commands.Store(0)
	s.stats.connections.Store(0)
	s.stats.rejected.Store(0)
	s.stats.errors.Store(0)
	s.stats.perCommand.Clear()
	s.stats.perError.Clear()
	s.stats.netIn.Store(0)
	s.stats.netOut.Store(0)
}

func (s *Server) infoCommandStats(b *infoBuilder) {
	type row struct {
		name string
		cs   *commandStats
	}
	var rows []row
	s.stats.perCommand.Range(func(k, v any) bool {
		rows = append(rows, row{k.(string), v.(*commandStats)})
		return true
	})
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	for _, r := range rows {
		calls, usec := r.cs.calls.Load(), r.cs.usec.Load()
		per := 0.0
		if calls > 0 {
			per = float64(usec) / float64(calls)
		}
		if calls == 0 && r.cs.rejected.Load() == 0 {
			continue
		}
		b.field("cmdstat_"+r.name, "calls="+strconv.FormatInt(calls, 10)+
			",usec="+strconv.FormatInt(usec, 10)+
			",usec_per_call="+strconv.FormatFloat(per, 'f', 2, 64)+
			",rejected_calls="+strconv.FormatInt(r.cs.rejected.Load(), 10)+
			",failed_calls="+strconv.FormatInt(r.cs.failed.Load(), 10))
	}
}

// infoLatencyStats writes each command's latency percentiles
// (latency-tracking-info-percentiles), as Redis 7 does.
func (s *Server) infoLatencyStats(b *infoBuilder) {
	percentiles := s.conf.percentiles()
	var names []string
	s.stats.perCommand.Range(func(k, _ any) bool {
		names = append(names, k.(string))
		return true
	})
	sort.Strings(names)
	for _, name := range names {
		v, _ := s.stats.perCommand.Load(name)
		snap := v.(*commandStats).latency.Snapshot()
		if snap.Count == 0 {
			continue
		}
		b.field("latency_percentiles_usec_"+name, latencyPercentiles(snap, percentiles))
	}
}

func (s *Server) infoErrorStats(b *infoBuilder) {
	var codes []string
	s.stats.perError.Range(func(k, _ any) bool {
		codes = append(codes, k.(string))
		return true
	})
	sort.Strings(codes)
	for _, code := range codes {
		v, _ := s.stats.perError.Load(code)
		b.field("errorstat_"+code, "count="+strconv.FormatInt(v.(*atomic.Int64).Load(), 10))
	}
}

// CommandStats are one command's counters (INFO commandstats) and its
// latency distribution.
type CommandStats struct {
	Name                    string // full name: "get", "config|get"
	Calls, Rejected, Failed int64
	Latency                 *hist.Snapshot
}

// Stats is a copy of the server's counters, for metrics. Counters start
// at zero when the server starts and when CONFIG RESETSTAT runs.
type Stats struct {
	ConnectedClients    int
	ConnectionsReceived int64
	RejectedConnections int64
	CommandsProcessed   int64
	NetInputBytes       int64
	NetOutputBytes      int64
	// Commands are sorted by name; ErrorReplies counts error replies by
	// their first word (ERR, WRONGTYPE, MOVED, ...).
	Commands     []CommandStats
	ErrorReplies map[string]int64
	// CrossShard counts the cross-shard transactions this node
	// coordinated (INFO stats raftcache_xtx_*).
	CrossShard CrossShardStats
}

// CrossShardStats: transactions committed; aborted by a WATCH or an NX
// condition; attempts restarted after a lock conflict; TRYAGAIN answers.
type CrossShardStats struct {
	Committed, Aborted, Conflicts, TryAgain int64
}

// Stats copies the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{ConnectedClients: len(s.clients)}
	s.mu.Unlock()
	st.ConnectionsReceived = s.stats.connections.Load()
	st.RejectedConnections = s.stats.rejected.Load()
	st.CommandsProcessed = s.stats.commands.Load()
	st.NetInputBytes = s.stats.netIn.Load()
	st.NetOutputBytes = s.stats.netOut.Load()
	s.stats.perCommand.Range(func(k, v any) bool {
		cs := v.(*commandStats)
		st.Commands = append(st.Commands, CommandStats{Name: k.(string), Calls: cs.calls.Load(),
			Rejected: cs.rejected.Load(), Failed: cs.failed.Load(), Latency: cs.latency.Snapshot()})
		return true
	})
	sort.Slice(st.Commands, func(i, j int) bool { return st.Commands[i].Name < st.Commands[j].Name })
	st.CrossShard = s.xtx.stats.snapshot()
	st.ErrorReplies = map[string]int64{}
	s.stats.perError.Range(func(k, v any) bool {
		st.ErrorReplies[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return st
}
