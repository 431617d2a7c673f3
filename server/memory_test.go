package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/store"
)

// TestMemoryCommands checks MEMORY USAGE (from the key's store, with
// Redis's order of checks), STATS, DOCTOR, HELP and PURGE, and INFO
// memory's fields from the stores' accounts.
func TestMemoryCommands(t *testing.T) {
	srv, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	c.Set(ctx, "k", strings.Repeat("v", 100), 0)
	c.HSet(ctx, "h", "f1", "one", "f2", "two")

	usage := func(args ...any) (int64, error) {
		return c.Do(ctx, append([]any{"MEMORY", "USAGE"}, args...)...).Int64()
	}
	n, err := usage("k")
	if err != nil || n < 110 || n > 220 {
		t.Fatalf("MEMORY USAGE k = %d, %v; want the record's chunk and table share", n, err)
	}
	if n2, err := usage("k", "SAMPLES", "0"); err != nil || n2 != n {
		t.Fatalf("MEMORY USAGE k SAMPLES 0 = %d, %v, want %d", n2, err, n)
	}
	if _, err := usage("missing"); err != redis.Nil {
		t.Fatalf("MEMORY USAGE missing: %v, want nil", err)
	}
	for args, want := range map[string]string{
		"k SAMPLES":       "ERR syntax error",
		"k SAMPLES -1":    "ERR syntax error",
		"k SAMPLES x":     "ERR value is not an integer or out of range",
		"missing SAMPLES": "ERR syntax error",
		"k NOSUCH 1":      "ERR syntax error",
	} {
		var a []any
		for _, w := range strings.Fields(args) {
			a = append(a, w)
		}
		if _, err := usage(a...); err == nil || err.Error() != want {
			t.Errorf("MEMORY USAGE %s: %v, want %q", args, err, want)
		}
	}

	stats, err := c.Do(ctx, "MEMORY", "STATS").Slice()
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]any{}
	for i := 0; i+1 < len(stats); i += 2 {
		fields[stats[i].(string)] = stats[i+1]
	}
	for _, name := range []string{"peak.allocated", "total.allocated", "overhead.total", "keys.count",
		"dataset.bytes", "store.tables", "store.pages", "go.heap.alloc"} {
		if _, ok := fields[name]; !ok {
			t.Errorf("MEMORY STATS lacks %s", name)
		}
	}
	if fields["keys.count"] != int64(2) {
		t.Errorf("MEMORY STATS keys.count = %v", fields["keys.count"])
	}
	if d, _ := fields["dataset.bytes"].(int64); d < 100 {
		t.Errorf("MEMORY STATS dataset.bytes = %v", fields["dataset.bytes"])
	}

	// The test process's memory is whatever the other tests left: only
	// the shape of the answer is checked here (TestDoctor checks what it
	// says).
	report, err := c.Do(ctx, "MEMORY", "DOCTOR").Text()
	if err != nil || !strings.HasPrefix(report, "Hi Sam") && !strings.HasPrefix(report, "Sam, I detected") {
		t.Errorf("MEMORY DOCTOR = %q, %v", report, err)
	}
	if help, err := c.Do(ctx, "MEMORY", "HELP").StringSlice(); err != nil || len(help) != len(memoryHelp) {
		t.Errorf("MEMORY HELP = %q, %v", help, err)
	}
	if ok, err := c.Do(ctx, "MEMORY", "PURGE").Text(); err != nil || ok != "OK" {
		t.Errorf("MEMORY PURGE = %q, %v", ok, err)
	}

	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{}
	for _, line := range strings.Split(info, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			vals[k] = v
		}
	}
	num := func(name string) int64 {
		v, err := strconv.ParseInt(vals[name], 10, 64)
		if err != nil {
			t.Fatalf("INFO memory %s = %q", name, vals[name])
		}
		return v
	}
	if used, ds, oh := num("used_memory"), num("used_memory_dataset"), num("used_memory_overhead"); ds <= 0 || used != ds+oh {
		t.Errorf("INFO memory: used_memory %d, dataset %d, overhead %d", used, ds, oh)
	}
	if num("store_keys") != 2 || num("used_memory_rss") <= 0 {
		t.Errorf("INFO memory: %q", info)
	}
}

func TestDoctor(t *testing.T) {
	const mib = 1 << 20
	healthy := memoryReport{used: 300 * mib, rss: 350 * mib, goHeap: 40 * mib,
		store: store.MemoryStats{Pages: 260 * mib, Free: 10 * mib, Tables: 11 * mib}}
	fragmented := healthy
	fragmented.store.Free = 100 * mib
	snapshotting := healthy
	snapshotting.store.Pending = 1234
	bloated := healthy
	bloated.rss = 600 * mib
	for _, tc := range []struct {
		name string
		r    memoryReport
		want string
	}{
		{"empty", memoryReport{used: 1 * mib}, "Hi Sam, this instance is empty"},
		{"healthy", healthy, "Hi Sam, I can't find any memory issue"},
		{"free space in pages", fragmented, " * Store pages: 38% of 260.00M is free space"},
		{"snapshot", snapshotting, " * Snapshot: 1234 records"},
		{"rss", bloated, " * RSS: resident memory is 2.00 times"},
	} {
		if got := doctor(tc.r); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q lacks %q", tc.name, got, tc.want)
		}
	}
}
