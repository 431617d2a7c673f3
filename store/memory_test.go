package store

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

// BenchmarkMemoryStrings loads the keys of test/bench's memory comparison
// (key:<i> with distinct 100-byte values) and reports the store's bytes per
// key by part, and the process's resident memory per key.
func BenchmarkMemoryStrings(b *testing.B) {
	const keys = 1_000_000
	val := []byte(strings.Repeat("x", 100))
	for b.Loop() {
		runtime.GC()
		rss0 := rss(b)
		s := New()
		batch := make([][][]byte, 0, 1000)
		for i := range keys {
			idx := strconv.Itoa(i)
			v := append([]byte(nil), val...)
			copy(v[100-len(idx):], idx)
			batch = append(batch, [][]byte{[]byte("SET"), []byte("key:" + idx), v})
			if len(batch) == cap(batch) {
				s.Apply(1000, batch, nil)
				batch = batch[:0]
			}
		}
		runtime.GC()
		reportMemory(b, s, keys, rss(b)-rss0)
		runtime.KeepAlive(s)
	}
}

// BenchmarkMemoryHashes loads 100k hashes of 20 fields of 10-30 bytes,
// test/bench's hash row.
func BenchmarkMemoryHashes(b *testing.B) {
	const keys = 100_000
	for b.Loop() {
		runtime.GC()
		rss0 := rss(b)
		s := New()
		for i := range keys {
			cmd := [][]byte{[]byte("HSET"), []byte("hash:" + strconv.Itoa(i))}
			for f := range 20 {
				cmd = append(cmd, fmt.Appendf(nil, "field:%d", f), []byte(strings.Repeat("v", 10+(i+f)%21)))
			}
			s.Apply(1000, [][][]byte{cmd}, nil)
		}
		runtime.GC()
		reportMemory(b, s, keys, rss(b)-rss0)
		runtime.KeepAlive(s)
	}
}

func reportMemory(b *testing.B, s *Store, keys int, rssDelta int64) {
	m := s.Memory()
	per := func(v int64) float64 { return float64(v) / float64(keys) }
	b.ReportMetric(per(m.Dataset), "dataset-B/key")
	b.ReportMetric(per(m.Tables), "tables-B/key")
	b.ReportMetric(per(m.Free), "free-B/key")
	b.ReportMetric(per(m.Fixed), "fixed-B/key")
	b.ReportMetric(per(m.Used()), "used-B/key")
	b.ReportMetric(per(rssDelta), "rss-B/key")
}

// rss is the process's resident memory, or 0 where /proc is missing.
func rss(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestMemoryAccounting: MEMORY USAGE counts a key's chunk, its table share
// and a large hash's parts; the store's account grows with writes and
// goes back down when they are undone, pages included.
func TestMemoryAccounting(t *testing.T) {
	s := New()
	usage := func(key string) int64 {
		t.Helper()
		r := s.Read(1000, argv("MEMORY", "USAGE", key))
		if r.Kind != resp.KindInt {
			t.Fatalf("MEMORY USAGE %s = %s", key, fmtReply(r))
		}
		return r.Int
	}
	mustApply(t, s, 1000, argv("SET", "small", "v"), argv("SET", "long", strings.Repeat("v", 1000)),
		argv("SET", "huge", strings.Repeat("v", 100000)))
	if u := usage("small"); u < 24 || u > 64 {
		t.Errorf("MEMORY USAGE small = %d", u)
	}
	if u := usage("long"); u < 1000 || u > 1200 {
		t.Errorf("MEMORY USAGE long = %d", u)
	}
	if u := usage("huge"); u < 100000 || u > 110000 {
		t.Errorf("MEMORY USAGE huge = %d", u)
	}
	hset := argv("HSET", "h")
	for i := range 200 {
		hset = append(hset, []byte(fmt.Sprint("field", i)), []byte(strings.Repeat("x", 30)))
	}
	mustApply(t, s, 1000, hset)
	if u := usage("h"); u < 200*40 || u > 200*80 {
		t.Errorf("MEMORY USAGE h (hashtable of 200 fields) = %d", u)
	}
	if r := s.Read(1000, argv("MEMORY", "USAGE", "nosuch")); r.Kind != resp.KindNull {
		t.Errorf("MEMORY USAGE nosuch = %s", fmtReply(r))
	}
	m := s.Memory()
	if m.Keys != 4 || m.Dataset < 100000+1000+200*40 || m.Large < 100000 || m.Tables == 0 || m.Used() < m.Dataset {
		t.Fatalf("Memory() = %+v", m)
	}

	// Many keys, then all gone: the chunks and the pages go back.
	var cmds [][][]byte
	for i := range 20000 {
		cmds = append(cmds, argv("SET", fmt.Sprint("k", i), strings.Repeat("v", i%300)))
	}
	mustApply(t, s, 1000, cmds...)
	grown := s.Memory()
	cmds = cmds[:0]
	for i := range 20000 {
		cmds = append(cmds, argv("DEL", fmt.Sprint("k", i)))
	}
	cmds = append(cmds, argv("DEL", "small", "long", "huge", "h"))
	mustApply(t, s, 1000, cmds...)
	m = s.Memory()
	if m.Keys != 0 || m.Dataset != 0 || m.Large != 0 || m.Tables != 0 || m.Pages > maxWarmPages*pageSize {
		t.Fatalf("after deleting everything: %+v (grown to %+v)", m, grown)
	}
	checkHeap(t, s)
}
