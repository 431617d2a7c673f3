package hist

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBucketsCoverTheirValues(t *testing.T) {
	prev := 0.0
	for i := 0; i < NumBuckets-1; i++ {
		ub := UpperBound(i)
		if ub <= prev {
			t.Fatalf("bucket %d: upper bound %v not above the previous %v", i, ub, prev)
		}
		// The lowest and highest values of the bucket map back to it.
		lo, hi := uint64(prev), uint64(ub)-1
		if got := bucketOf(lo); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", lo, got, i)
		}
		if got := bucketOf(hi); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", hi, got, i)
		}
		if lo >= 16 && (ub-prev)/prev > 1.0/16+1e-12 {
			t.Fatalf("bucket %d [%v,%v) wider than 1/16 of its lower bound", i, prev, ub)
		}
		prev = ub
	}
	if got := bucketOf(math.MaxUint64); got != NumBuckets-1 {
		t.Fatalf("bucketOf(max) = %d, want the overflow bucket", got)
	}
	if !math.IsInf(UpperBound(NumBuckets-1), 1) {
		t.Fatal("the overflow bucket's bound is not +Inf")
	}
}

// TestPercentileWithinBucketError compares percentiles with the exact
// ones of random samples.
func TestPercentileWithinBucketError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var vals []time.Duration
	for i := 0; i < 20000; i++ {
		// Log-uniform from 100ns to 1s.
		d := time.Duration(math.Exp(math.Log(100) + rng.Float64()*(math.Log(1e9)-math.Log(100))))
		vals = append(vals, d)
		h.Observe(d)
	}
	slices.Sort(vals)
	s := h.Snapshot()
	if s.Count != uint64(len(vals)) || h.Count() != uint64(len(vals)) {
		t.Fatalf("count %d (%d), want %d", s.Count, h.Count(), len(vals))
	}
	var sum time.Duration
	for _, v := range vals {
		sum += v
	}
	if s.Sum != sum {
		t.Fatalf("sum %v, want %v", s.Sum, sum)
	}
	for _, q := range []float64{0, 1, 50, 90, 99, 99.9, 100} {
		rank := max(int(math.Ceil(q/100*float64(len(vals)))), 1)
		exact := vals[rank-1]
		got := s.Percentile(q)
		if got < exact || float64(got) > float64(exact)*(1+1.0/16)+1 {
			t.Errorf("p%v = %v, exact %v: not within one bucket above", q, got, exact)
		}
	}
}

func TestCumulative(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{0, 500, 1024, 1500, 4096, time.Second, 10 * time.Hour} {
		h.Observe(d)
	}
	h.Observe(-5) // counts as 0
	got := h.Snapshot().Cumulative([]float64{1, 1024, 2048, 4096, 8192, 2e9})
	want := []uint64{2, 3, 5, 5, 6, 7}
	if !slices.Equal(got, want) {
		t.Fatalf("cumulative %v, want %v", got, want)
	}
	if p := (&Snapshot{}).Percentile(99); p != 0 {
		t.Fatalf("empty p99 = %v", p)
	}
	h.Reset()
	if s := h.Snapshot(); s.Count != 0 || s.Sum != 0 {
		t.Fatalf("after Reset: %d, %v", s.Count, s.Sum)
	}
}

func TestConcurrentObserve(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 1000; i++ {
				h.Observe(time.Duration(i) * time.Microsecond)
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < 100; i++ {
			_ = h.Snapshot().Percentile(99)
		}
	})
	wg.Wait()
	if h.Count() != 8000 {
		t.Fatalf("count %d, want 8000", h.Count())
	}
}

func BenchmarkObserve(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Observe(time.Duration(i & 0xfffff))
	}
}
