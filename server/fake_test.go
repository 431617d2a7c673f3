package server

import (
	"context"
	"sync"
	"time"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// fakeBackend is a Backend without Raft: one store per shard, writes
// applied directly under a lock, in the order they arrive.
type fakeBackend struct {
	mu     sync.Mutex
	shards []*store.Store
	snaps  int
	// log records every Propose batch, for tests that check what the
	// server proposes.
	log [][][][]byte
	// waitBlocks makes WaitReplicas wait for its context when replicas
	// are asked for, as a node without replicas would with timeout 0.
	waitBlocks bool
}

// proposals returns the batches proposed so far.
func (b *fakeBackend) proposals() [][][][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][][][]byte(nil), b.log...)
}

func newFakeBackend(shards int) *fakeBackend {
	b := &fakeBackend{}
	for i := 0; i < shards; i++ {
		b.shards = append(b.shards, store.New())
	}
	return b
}

func (b *fakeBackend) NodeID() string { return "fake" }
func (b *fakeBackend) NumShards() int { return len(b.shards) }
func (b *fakeBackend) ShardOfSlot(slot int) int {
	return slot * len(b.shards) / store.NumSlots
}

func (b *fakeBackend) Propose(_ context.Context, shard int, cmds [][][]byte) ([]resp.Reply, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	copied := make([][][]byte, len(cmds))
	for i, c := range cmds {
		copied[i] = copyArgs(c)
	}
	b.log = append(b.log, copied)
	return b.shards[shard].Apply(time.Now().UnixMilli(), cmds, nil), nil
}

func (b *fakeBackend) Read(_ context.Context, shard int, args [][]byte) (resp.Reply, error) {
	return b.shards[shard].Read(time.Now().UnixMilli(), args), nil
}

func (b *fakeBackend) Snapshot(context.Context, int) error {
	b.mu.Lock()
	b.snaps++
	b.mu.Unlock()
	return nil
}

func (b *fakeBackend) Status() []cluster.Status {
	out := make([]cluster.Status, len(b.shards))
	for i, s := range b.shards {
		st := s.Stats()
		out[i] = cluster.Status{
			ID: i, FirstSlot: i * store.NumSlots / len(b.shards),
			LastSlot: (i+1)*store.NumSlots/len(b.shards) - 1,
			State:    "Leader", LeaderID: "fake", Keys: st.Keys, Expires: st.Expires,
		}
	}
	return out
}

func (b *fakeBackend) WaitReplicas(ctx context.Context, _ []int, n int, _ time.Duration) (int, error) {
	if b.waitBlocks && n > 0 {
		<-ctx.Done()
	}
	return 0, nil
}

func (b *fakeBackend) LocalDigest(shard int) [20]byte { return b.shards[shard].Digest() }

func (b *fakeBackend) Peers() []cluster.Peer {
	return []cluster.Peer{{ID: "fake", Addr: "127.0.0.1:0", ClusterAddr: "127.0.0.1:0"}}
}
