package server

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

func init() {
	serverHandlers["memory"] = cmdMemory
}

// memoryReport is the node's memory by part, in bytes: the stores' own
// accounts (summed over the shards this node holds a replica of) and the
// Go runtime's.
type memoryReport struct {
	store store.MemoryStats
	// used is what the node has allocated: the Go heap's live and
	// not-yet-collected objects (which include the stores' tables and
	// large chunks) plus the stores' pages outside the Go heap.
	used int64
	// goHeap is the Go heap's allocated bytes, goHeapSys what it holds
	// from the operating system, goReleased what it has handed back.
	goHeap, goHeapSys, goReleased, goSys int64
	rss                                  int64
	gcCycles                             uint32
}

func (s *Server) memoryReport() memoryReport {
	var r memoryReport
	for _, st := range s.backend.Status() {
		m := st.Memory
		r.store.Keys += m.Keys
		r.store.Dataset += m.Dataset
		r.store.Tables += m.Tables
		r.store.Pages += m.Pages
		r.store.Large += m.Large
		r.store.Free += m.Free
		r.store.Pending += m.Pending
		r.store.Fixed += m.Fixed
		r.store.Peak += m.Peak
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.goHeap, r.goHeapSys, r.goReleased, r.goSys = int64(ms.HeapAlloc), int64(ms.HeapSys), int64(ms.HeapReleased), int64(ms.Sys)
	r.gcCycles = ms.NumGC
	r.used = r.goHeap + r.store.Pages
	r.rss = residentBytes()
	if r.rss <= 0 {
		r.rss = r.goSys - r.goReleased + r.store.Pages
	}
	s.notePeakMemory(r.used)
	return r
}

// notePeakMemory keeps the highest used memory seen.
func (s *Server) notePeakMemory(used int64) {
	for {
		p := s.peakMemory.Load()
		if used <= p || s.peakMemory.CompareAndSwap(p, used) {
			return
		}
	}
}

// residentBytes is the process's resident memory from /proc, or 0 where
// there is none.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// gcCPUSeconds is the CPU time the Go garbage collector has used since
// the process started (runtime/metrics' estimate: mark workers, assists
// and pauses).
func gcCPUSeconds() float64 {
	sample := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return sample[0].Value.Float64()
}

func (s *Server) infoMemory(b *infoBuilder) {
	r := s.memoryReport()
	peak := s.peakMemory.Load()
	b.int("used_memory", r.used)
	b.field("used_memory_human", humanBytes(uint64(r.used)))
	b.int("used_memory_rss", r.rss)
	b.field("used_memory_rss_human", humanBytes(uint64(r.rss)))
	b.int("used_memory_peak", peak)
	b.field("used_memory_peak_human", humanBytes(uint64(peak)))
	b.field("used_memory_peak_perc", percent(r.used, peak))
	b.int("used_memory_overhead", r.used-r.store.Dataset)
	b.int("used_memory_startup", s.startupMemory)
	b.int("used_memory_dataset", r.store.Dataset)
	b.field("used_memory_dataset_perc", percent(r.store.Dataset, r.used-s.startupMemory))
	b.int("total_system_memory", 0)
	ev := s.backend.Eviction()
	b.int("maxmemory", ev.MaxMemory)
	b.field("maxmemory_human", humanBytes(uint64(ev.MaxMemory)))
	b.field("maxmemory_policy", ev.Policy.String())
	// What maxmemory counts: every shard replica's records, indexes and
	// fixed structures (the process's Go heap is not in it).
	b.int("maxmemory_counted", s.backend.MemoryUsed())
	b.field("mem_fragmentation_ratio", ratio(r.rss, r.used))
	b.int("mem_fragmentation_bytes", r.rss-r.used)
	b.field("mem_allocator", "go+slabs")
	b.int("store_keys", int64(r.store.Keys))
	b.int("store_dataset", r.store.Dataset)
	b.int("store_tables", r.store.Tables)
	b.int("store_pages", r.store.Pages)
	b.int("store_pages_free", r.store.Free)
	b.int("store_large", r.store.Large)
	b.int("store_pending_chunks", int64(r.store.Pending))
	b.int("go_heap_alloc", r.goHeap)
	b.int("go_heap_sys", r.goHeapSys)
	b.int("go_heap_released", r.goReleased)
	b.int("go_heap_objects", heapObjects())
	b.int("go_gc_cycles", int64(r.gcCycles))
	b.field("go_gc_cpu_seconds", strconv.FormatFloat(gcCPUSeconds(), 'f', 6, 64))
	b.int("go_gc_percent", runtimeMetric("/gc/gogc:percent"))
	b.int("go_memory_limit", runtimeMetric("/gc/gomemlimit:bytes"))
}

func heapObjects() int64 { return runtimeMetric("/gc/heap/objects:objects") }

// runtimeMetric reads one integer runtime metric, 0 when it is unknown.
func runtimeMetric(name string) int64 {
	sample := []metrics.Sample{{Name: name}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(min(sample[0].Value.Uint64(), 1<<63-1))
}

func percent(part, whole int64) string {
	if whole <= 0 {
		return "0.00%"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 2, 64) + "%"
}

func ratio(a, b int64) string {
	if b <= 0 {
		return "0.00"
	}
	return strconv.FormatFloat(float64(a)/float64(b), 'f', 2, 64)
}

// memoryHelp is Redis 7's MEMORY HELP text.
var memoryHelp = []string{
	"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"DOCTOR",
	"    Return memory problems reports.",
	"MALLOC-STATS",
	"    Return internal statistics report from the memory allocator.",
	"PURGE",
	"    Attempt to purge dirty pages for reclamation by the allocator.",
	"STATS",
	"    Return information about the memory usage of the server.",
	"USAGE <key> [SAMPLES <count>]",
	"    Return memory in bytes used by <key> and its value. Nested values are",
	"    sampled up to <count> times (default: 5, 0 means sample all).",
	"HELP",
	"    Prints this help.",
}

// cmdMemory serves MEMORY. USAGE goes to the key's shard, whose store
// accounts for the key exactly; the others report on this node.
func cmdMemory(s *Server, _ redcon.Conn, c *client, _, sub *resp.Command, a [][]byte) resp.Reply {
	switch sub.Name {
	case "usage":
		p := s.routePlan(c, sub, a)
		return s.route(c, &p, a)
	case "stats":
		return s.memoryStats()
	case "doctor":
		return resp.Verbatim(s.memoryDoctor())
	case "malloc-stats":
		return resp.Verbatim(mallocStats())
	case "purge":
		debug.FreeOSMemory()
		return resp.OK
	default:
		elems := make([]resp.Reply, len(memoryHelp))
		for i, line := range memoryHelp {
			elems[i] = resp.Simple(line)
		}
		return resp.Array(elems...)
	}
}

// memoryStats answers MEMORY STATS with Redis's fields, then raftcache's
// own parts.
func (s *Server) memoryStats() resp.Reply {
	r := s.memoryReport()
	peak := s.peakMemory.Load()
	overhead := r.used - r.store.Dataset
	perKey := int64(0)
	if r.store.Keys > 0 {
		perKey = (r.used - s.startupMemory) / int64(r.store.Keys)
	}
	kv := []resp.Reply{}
	add := func(name string, v resp.Reply) { kv = append(kv, resp.BulkString(name), v) }
	addInt := func(name string, v int64) { add(name, resp.Int(v)) }
	addFloat := func(name string, v float64) { add(name, resp.Double(v)) }
	addInt("peak.allocated", peak)
	addInt("total.allocated", r.used)
	addInt("startup.allocated", s.startupMemory)
	addInt("replication.backlog", 0)
	addInt("clients.slaves", 0)
	addInt("clients.normal", 0)
	addInt("cluster.links", 0)
	addInt("aof.buffer", 0)
	addInt("lua.caches", 0)
	addInt("functions.caches", 0)
	if r.store.Keys > 0 {
		add("db.0", resp.Map(
			resp.BulkString("overhead.hashtable.main"), resp.Int(r.store.Tables),
			resp.BulkString("overhead.hashtable.expires"), resp.Int(0),
		))
	}
	addInt("overhead.total", overhead)
	addInt("keys.count", int64(r.store.Keys))
	addInt("keys.bytes-per-key", perKey)
	addInt("dataset.bytes", r.store.Dataset)
	addFloat("dataset.percentage", pct(r.store.Dataset, r.used-s.startupMemory))
	addFloat("peak.percentage", pct(r.used, peak))
	addInt("allocator.allocated", r.used)
	addInt("allocator.active", r.goHeapSys-r.goReleased+r.store.Pages)
	addInt("allocator.resident", r.goSys-r.goReleased+r.store.Pages)
	addFloat("allocator-fragmentation.ratio", fratio(r.goHeapSys-r.goReleased+r.store.Pages, r.used))
	addInt("allocator-fragmentation.bytes", r.goHeapSys-r.goReleased+r.store.Pages-r.used)
	addFloat("rss-overhead.ratio", fratio(r.rss, r.goSys-r.goReleased+r.store.Pages))
	addInt("rss-overhead.bytes", r.rss-(r.goSys-r.goReleased+r.store.Pages))
	addFloat("fragmentation", fratio(r.rss, r.used))
	addInt("fragmentation.bytes", r.rss-r.used)
	// raftcache's parts (see store.MemoryStats).
	addInt("store.dataset", r.store.Dataset)
	addInt("store.tables", r.store.Tables)
	addInt("store.pages", r.store.Pages)
	addInt("store.pages.free", r.store.Free)
	addInt("store.large", r.store.Large)
	addInt("store.fixed", r.store.Fixed)
	addInt("store.pending-chunks", int64(r.store.Pending))
	addInt("go.heap.alloc", r.goHeap)
	addInt("go.heap.sys", r.goHeapSys)
	addInt("go.gc.cycles", int64(r.gcCycles))
	return resp.Map(kv...)
}

func pct(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

func fratio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// memoryDoctor is MEMORY DOCTOR on this node's memory now.
func (s *Server) memoryDoctor() string { return doctor(s.memoryReport()) }

// doctor is MEMORY DOCTOR's answer for a report: Redis's answers for an
// empty instance and a healthy one, else a short list of what looks wrong
// and why.
func doctor(r memoryReport) string {
	if r.used < 5<<20 {
		return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting."
	}
	var issues []string
	if r.store.Pages > 16<<20 && r.store.Free*4 > r.store.Pages {
		issues = append(issues, fmt.Sprintf(" * Store pages: %.0f%% of %s is free space between records, left by deletes and overwrites of records of other sizes. New records of those sizes reuse it; pages that empty completely go back to the system.",
			pct(r.store.Free, r.store.Pages), humanBytes(uint64(r.store.Pages))))
	}
	if r.store.Pending > 0 {
		issues = append(issues, fmt.Sprintf(" * Snapshot: %d records replaced or deleted while a snapshot was being written are kept until it is done.", r.store.Pending))
	}
	if r.goHeap > 64<<20 && r.goHeap > 2*(r.store.Tables+r.store.Large) {
		issues = append(issues, fmt.Sprintf(" * Go heap: %s allocated, of which the stores' tables and large values are %s; the rest is connections, replies and Raft's buffers.",
			humanBytes(uint64(r.goHeap)), humanBytes(uint64(r.store.Tables+r.store.Large))))
	}
	if r.rss > 64<<20 && float64(r.rss) > 1.4*float64(r.used) {
		issues = append(issues, fmt.Sprintf(" * RSS: resident memory is %.2f times the allocated memory; the difference is the Raft log's memory map, Go's free heap not yet returned and the binary (MEMORY PURGE returns free heap now).",
			fratio(r.rss, r.used)))
	}
	if len(issues) == 0 {
		return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
	}
	return "Sam, I detected a few issues in this instance memory implementation:\n\n" + strings.Join(issues, "\n\n") + "\n"
}

// mallocStats is MEMORY MALLOC-STATS: the Go runtime's heap statistics.
func mallocStats() string {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return fmt.Sprintf("Go runtime memory statistics:\nHeapAlloc=%d\nHeapInuse=%d\nHeapIdle=%d\nHeapReleased=%d\nHeapSys=%d\nHeapObjects=%d\nStackInuse=%d\nSys=%d\nNumGC=%d\nGCCPUFraction=%f\nNextGC=%d\n",
		ms.HeapAlloc, ms.HeapInuse, ms.HeapIdle, ms.HeapReleased, ms.HeapSys, ms.HeapObjects,
		ms.StackInuse, ms.Sys, ms.NumGC, ms.GCCPUFraction, ms.NextGC)
}
