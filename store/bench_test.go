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
