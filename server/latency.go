package server

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/internal/hist"
	"github.com/raftcache/raftcache/resp"
)

// LATENCY LATEST/HISTORY/RESET/DOCTOR/HISTOGRAM/HELP, Redis's latency
// monitor: while latency-monitor-threshold (milliseconds) is above 0,
// every event that takes at least that long is recorded as a sample of
// its event class, one sample per class and second (the worst), the last
// 160 kept. raftcache's classes are Redis's "command" and "fast-command"
// (a command's time on this node, Raft round trip included) and
// "raft-log-sync" (one sync of the node log, which every write of every
// shard waits for, as Redis's "aof-fsync-always").
// LATENCY HISTOGRAM answers the per-command histograms that INFO
// latencystats summarises.

func init() {
	serverHandlers["latency"] = cmdLatency
}

// Latency event classes.
const (
	EventCommand     = "command"
	EventFastCommand = "fast-command"
	EventLogSync     = "raft-log-sync"
)

const latencySamples = 160

type latencySample struct {
	unix int64 // seconds; 0: unused
	ms   int64
}

// latencySeries is one event class's samples, a ring.
type latencySeries struct {
	samples [latencySamples]latencySample
	next    int
	max     int64
	count   int64 // samples added (spikes)
}

func (ts *latencySeries) add(unix, ms int64) {
	ts.max = max(ts.max, ms)
	prev := &ts.samples[(ts.next+latencySamples-1)%latencySamples]
	if prev.unix == unix {
		prev.ms = max(prev.ms, ms)
		return
	}
	ts.count++
	ts.samples[ts.next] = latencySample{unix: unix, ms: ms}
	ts.next = (ts.next + 1) % latencySamples
}

// history returns the samples, oldest first.
func (ts *latencySeries) history() []latencySample {
	out := make([]latencySample, 0, latencySamples)
	for i := 0; i < latencySamples; i++ {
		if s := ts.samples[(ts.next+i)%latencySamples]; s.unix != 0 {
			out = append(out, s)
		}
	}
	return out
}

// latencyMonitor holds every event class's series.
type latencyMonitor struct {
	mu     sync.Mutex
	events map[string]*latencySeries
}

// LatencyEvent records that event took d, when the latency monitor is on
// and d reaches its threshold. It is safe for concurrent use and cheap
// when the monitor is off (one atomic load).
func (s *Server) LatencyEvent(event string, d time.Duration) {
	threshold := s.conf.latencyMonitorThreshold.Load()
	ms := d.Milliseconds()
	if threshold <= 0 || ms < threshold {
		return
	}
	m := &s.latency
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events == nil {
		m.events = map[string]*latencySeries{}
	}
	ts := m.events[event]
	if ts == nil {
		ts = &latencySeries{}
		m.events[event] = ts
	}
	ts.add(time.Now().Unix(), ms)
}

func cmdLatency(s *Server, _ redcon.Conn, c *client, _, sub *resp.Command, a [][]byte) resp.Reply {
	m := &s.latency
	switch sub.Name {
	case "latest":
		m.mu.Lock()
		defer m.mu.Unlock()
		out := make([]resp.Reply, 0, len(m.events))
		for _, name := range sortedKeys(m.events) {
			ts := m.events[name]
			last := ts.samples[(ts.next+latencySamples-1)%latencySamples]
			out = append(out, resp.Array(resp.BulkString(name), resp.Int(last.unix), resp.Int(last.ms), resp.Int(ts.max)))
		}
		return resp.Array(out...)
	case "history":
		m.mu.Lock()
		defer m.mu.Unlock()
		ts := m.events[string(a[2])]
		if ts == nil {
			return resp.EmptyArr
		}
		h := ts.history()
		out := make([]resp.Reply, len(h))
		for i, smp := range h {
			out[i] = resp.Array(resp.Int(smp.unix), resp.Int(smp.ms))
		}
		return resp.Array(out...)
	case "reset":
		m.mu.Lock()
		defer m.mu.Unlock()
		n := 0
		if len(a) == 2 {
			n = len(m.events)
			m.events = nil
		}
		for _, ev := range a[2:] {
			if _, ok := m.events[string(ev)]; ok {
				delete(m.events, string(ev))
				n++
			}
		}
		return resp.Int(int64(n))
	case "doctor":
		return resp.Verbatim(s.latencyDoctor())
	case "histogram":
		return s.latencyHistogram(a[2:])
	case "help":
		return helpReply(latencyHelp)
	}
	return resp.ErrUnknownSubcommand(a[0], a[1]).Reply()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// latencyAdvice is what DOCTOR suggests per event class.
var latencyAdvice = map[string]string{
	EventCommand: "Commands took long on this node: see SLOWLOG GET for which. A write's time includes " +
		"its Raft round trip to a majority and the log sync; compare with the raft-log-sync event and " +
		"raftcache_shard_apply_duration_seconds.",
	EventFastCommand: "Even O(1) commands were slow: the node is short of CPU (check other processes " +
		"and GC: INFO memory, go_gc_cycles), or its shards' leaders are far (forwarded commands).",
	EventLogSync: "Syncing the node log to disk was slow, and every write of every shard waits for it: " +
		"use a faster disk (local SSD), keep other I/O off it, or accept --fsync everysec.",
}

// latencyDoctor is LATENCY DOCTOR's report: a line per event class, and
// advice for those seen.
func (s *Server) latencyDoctor() string {
	threshold := s.conf.latencyMonitorThreshold.Load()
	if threshold <= 0 {
		return "The latency monitor is off: CONFIG SET latency-monitor-threshold <milliseconds> turns it on.\n"
	}
	m := &s.latency
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.events) == 0 {
		return fmt.Sprintf("No latency spike of %d ms or more was observed since the monitor started.\n", threshold)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Latency spikes of %d ms or more were observed on this node:\n\n", threshold)
	names := sortedKeys(m.events)
	for i, name := range names {
		ts := m.events[name]
		h := ts.history()
		var sum float64
		for _, smp := range h {
			sum += float64(smp.ms)
		}
		avg := sum / float64(len(h))
		var dev float64
		for _, smp := range h {
			dev += math.Abs(float64(smp.ms) - avg)
		}
		dev /= float64(len(h))
		period := 0.0
		if len(h) > 1 {
			period = float64(h[len(h)-1].unix-h[0].unix) / float64(len(h)-1)
		}
		fmt.Fprintf(&b, "%d. %s: %d latency spikes (average %.0fms, mean deviation %.0fms, period %.2f sec). Worst all time event %dms.\n",
			i+1, name, ts.count, avg, dev, period, ts.max)
	}
	b.WriteString("\nAdvice:\n\n")
	for _, name := range names {
		if a, ok := latencyAdvice[name]; ok {
			b.WriteString("- " + a + "\n")
		}
	}
	return b.String()
}

// latencyHistogram is LATENCY HISTOGRAM [command ...]: for each command
// (all that ran, when none is named; unknown names are skipped), its calls
// and the cumulative count of calls up to each power of two of
// microseconds (from 1), only where the count grows.
func (s *Server) latencyHistogram(names [][]byte) resp.Reply {
	var cmds []string
	if len(names) == 0 {
		s.stats.perCommand.Range(func(k, _ any) bool {
			cmds = append(cmds, k.(string))
			return true
		})
		slices.Sort(cmds)
	} else {
		for _, n := range names {
			name := strings.ToLower(string(n))
			if !slices.Contains(cmds, name) {
				cmds = append(cmds, name)
			}
		}
	}
	var out []resp.Reply
	for _, name := range cmds {
		v, ok := s.stats.perCommand.Load(name)
		if !ok {
			continue
		}
		snap := v.(*commandStats).latency.Snapshot()
		if snap.Count == 0 {
			continue
		}
		out = append(out, resp.BulkString(name), resp.Map(
			resp.BulkString("calls"), resp.Int(int64(snap.Count)),
			resp.BulkString("histogram_usec"), histogramCDF(snap)))
	}
	return resp.Map(out...)
}

// histogramCDF maps each power of two of microseconds (1024 ns, 2048 ns,
// ...) to the number of observations below it, where that number grows.
func histogramCDF(snap *hist.Snapshot) resp.Reply {
	var bounds []float64
	for b := 1024.0; b <= hist.UpperBound(hist.NumBuckets-2); b *= 2 {
		bounds = append(bounds, b)
	}
	cum := snap.Cumulative(bounds)
	var kv []resp.Reply
	prev := uint64(0)
	for i, n := range cum {
		if n > prev {
			kv = append(kv, resp.Int(int64(bounds[i]/1000)), resp.Int(int64(n)))
			prev = n
		}
		if n == snap.Count {
			break
		}
	}
	if prev < snap.Count { // beyond the last bound
		kv = append(kv, resp.Int(int64(hist.UpperBound(hist.NumBuckets-2)/1000)), resp.Int(int64(snap.Count)))
	}
	return resp.Map(kv...)
}

// latencyPercentiles formats a histogram's percentiles for INFO
// latencystats: "p50=1.003,p99=3.007" in microseconds.
func latencyPercentiles(snap *hist.Snapshot, percentiles []float64) string {
	var b strings.Builder
	for i, q := range percentiles {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("p" + strconv.FormatFloat(q, 'f', -1, 64) + "=")
		b.WriteString(strconv.FormatFloat(float64(snap.Percentile(q))/1000, 'f', 3, 64))
	}
	return b.String()
}

var latencyHelp = []string{
	"LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"DOCTOR",
	"    Return a human readable latency analysis report.",
	"HISTORY <event>",
	"    Return time-latency samples for the <event> class.",
	"LATEST",
	"    Return the latest latency samples for all events.",
	"RESET [<event> ...]",
	"    Reset latency data of one or more <event> classes.",
	"    (default: reset all data for all event classes)",
	"HISTOGRAM [COMMAND ...]",
	"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
	"    If no commands are specified then all histograms are replied.",
	"HELP",
	"    Prints this help.",
}
