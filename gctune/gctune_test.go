package gctune

import (
	"context"
	"math"
	"runtime/debug"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	const mib = 1 << 20
	busy := float64(100 * mib)
	for _, tc := range []struct {
		name    string
		cfg     Config
		r       reading
		percent int
		limit   int64
	}{
		{"small heap grows by the headroom", Config{Headroom: 64 * mib}, reading{live: 16 * mib, allocRate: busy}, 400, math.MaxInt64},
		{"tiny heap is capped", Config{Headroom: 64 * mib}, reading{live: 1 * mib, allocRate: busy}, maxPercent, math.MaxInt64},
		{"large heap keeps a quarter", Config{Headroom: 64 * mib}, reading{live: 2048 * mib, allocRate: busy}, minPercent, math.MaxInt64},
		{"fixed percent", Config{Percent: 150, Headroom: 64 * mib}, reading{live: 16 * mib, allocRate: busy}, 150, math.MaxInt64},
		{"environment's GOGC left alone", Config{Percent: -1, Headroom: 64 * mib}, reading{live: 16 * mib}, 0, math.MaxInt64},
		{"limit leaves room for the stores", Config{Headroom: 64 * mib, Limit: 1024 * mib},
			reading{live: 16 * mib, offHeap: 600 * mib, allocRate: busy}, 400, 424 * mib},
		{"limit never below the live heap", Config{Headroom: 64 * mib, Limit: 1024 * mib},
			reading{live: 100 * mib, offHeap: 1000 * mib, allocRate: busy}, 64, 110 * mib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tu := &tuner{cfg: tc.cfg}
			d := tu.decide(tc.r)
			if d.percent != tc.percent || d.limit != tc.limit || d.release {
				t.Fatalf("decide(%+v) = %+v, want percent %d limit %d", tc.r, d, tc.percent, tc.limit)
			}
		})
	}
}

// TestReleaseWhenIdle: free heap is handed back once after the node has
// been quiet for idleTicks readings, and again only after it was busy.
func TestReleaseWhenIdle(t *testing.T) {
	tu := &tuner{cfg: Config{Headroom: 64 << 20}}
	quiet := reading{live: 10 << 20, free: 40 << 20}
	busy := reading{live: 10 << 20, free: 40 << 20, allocRate: 50 << 20}
	var got []bool
	for _, r := range []reading{busy, quiet, quiet, quiet, busy, quiet, quiet, {live: 10 << 20, free: 1 << 20}} {
		got = append(got, tu.decide(r).release)
	}
	want := []bool{false, false, true, false, false, false, true, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("releases %v, want %v", got, want)
		}
	}
}

// TestRunSetsTheCollector runs the tuner briefly and checks that it set
// GOGC and the limit, restoring both afterwards.
func TestRunSetsTheCollector(t *testing.T) {
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{Percent: 321, Limit: 8 << 30, OffHeap: func() int64 { return 1 << 30 }, Interval: time.Millisecond})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) != 7<<30 {
		if time.Now().After(deadline) {
			t.Fatal("the tuner did not set the memory limit")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if p := debug.SetGCPercent(100); p != 321 {
		t.Fatalf("GOGC %d, want 321", p)
	}
}

func TestForMaxMemory(t *testing.T) {
	for _, tc := range []struct{ maxmemory, want int64 }{
		{0, 0}, {1 << 20, 8 << 20}, {32 << 20, 8 << 20}, {256 << 20, 32 << 20}, {8 << 30, 64 << 20},
	} {
		if got := ForMaxMemory(tc.maxmemory); got != tc.want {
			t.Errorf("ForMaxMemory(%d) = %d, want %d", tc.maxmemory, got, tc.want)
		}
	}
}

// TestReleaseUncollectedGarbage: an idle node whose last burst left
// garbage (objects beyond the live heap) but little free heap still has it
// collected and handed back.
func TestReleaseUncollectedGarbage(t *testing.T) {
	tu := &tuner{cfg: Config{Headroom: 64 << 20}}
	quiet := reading{live: 10 << 20, objects: 70 << 20, free: 1 << 20}
	tu.decide(quiet)
	if !tu.decide(quiet).release {
		t.Fatal("60 MiB of uncollected garbage on an idle node was not released")
	}
	tu2 := &tuner{cfg: Config{Headroom: 64 << 20}}
	small := reading{live: 10 << 20, objects: 12 << 20, free: 1 << 20}
	tu2.decide(small)
	if tu2.decide(small).release {
		t.Fatal("released for 3 MiB")
	}
}
