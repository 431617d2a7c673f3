package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/cluster/wal"
	"github.com/raftcache/raftcache/internal/hist"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// fakeBackend is a Backend without Raft: one store per shard, writes
// applied directly under a lock, in the order they arrive.
type fakeBackend struct {
	mu     sync.Mutex
	users  *acl.Users
	shards []*store.Store
	snaps  int
	// log records every Propose batch, for tests that check what the
	// server proposes.
	log [][][][]byte
	// waitBlocks makes WaitReplicas wait for its context when replicas
	// are asked for, as a node without replicas would with timeout 0.
	waitBlocks bool
	// waiting, if set, gets a value whenever WaitReplicas starts to block.
	waiting chan struct{}
	// readBatches counts ReadBatch calls.
	readBatches int
	// eviction is what SetEviction set; full is what OverMaxMemory says.
	eviction *cluster.EvictionConfig
	full     atomic.Bool

	// The cluster the fake pretends to be part of (see setCluster):
	// leaders[shard] is the shard's leader ("" none; nil: "fake" leads
	// every shard), members the nodes, met and forgot what MEET and FORGET
	// were asked to do.
	leaders []string
	terms   []uint64
	members []cluster.Peer
	met     []string
	forgot  []string
	// localReads counts ReadLocal calls; fail, when set, is what Propose
	// and Read return instead of running anything.
	localReads int
	fail       error
	// lag is how many entries every follower replica trails its leader
	// (Readiness).
	lag int64
}

// setCluster makes the fake one node ("fake") of a cluster of members
// whose shards are led by leaders (one per shard, "" for none).
func (b *fakeBackend) setCluster(members []cluster.Peer, leaders []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.members, b.leaders = members, leaders
}

func (b *fakeBackend) leader(shard int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.leaders == nil {
		return "fake"
	}
	return b.leaders[shard]
}

// proposals returns the batches proposed so far.
func (b *fakeBackend) proposals() [][][][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][][][]byte(nil), b.log...)
}

func newFakeBackend(shards int) *fakeBackend {
	b := &fakeBackend{users: acl.New()}
	for i := 0; i < shards; i++ {
		b.shards = append(b.shards, store.New())
	}
	return b
}

func (b *fakeBackend) NodeID() string { return "fake" }

func (b *fakeBackend) ACL() *acl.Users { return b.users }

// ProposeACL applies the change as shard 0's FSM would, after decoding
// it from the bytes a log would carry.
func (b *fakeBackend) ProposeACL(_ context.Context, op []byte) (resp.Reply, error) {
	o, err := acl.DecodeOp(op)
	if err != nil {
		return resp.Reply{}, err
	}
	return b.users.Apply(o), nil
}
func (b *fakeBackend) NumShards() int { return len(b.shards) }

// ShardOfSlot splits the slots as cluster does (and Status reports):
// shard i owns i*NumSlots/n up to (i+1)*NumSlots/n - 1.
func (b *fakeBackend) ShardOfSlot(slot int) int {
	n := len(b.shards)
	i := slot * n / store.NumSlots
	if slot >= (i+1)*store.NumSlots/n {
		i++
	}
	return i
}

func (b *fakeBackend) Propose(_ context.Context, shard int, cmds [][][]byte) ([]resp.Reply, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return nil, b.fail
	}
	copied := make([][][]byte, len(cmds))
	for i, c := range cmds {
		copied[i] = copyArgs(c)
	}
	b.log = append(b.log, copied)
	return b.shards[shard].Apply(time.Now().UnixMilli(), cmds, nil), nil
}

func (b *fakeBackend) Read(_ context.Context, shard int, args [][]byte) (resp.Reply, error) {
	b.mu.Lock()
	fail := b.fail
	b.mu.Unlock()
	if fail != nil {
		return resp.Reply{}, fail
	}
	return b.shards[shard].Read(time.Now().UnixMilli(), args), nil
}

func (b *fakeBackend) ReadBatch(ctx context.Context, shard int, cmds [][][]byte, out []resp.Reply) ([]resp.Reply, error) {
	for _, args := range cmds {
		r, err := b.Read(ctx, shard, args)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	b.mu.Lock()
	b.readBatches++
	b.mu.Unlock()
	return out, nil
}

func (b *fakeBackend) Snapshot(context.Context, int) error {
	b.mu.Lock()
	b.snaps++
	b.mu.Unlock()
	return nil
}

func (b *fakeBackend) Eviction() cluster.EvictionConfig {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.eviction == nil {
		return cluster.DefaultEvictionConfig()
	}
	return *b.eviction
}

func (b *fakeBackend) SetEviction(_ context.Context, c cluster.EvictionConfig) error {
	if err := c.Check(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.eviction = &c
	return nil
}

// OverMaxMemory says what the test set in full.
func (b *fakeBackend) OverMaxMemory() bool { return b.full.Load() }
func (b *fakeBackend) MemoryUsed() int64   { return 0 }
func (b *fakeBackend) EvictionStats() cluster.EvictionStats {
	var st cluster.EvictionStats
	for _, sh := range b.shards {
		k := sh.KeyspaceStats()
		st.Hits += k.Hits
		st.Misses += k.Misses
		st.Evicted += k.Evicted
	}
	return st
}

func (b *fakeBackend) LogInfo() cluster.LogInfo {
	return cluster.LogInfo{Store: cluster.LogStoreWAL, WAL: wal.Stats{Segments: 1, Writes: 7, Syncs: 5, SyncTime: 5 * time.Millisecond}}
}

func (b *fakeBackend) Status() []cluster.Status {
	out := make([]cluster.Status, len(b.shards))
	for i, s := range b.shards {
		st := s.Stats()
		out[i] = cluster.Status{
			ID: i, FirstSlot: i * store.NumSlots / len(b.shards),
			LastSlot: (i+1)*store.NumSlots/len(b.shards) - 1,
			State:    "Leader", LeaderID: b.leader(i), Keys: st.Keys, Expires: st.Expires, Memory: s.Memory(),
		}
		if out[i].LeaderID != "fake" {
			out[i].State = "Follower"
		}
		b.mu.Lock()
		if i < len(b.terms) {
			out[i].Term = b.terms[i]
		}
		b.mu.Unlock()
	}
	return out
}

func (b *fakeBackend) WaitReplicas(ctx context.Context, _ []int, n int, _ time.Duration) (int, error) {
	if b.waitBlocks && n > 0 {
		if b.waiting != nil {
			b.waiting <- struct{}{}
		}
		<-ctx.Done()
	}
	return 0, nil
}

func (b *fakeBackend) FollowerLag(context.Context, int) []cluster.Lag { return nil }

func (b *fakeBackend) LocalDigest(shard int) [20]byte { return b.shards[shard].Digest() }

func (b *fakeBackend) Peers() []cluster.Peer {
	return []cluster.Peer{{ID: "fake", Addr: "127.0.0.1:0", ClusterAddr: "127.0.0.1:0"}}
}

func (b *fakeBackend) LeaderOf(shard int) (id, addr string) {
	id = b.leader(shard)
	for _, m := range b.Members(context.Background()) {
		if m.ID == id {
			addr = m.Addr
		}
	}
	return id, addr
}

func (b *fakeBackend) Leads(shard int) bool { return b.leader(shard) == "fake" }

func (b *fakeBackend) ReadLocal(shard int, args [][]byte) resp.Reply {
	b.mu.Lock()
	b.localReads++
	b.mu.Unlock()
	return b.shards[shard].Read(time.Now().UnixMilli(), args)
}

func (b *fakeBackend) Members(context.Context) []cluster.Peer {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.members == nil {
		return []cluster.Peer{{ID: "fake", Addr: "127.0.0.1:0", ClusterAddr: "127.0.0.1:0", Self: true}}
	}
	return append([]cluster.Peer(nil), b.members...)
}

func (b *fakeBackend) Meet(_ context.Context, clusterAddr string) (cluster.Peer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.met = append(b.met, clusterAddr)
	return cluster.Peer{ID: "met", ClusterAddr: clusterAddr}, nil
}

func (b *fakeBackend) Forget(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.forgot = append(b.forgot, id)
	return nil
}

// Readiness is ready while every shard has a leader; lag, when set,
// makes every follower replica that many entries behind.
func (b *fakeBackend) Readiness(context.Context) cluster.Readiness {
	r := cluster.Readiness{Ready: true}
	b.mu.Lock()
	lag := b.lag
	b.mu.Unlock()
	for _, st := range b.Status() {
		l := cluster.ReplicaLag{Shard: st.ID, Leader: st.LeaderID}
		switch {
		case st.LeaderID == "":
			l.Entries, l.Seconds = -1, -1
			l.Err = fmt.Errorf("shard %d has no leader", st.ID)
		case st.LeaderID != "fake":
			l.Entries, l.Seconds = lag, float64(lag)/1000
		}
		r.Shards = append(r.Shards, l)
		reason := ""
		if l.Err != nil {
			reason = l.Err.Error()
		} else if l.Entries > cluster.DefaultReadyMaxLag {
			reason = fmt.Sprintf("shard %d: this replica is %d entries behind its leader %s", st.ID, l.Entries, l.Leader)
		}
		if reason != "" && r.Ready {
			r.Ready, r.Reason = false, reason
		}
	}
	return r
}

func (b *fakeBackend) ShardMetrics() []cluster.ShardMetrics {
	var out []cluster.ShardMetrics
	for _, st := range b.Status() {
		out = append(out, cluster.ShardMetrics{Status: st, Apply: new(hist.Histogram).Snapshot(), LeaderChanges: 1})
	}
	return out
}

func (b *fakeBackend) LogSyncLatency() *hist.Snapshot {
	var h hist.Histogram
	h.Observe(2 * time.Millisecond)
	return h.Snapshot()
}
