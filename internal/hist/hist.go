// Package hist is a lock-free latency histogram: what INFO latencystats,
// LATENCY HISTOGRAM and the Prometheus histograms read.
//
// Durations are counted in buckets of a log-linear scale (as HdrHistogram
// does): every power of two of nanoseconds is split into 16 equal
// buckets, so a bucket's width is at most 1/16 (6.25%) of its lower bound,
// from 1 ns to about 73 minutes (2^42 ns; longer durations count in the
// last bucket). Observe is a few atomic adds and never allocates, so it
// is cheap enough for every command.
package hist

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

const (
	subBits  = 4
	subCount = 1 << subBits
	// maxExp is the highest power of two of nanoseconds with buckets of its
	// own; durations at or past 2^(maxExp+1) ns count in the last bucket.
	maxExp = 41
	// NumBuckets is the number of buckets: the last one counts every
	// duration of 2^(maxExp+1) ns or more.
	NumBuckets = (maxExp-subBits+2)*subCount + 1
)

// Histogram counts durations. The zero value is ready; it must not be
// copied after first use. Its methods are safe for concurrent use; a
// snapshot taken while others observe may miss observations in flight
// (Count and Sum are read separately from the buckets).
type Histogram struct {
	buckets [NumBuckets]atomic.Uint64
	count   atomic.Uint64
	sum     atomic.Uint64 // nanoseconds
}

// bucketOf returns the index of the bucket counting v nanoseconds.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	exp := bits.Len64(v) - 1 // v in [2^exp, 2^(exp+1))
	if exp > maxExp {
		return NumBuckets - 1
	}
	sub := (v >> (exp - subBits)) & (subCount - 1)
	return (exp-subBits+1)*subCount + int(sub)
}

// UpperBound returns the smallest duration, in nanoseconds, that no
// longer counts in bucket i (the bucket counts [UpperBound(i-1),
// UpperBound(i))). The last bucket's bound is +Inf.
func UpperBound(i int) float64 {
	if i >= NumBuckets-1 {
		return math.Inf(1)
	}
	if i < subCount {
		return float64(i + 1)
	}
	exp := i/subCount + subBits - 1
	sub := uint64(i % subCount)
	return float64((subCount + sub + 1) << (exp - subBits))
}

// Observe counts one duration; a negative one counts as zero.
func (h *Histogram) Observe(d time.Duration) {
	v := uint64(max(d, 0))
	h.buckets[bucketOf(v)].Add(1)
	h.count.Add(1)
	h.sum.Add(v)
}

// Count returns how many durations were observed.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Reset forgets every observation. Observations concurrent with it may
// be kept in part.
func (h *Histogram) Reset() {
	for i := range h.buckets {
		h.buckets[i].Store(0)
	}
	h.count.Store(0)
	h.sum.Store(0)
}

// Snapshot is a copy of a histogram's counts.
type Snapshot struct {
	Buckets [NumBuckets]uint64
	Count   uint64
	Sum     time.Duration
}

// Snapshot copies the counts. Count is the sum of the buckets copied, so
// a snapshot is consistent with itself.
func (h *Histogram) Snapshot() *Snapshot {
	s := &Snapshot{Sum: time.Duration(h.sum.Load())}
	for i := range h.buckets {
		n := h.buckets[i].Load()
		s.Buckets[i] = n
		s.Count += n
	}
	return s
}

// Percentile returns the duration below which q percent (0-100) of the
// observations fall, as the upper bound of the bucket that holds the
// q-th percentile's observation (so within 6.25% above the true value);
// 0 when nothing was observed.
func (s *Snapshot) Percentile(q float64) time.Duration {
	if s.Count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q / 100 * float64(s.Count)))
	rank = min(max(rank, 1), s.Count)
	var seen uint64
	for i, n := range s.Buckets {
		seen += n
		if seen >= rank {
			if i == NumBuckets-1 {
				return time.Duration(UpperBound(i - 1))
			}
			return time.Duration(UpperBound(i))
		}
	}
	return time.Duration(UpperBound(NumBuckets - 2))
}

// Cumulative returns, for each bound in nanoseconds (ascending), how many
// observations were below it, counting whole buckets: an observation
// counts below a bound when its bucket's upper bound is at most the bound.
// Bounds that are bucket bounds (powers of two of nanoseconds, among
// others) are thus exact.
func (s *Snapshot) Cumulative(bounds []float64) []uint64 {
	out := make([]uint64, len(bounds))
	var seen uint64
	b := 0
	for i, n := range s.Buckets {
		ub := UpperBound(i)
		for b < len(bounds) && ub > bounds[b] {
			out[b] = seen
			b++
		}
		seen += n
	}
	for ; b < len(bounds); b++ {
		out[b] = seen
	}
	return out
}
