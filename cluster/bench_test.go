package cluster

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// BenchmarkSnapshotStall1M measures how long writes stall while a shard
// holding 1M keys takes a Raft snapshot: a writer proposes SETs back to
// back and records each latency, once without and once during a snapshot
// (to a file snapshot store, so the write-out is real I/O). Reported:
// the worst and p99 write latency in both phases. Run with -benchtime=1x.
func BenchmarkSnapshotStall1M(b *testing.B) {
	addr, trans := raft.NewInmemTransport("")
	snaps, err := raft.NewFileSnapshotStore(b.TempDir(), 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	logs := raft.NewInmemStore()
	s, err := startShard(shardConfig{
		id: 0, lastSlot: store16383, nodeID: "r1", log: zap.NewNop(), cfg: inmemConfig(),
		bootstrap:    []raft.Server{{Suffrage: raft.Voter, ID: "r1", Address: addr}},
		clientAddrOf: func(string) string { return "" },
	}, shardStorage{logs: logs, stable: logs, snapshots: snaps, transport: trans})
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	for s.readyTerm.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	// Fill the store directly: the load itself is not what is measured.
	value := make([]byte, 100)
	batch := make([][][]byte, 0, 1000)
	for i := 0; i < 1_000_000; i++ {
		batch = append(batch, [][]byte{[]byte("SET"), []byte(fmt.Sprintf("key:%d", i)), value})
		if len(batch) == cap(batch) {
			s.store.Apply(0, batch, make([]resp.Reply, 0, len(batch)))
			batch = batch[:0]
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		quiet := writeLatencies(b, s, func() { time.Sleep(2 * time.Second) })
		during := writeLatencies(b, s, func() {
			if err := s.Snapshot(); err != nil {
				b.Error(err)
			}
		})
		b.ReportMetric(ms(quiet[len(quiet)-1]), "quiet-max-ms")
		b.ReportMetric(ms(quiet[len(quiet)*99/100]), "quiet-p99-ms")
		b.ReportMetric(ms(during[len(during)-1]), "snapshot-max-ms")
		b.ReportMetric(ms(during[len(during)*99/100]), "snapshot-p99-ms")
		b.ReportMetric(float64(len(during)), "writes-during-snapshot")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeLatencies proposes SETs back to back while during runs and returns
// the sorted latencies.
func writeLatencies(b *testing.B, s *Shard, during func()) []time.Duration {
	var (
		mu   sync.Mutex
		lats []time.Duration
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := s.Propose(ctx, [][][]byte{{[]byte("SET"), []byte(fmt.Sprintf("w:%d", i)), []byte("v")}})
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			lats = append(lats, time.Since(start))
			mu.Unlock()
		}
	}()
	during()
	close(stop)
	<-done
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	if len(lats) == 0 {
		b.Fatal("no writes completed")
	}
	return lats
}

// BenchmarkProposeSingleNode is the write path of a one-node cluster
// without the network: a node with three shards on the WAL (real disk,
// fsync always) and 48 goroutines proposing one SET at a time each, as
// 48 clients with -P 1 would. ns/op is per SET; syncs/op is how many
// SETs share one fdatasync.
func BenchmarkProposeSingleNode(b *testing.B) {
	cfg := Config{NodeID: "n1", Addr: "127.0.0.1:0", Dir: b.TempDir(), Shards: 3,
		ClusterAddr: "127.0.0.1:0"}
	n, err := Open(cfg, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close(context.Background())
	ctx := context.Background()
	if err := n.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	for _, s := range n.shards {
		for s.readyTerm.Load() != s.raft.CurrentTerm() {
			time.Sleep(5 * time.Millisecond)
		}
	}
	value := make([]byte, 100)
	var next sync.WaitGroup
	var issued atomic.Int64
	before := n.wal.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	for w := 0; w < 48; w++ {
		next.Go(func() {
			for i := issued.Add(1); i <= int64(b.N); i = issued.Add(1) {
				key := []byte(fmt.Sprintf("k:%d:%d", w, i%1000))
				shard := n.ShardOfSlot(int(store.SlotOf(key))).ID()
				if _, err := n.Propose(ctx, shard, [][][]byte{{[]byte("SET"), key, value}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	next.Wait()
	b.StopTimer()
	after := n.wal.Stats()
	b.ReportMetric(float64(b.N)/float64(after.Syncs-before.Syncs), "sets/sync")
	b.ReportMetric(float64((after.SyncTime-before.SyncTime).Microseconds())/float64(after.Syncs-before.Syncs), "µs/sync")
}
