package store

import (
	"fmt"
	"io"
	"testing"

	"github.com/raftcache/raftcache/resp"
)

// benchKeys are prebuilt so that the benchmarks measure the store, not
// the formatting of keys.
func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%d", i)
	}
	return keys
}

// benchApply applies one command per iteration, built by cmd for the
// iteration's key, reusing the batch and reply slices as the FSM does.
func benchApply(b *testing.B, s *Store, cmd func(key []byte) [][]byte) {
	keys := benchKeys(1024)
	cmds := make([][][]byte, len(keys))
	for i, k := range keys {
		cmds[i] = cmd(k)
	}
	batch := make([][][]byte, 1)
	replies := make([]resp.Reply, 0, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		batch[0] = cmds[i%len(cmds)]
		replies = s.Apply(1000, batch, replies[:0])
		if replies[0].IsError() {
			b.Fatal(string(replies[0].Str))
		}
		i++
	}
}

func benchRead(b *testing.B, s *Store, cmd func(key []byte) [][]byte) {
	keys := benchKeys(1024)
	cmds := make([][][]byte, len(keys))
	for i, k := range keys {
		cmds[i] = cmd(k)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if r := s.Read(1000, cmds[i%len(cmds)]); r.Kind != resp.KindBulk {
			b.Fatal(fmtReply(r))
		}
		i++
	}
}

func BenchmarkGet(b *testing.B) {
	s := New()
	for _, k := range benchKeys(1024) {
		mustApply(b, s, 1000, [][]byte{[]byte("SET"), k, []byte("some value of moderate size")})
	}
	benchRead(b, s, func(k []byte) [][]byte { return [][]byte{[]byte("GET"), k} })
}

func BenchmarkSet(b *testing.B) {
	benchApply(b, New(), func(k []byte) [][]byte {
		return [][]byte{[]byte("SET"), k, []byte("some value of moderate size")}
	})
}

func BenchmarkSetEX(b *testing.B) {
	benchApply(b, New(), func(k []byte) [][]byte {
		return [][]byte{[]byte("SET"), k, []byte("some value of moderate size"), []byte("EX"), []byte("100")}
	})
}

func BenchmarkHSet(b *testing.B) {
	benchApply(b, New(), func(k []byte) [][]byte {
		return [][]byte{[]byte("HSET"), k, []byte("field"), []byte("value")}
	})
}

func BenchmarkHGet(b *testing.B) {
	s := New()
	for _, k := range benchKeys(1024) {
		mustApply(b, s, 1000, [][]byte{[]byte("HSET"), k, []byte("field"), []byte("value"), []byte("other"), []byte("x")})
	}
	benchRead(b, s, func(k []byte) [][]byte { return [][]byte{[]byte("HGET"), k, []byte("field")} })
}

func BenchmarkIncr(b *testing.B) {
	benchApply(b, New(), func(k []byte) [][]byte { return [][]byte{[]byte("INCR"), k} })
}

// BenchmarkSnapshot measures freezing and writing out 100,000 keys.
func BenchmarkSnapshot(b *testing.B) {
	s := New()
	var cmds [][][]byte
	for _, k := range benchKeys(100000) {
		cmds = append(cmds, [][]byte{[]byte("SET"), k, []byte("some value of moderate size")})
	}
	mustApply(b, s, 1000, cmds...)
	b.ReportAllocs()
	for b.Loop() {
		sn := s.Snapshot()
		if _, err := sn.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		sn.Release()
	}
}

// TestGetAllocatesOnlyTheReply holds GET of an existing key, the hottest
// read, to one allocation: the copy of the value the reply carries out of
// the heap (see DESIGN.md, "Replies copy").
func TestGetAllocatesOnlyTheReply(t *testing.T) {
	s := New()
	mustApply(t, s, 1000, argv("SET", "key", "some value"))
	args := argv("GET", "key")
	if allocs := testing.AllocsPerRun(1000, func() { s.Read(1000, args) }); allocs != 1 {
		t.Fatalf("GET allocates %v times", allocs)
	}
}

func BenchmarkAppend(b *testing.B) {
	benchApply(b, New(), func(k []byte) [][]byte { return [][]byte{[]byte("APPEND"), k, []byte("x")} })
}

func BenchmarkMGet(b *testing.B) {
	s := New()
	keys := benchKeys(1024)
	for _, k := range keys {
		mustApply(b, s, 1000, [][]byte{[]byte("SET"), k, []byte("v")})
	}
	args := append([][]byte{[]byte("MGET")}, keys[:10]...)
	b.ReportAllocs()
	for b.Loop() {
		s.Read(1000, args)
	}
}

func BenchmarkScan(b *testing.B) {
	s := New()
	var cmds [][][]byte
	for _, k := range benchKeys(100000) {
		cmds = append(cmds, [][]byte{[]byte("SET"), k, []byte("v")})
	}
	mustApply(b, s, 1000, cmds...)
	b.ReportAllocs()
	cursor := []byte("0")
	for b.Loop() {
		r := s.Read(1000, [][]byte{[]byte("SCAN"), cursor, []byte("COUNT"), []byte("100")})
		cursor = r.Elems[0].Str
	}
}

func BenchmarkKeysPattern(b *testing.B) {
	s := New()
	var cmds [][][]byte
	for _, k := range benchKeys(100000) {
		cmds = append(cmds, [][]byte{[]byte("SET"), k, []byte("v")})
	}
	mustApply(b, s, 1000, cmds...)
	b.ReportAllocs()
	for b.Loop() {
		s.Read(1000, [][]byte{[]byte("KEYS"), []byte("key:1?9*")})
	}
}

// BenchmarkTxGuard measures a WATCH transaction of one key and two
// commands.
func BenchmarkTxGuard(b *testing.B) {
	s := New()
	mustApply(b, s, 1000, [][]byte{[]byte("SET"), []byte("k"), []byte("v")})
	b.ReportAllocs()
	replies := make([]resp.Reply, 0, 3)
	for b.Loop() {
		r := s.Read(1000, [][]byte{[]byte(CmdVersion), []byte("k")})
		v, _ := ParseVersions([][]byte{[]byte("k")}, r)
		replies = s.Apply(1000, [][][]byte{TxArgs(2, v), {[]byte("INCR"), []byte("n")}, {[]byte("GET"), []byte("k")}}, replies[:0])
	}
}
