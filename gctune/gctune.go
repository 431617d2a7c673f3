// Package gctune sets the Go garbage collector of a raftcache node from
// what it measures, instead of a fixed GOGC.
//
// The keyspace lives outside the Go heap (package store), so the Go heap
// holds only what passes through: requests, replies, Raft entries, the
// stores' pointer-free tables. Its live size is small and its allocation
// rate under load is high; a fixed GOGC then runs the collector dozens of
// times a second (GOGC 50 took a quarter of a node's CPU under SET -P 16).
// Measured on one node under SET -P 16 (redis-benchmark -c 50):
//
//	GOGC   GC share of the node's CPU
//	  50   25.7%
//	 100   17.3%
//	 400    2.6%
//
// The tuner therefore lets the heap grow by a fixed Headroom (64 MiB)
// between collections while the node is busy, whatever the live heap
// (GOGC = 100 × Headroom / live, within [25, 1000]): the collector's work
// per cycle follows the live heap, and the number of cycles the
// allocation rate over Headroom. When the node falls idle the garbage of
// its last burst is collected and the heap's free memory handed back to the
// operating system (debug.FreeOSMemory), so
// the resident memory of an idle node is its data, not the peak of its
// last burst.
//
// With a memory limit (GOMEMLIMIT, or Config.Limit), the limit is for the
// whole process: the tuner sets the Go runtime's limit to it minus the
// stores' memory outside the Go heap (store.OffHeapBytes), which the
// runtime does not see, so the collector works harder as the data grows
// rather than letting the process pass the limit.
package gctune

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Config is the tuner's policy. The zero value is the adaptive default.
type Config struct {
	// Percent, when above 0, fixes GOGC; below 0 leaves it as the
	// environment set it. 0 is adaptive.
	Percent int
	// Headroom is the heap growth between collections under load
	// (default 64 MiB). HeadroomNow, when set and above 0, overrides it at
	// each reading (a maxmemory set at run time: see ForMaxMemory).
	Headroom    int64
	HeadroomNow func() int64
	// Limit is the process's memory limit in bytes, 0 for none.
	Limit int64
	// OffHeap returns the memory the process holds outside the Go heap
	// that Limit must cover.
	OffHeap func() int64
	// Interval is how often the tuner measures (default 500 ms).
	Interval time.Duration
}

const (
	defaultHeadroom = 64 << 20
	minPercent      = 25
	maxPercent      = 1000
	// busyRate is the allocation rate above which the node counts as
	// busy.
	busyRate = 4 << 20 // bytes per second
	// releaseAbove is how much free, unreleased heap an idle node hands
	// back.
	releaseAbove = 16 << 20
	// idleTicks is how many quiet measurements make a node idle.
	idleTicks = 2
)

// reading is one measurement.
type reading struct {
	live      int64   // the heap marked live by the last collection
	allocRate float64 // bytes allocated per second since the last reading
	free      int64   // heap memory free and not handed back
	// objects is the heap memory held by objects, live or garbage the
	// collector has not swept yet: an idle node runs no collection, so
	// its last burst's garbage stays there until one runs.
	objects int64
	offHeap int64
}

// decision is what the tuner sets.
type decision struct {
	percent int   // GOGC; 0 leaves it
	limit   int64 // the runtime's memory limit
	release bool  // hand free heap back now
}

// tuner is the policy's state between readings.
type tuner struct {
	cfg      Config
	quiet    int  // consecutive idle readings
	released bool // free heap was handed back since the node was last busy
}

func (t *tuner) decide(r reading) decision {
	d := decision{limit: math.MaxInt64}
	switch {
	case t.cfg.Percent > 0:
		d.percent = t.cfg.Percent
	case t.cfg.Percent == 0:
		headroom := t.cfg.Headroom
		if t.cfg.HeadroomNow != nil {
			if h := t.cfg.HeadroomNow(); h > 0 {
				headroom = h
			}
		}
		d.percent = int(min(max(100*headroom/max(r.live, 1), minPercent), maxPercent))
	}
	if t.cfg.Limit > 0 {
		d.limit = max(t.cfg.Limit-r.offHeap, r.live+r.live/10)
	}
	if r.allocRate >= busyRate {
		t.quiet, t.released = 0, false
		return d
	}
	t.quiet++
	if t.quiet >= idleTicks && !t.released && r.free+max(r.objects-r.live, 0) > releaseAbove {
		d.release, t.released = true, true
	}
	return d
}

// ForMaxMemory is the heap headroom for a node whose keyspace maxmemory
// bounds: an eighth of maxmemory, between 8 and 64 MiB, so that what the
// collector leaves lying around stays small beside the data (0: no
// maxmemory, the default headroom).
func ForMaxMemory(maxmemory int64) int64 {
	if maxmemory <= 0 {
		return 0
	}
	return min(max(maxmemory/8, 8<<20), defaultHeadroom)
}

// Run tunes the collector until ctx ends, measuring every cfg.Interval.
func Run(ctx context.Context, cfg Config) {
	if cfg.Headroom <= 0 {
		cfg.Headroom = defaultHeadroom
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.OffHeap == nil {
		cfg.OffHeap = func() int64 { return 0 }
	}
	t := &tuner{cfg: cfg}
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	var lastAllocs uint64
	last := time.Now()
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	applied := decision{}
	for first := true; ; first = false {
		metrics.Read(samples)
		now := time.Now()
		allocs := value(samples[1])
		r := reading{live: int64(value(samples[0])), free: int64(value(samples[2])), objects: int64(value(samples[3])),
			offHeap: cfg.OffHeap()}
		if !first {
			r.allocRate = float64(allocs-lastAllocs) / max(now.Sub(last).Seconds(), 1e-3)
		}
		lastAllocs, last = allocs, now
		d := t.decide(r)
		if d.percent != 0 && d.percent != applied.percent {
			debug.SetGCPercent(d.percent)
		}
		if d.limit != applied.limit {
			debug.SetMemoryLimit(d.limit)
		}
		if d.release {
			debug.FreeOSMemory()
		}
		applied = d
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func value(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}
