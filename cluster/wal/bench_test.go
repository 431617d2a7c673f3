package wal

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// BenchmarkShardAppends is what a node's log stores pay for the Raft
// groups of its shards appending at once, as they do under load: each of
// the shards appends one 200-byte entry at a time and waits for it to be
// durable, on the real disk under the test's temporary directory. "wal"
// is this package, one log shared by the shards; "bolt" is a
// raft-boltdb/v2 file per shard, the store it replaces. ns/op is per
// append; syncs/op is the fdatasyncs the WAL issued per append.
func BenchmarkShardAppends(b *testing.B) {
	for _, shards := range []int{1, 3, 8} {
		b.Run(fmt.Sprintf("wal/shards=%d", shards), func(b *testing.B) {
			w, err := Open(Options{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			stores := make([]raft.LogStore, shards)
			for i := range stores {
				stores[i] = w.Shard(uint32(i))
			}
			runAppends(b, stores)
			b.ReportMetric(float64(w.Stats().Syncs)/float64(b.N), "syncs/op")
		})
		b.Run(fmt.Sprintf("bolt/shards=%d", shards), func(b *testing.B) {
			dir := b.TempDir()
			stores := make([]raft.LogStore, shards)
			for i := range stores {
				s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, fmt.Sprintf("shard-%d.db", i))})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				stores[i] = s
			}
			runAppends(b, stores)
		})
	}
}

func runAppends(b *testing.B, stores []raft.LogStore) {
	data := make([]byte, 200)
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			index := uint64(0)
			for next.Add(1) <= int64(b.N) {
				index++
				if err := s.StoreLog(&raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
