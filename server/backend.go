package server

import (
	"context"
	"time"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/internal/hist"
	"github.com/raftcache/raftcache/resp"
)

// Backend is what the server needs from the node below it. cluster.Node
// implements it through NodeBackend; tests use a fake.
type Backend interface {
	// NodeID names this node.
	NodeID() string
	// NumShards is the number of shards; ShardOfSlot maps a slot to one.
	NumShards() int
	ShardOfSlot(slot int) int
	// Propose applies cmds atomically, in order, on the shard and returns
	// one reply per command once they are committed and applied.
	Propose(ctx context.Context, shard int, cmds [][][]byte) ([]resp.Reply, error)
	// Read executes a read-only command linearizably on the shard.
	Read(ctx context.Context, shard int, args [][]byte) (resp.Reply, error)
	// ReadBatch executes read-only commands linearizably on the shard, in
	// order, after one leadership confirmation, appending the replies to
	// out (which may be nil).
	ReadBatch(ctx context.Context, shard int, cmds [][][]byte, out []resp.Reply) ([]resp.Reply, error)
	// Snapshot takes a snapshot of the shard now.
	Snapshot(ctx context.Context, shard int) error
	// Status describes every shard.
	Status() []cluster.Status
	// LogInfo describes the node's Raft log store.
	LogInfo() cluster.LogInfo
	// Eviction returns maxmemory and its policy; SetEviction changes them
	// on every node. OverMaxMemory reports whether the node's keyspace is
	// past maxmemory (as last measured), MemoryUsed how much it holds as
	// maxmemory counts it, EvictionStats the counters INFO shows.
	Eviction() cluster.EvictionConfig
	SetEviction(ctx context.Context, c cluster.EvictionConfig) error
	OverMaxMemory() bool
	MemoryUsed() int64
	EvictionStats() cluster.EvictionStats
	// Peers lists the cluster's members.
	Peers() []cluster.Peer
	// WaitReplicas returns how many replicas other than the leader hold
	// every write acknowledged so far on each of shards, waiting until
	// numreplicas of them do or timeout passes (0: no time limit; ctx
	// still ends the wait). It backs WAIT.
	WaitReplicas(ctx context.Context, shards []int, numreplicas int, timeout time.Duration) (int, error)
	// FollowerLag reports how far each other replica of a shard this node
	// leads trails it (nil when it does not lead the shard).
	FollowerLag(ctx context.Context, shard int) []cluster.Lag
	// LocalDigest is a digest of this node's replica of the shard, equal on
	// every replica that applied the same entries (DEBUG DIGEST).
	LocalDigest(shard int) [20]byte

	// LeaderOf returns the node ID and client address of the shard's
	// leader as this node sees it now, without waiting: both empty while no
	// leader is known, addr empty when the leader's address is unknown.
	// Cluster-aware connections are redirected by it (MOVED).
	LeaderOf(shard int) (id, addr string)
	// Leads reports whether this node leads the shard at this moment,
	// without waiting or asking anyone: a hint for how to schedule work
	// (a read of a shard this node leads is served from memory), never a
	// promise, since leadership can move the next instant.
	Leads(shard int) bool
	// ReadLocal executes a read-only command on this node's replica of the
	// shard with no leadership check: possibly stale, as a Redis Cluster
	// replica's answer to a READONLY connection is.
	ReadLocal(shard int, args [][]byte) resp.Reply
	// Members lists the cluster's nodes as this node sees them (the voters
	// of its shards), sorted by ID; it may ask members for their client
	// addresses, within ctx.
	Members(ctx context.Context) []cluster.Peer
	// Meet adds the node listening on clusterAddr (host:cport) to every
	// shard (CLUSTER MEET); Forget removes the node with the given ID
	// (CLUSTER FORGET). Both return once every shard has changed.
	Meet(ctx context.Context, clusterAddr string) (cluster.Peer, error)
	Forget(ctx context.Context, id string) error

	// ACL returns the ACL users the server enforces; ProposeACL
	// replicates one encoded change to them (acl.Op.Encode) and returns
	// its reply once this node applied it.
	ACL() *acl.Users
	ProposeACL(ctx context.Context, op []byte) (resp.Reply, error)

	// Readiness reports whether every shard has a leader and this node's
	// replicas are within a small lag of them (cluster.Node.Readiness); it
	// may ask the leaders, within ctx.
	Readiness(ctx context.Context) cluster.Readiness
	// ShardMetrics describes this node's replica of every shard, by ID.
	ShardMetrics() []cluster.ShardMetrics
	// LogSyncLatency is the distribution of the node log's sync times.
	LogSyncLatency() *hist.Snapshot
}

// NodeBackend adapts a *cluster.Node to Backend.
type NodeBackend struct{ Node *cluster.Node }

var _ Backend = NodeBackend{}

func (b NodeBackend) NodeID() string           { return b.Node.ID() }
func (b NodeBackend) NumShards() int           { return len(b.Node.Shards()) }
func (b NodeBackend) ShardOfSlot(slot int) int { return b.Node.ShardOfSlot(slot).ID() }
func (b NodeBackend) Peers() []cluster.Peer    { return b.Node.Peers() }

func (b NodeBackend) Propose(ctx context.Context, shard int, cmds [][][]byte) ([]resp.Reply, error) {
	return b.Node.Propose(ctx, shard, cmds)
}

func (b NodeBackend) ReadBatch(ctx context.Context, shard int, cmds [][][]byte, out []resp.Reply) ([]resp.Reply, error) {
	return b.Node.ReadBatch(ctx, shard, cmds, out)
}

func (b NodeBackend) Read(ctx context.Context, shard int, args [][]byte) (resp.Reply, error) {
	return b.Node.Read(ctx, shard, args)
}

func (b NodeBackend) WaitReplicas(ctx context.Context, shards []int, numreplicas int, timeout time.Duration) (int, error) {
	return b.Node.WaitReplicas(ctx, shards, numreplicas, timeout)
}

func (b NodeBackend) FollowerLag(ctx context.Context, shard int) []cluster.Lag {
	return b.Node.FollowerLag(ctx, shard)
}

func (b NodeBackend) LocalDigest(shard int) [20]byte {
	return b.Node.Shards()[shard].Digest()
}

func (b NodeBackend) Snapshot(_ context.Context, shard int) error {
	return b.Node.Shards()[shard].Snapshot()
}

func (b NodeBackend) LeaderOf(shard int) (id, addr string) {
	id = b.Node.Shards()[shard].Leader()
	if id != "" {
		addr = b.Node.ClientAddr(id)
	}
	return id, addr
}

func (b NodeBackend) Leads(shard int) bool { return b.Node.Shards()[shard].IsLeader() }

func (b NodeBackend) ReadLocal(shard int, args [][]byte) resp.Reply {
	return b.Node.Shards()[shard].ReadLocal(args)
}

func (b NodeBackend) Members(ctx context.Context) []cluster.Peer { return b.Node.Members(ctx) }

func (b NodeBackend) Meet(ctx context.Context, clusterAddr string) (cluster.Peer, error) {
	return b.Node.Meet(ctx, clusterAddr)
}

func (b NodeBackend) Forget(ctx context.Context, id string) error { return b.Node.Forget(ctx, id) }

func (b NodeBackend) ACL() *acl.Users { return b.Node.ACL() }

func (b NodeBackend) ProposeACL(ctx context.Context, op []byte) (resp.Reply, error) {
	return b.Node.ProposeACL(ctx, op)
}

func (b NodeBackend) LogInfo() cluster.LogInfo { return b.Node.LogInfo() }

func (b NodeBackend) Eviction() cluster.EvictionConfig { return b.Node.Eviction() }
func (b NodeBackend) SetEviction(ctx context.Context, c cluster.EvictionConfig) error {
	return b.Node.SetEvictionEverywhere(ctx, c)
}
func (b NodeBackend) OverMaxMemory() bool                  { return b.Node.OverMaxMemory() }
func (b NodeBackend) MemoryUsed() int64                    { return b.Node.MemoryUsed() }
func (b NodeBackend) EvictionStats() cluster.EvictionStats { return b.Node.EvictionStats() }

func (b NodeBackend) Readiness(ctx context.Context) cluster.Readiness { return b.Node.Readiness(ctx) }

func (b NodeBackend) LogSyncLatency() *hist.Snapshot { return b.Node.LogSyncLatency() }

func (b NodeBackend) ShardMetrics() []cluster.ShardMetrics {
	shards := b.Node.Shards()
	out := make([]cluster.ShardMetrics, len(shards))
	for i, s := range shards {
		out[i] = s.Metrics()
	}
	return out
}

func (b NodeBackend) Status() []cluster.Status {
	shards := b.Node.Shards()
	out := make([]cluster.Status, len(shards))
	for i, s := range shards {
		out[i] = s.Status()
	}
	return out
}
