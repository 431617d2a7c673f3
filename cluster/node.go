package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/cluster/wal"
	"github.com/raftcache/raftcache/internal/tlsconf"
	"github.com/raftcache/raftcache/store"
)

// Config configures a node. Zero durations and counts take the defaults
// below.
type Config struct {
	// NodeID names this node; it must appear in Peers when Peers is set.
	NodeID string
	// Addr is the client (RESP) address other nodes and clients use to
	// reach this node; ClusterAddr is where it listens for cluster traffic.
	Addr        string
	ClusterAddr string
	// Advertise, when set, is the client address this node gives for
	// itself — to clients (MOVED, CLUSTER SLOTS) and to nodes that ask it
	// (CLUSTER MEET) — in place of the one in its stored peer list.
	Advertise string
	// Dir holds cluster.json and one shard-N directory per shard.
	Dir string
	// Shards is the number of Raft groups made at bootstrap.
	Shards int
	// Peers is the initial membership, the same on every node; empty means
	// a cluster of this node alone.
	Peers []Peer

	// ACL holds the cluster's ACL users, which shard 0's Raft group
	// replicates (ProposeACL): shard 0's replica applies the changes to
	// it in log order and carries it in its snapshots. Nil: the node
	// makes its own, empty but for the default user.
	ACL *acl.Users

	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// ApplyTimeout bounds how long a write waits to be accepted by Raft.
	ApplyTimeout      time.Duration
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// SnapshotBytes takes a snapshot once this many bytes of log entries
	// were applied since the last one (0: the default; negative: only
	// SnapshotThreshold counts).
	SnapshotBytes int64
	// NoBalance turns off moving shard leaders to their preferred nodes.
	NoBalance bool
	// Join starts a new node that waits to be added to an existing cluster
	// with CLUSTER MEET instead of bootstrapping its own.
	Join bool
	// LogStore is LogStoreWAL (the default) or LogStoreBolt; see
	// openLogStore for what happens to a directory made with the other.
	LogStore string
	// Fsync says when the WAL syncs (Redis's appendfsync always or
	// everysec); the bolt store always syncs.
	Fsync wal.SyncMode
	// WALSegmentSize is the size of the WAL's segment files (0: the
	// default, 64 MiB).
	WALSegmentSize int64
	// ReadyMaxLag is how many entries this node's replica of a shard may
	// trail its leader's commit index for the node to count as ready (see
	// Readiness; 0: DefaultReadyMaxLag).
	ReadyMaxLag uint64
	// DisableReadLease makes every read batch confirm leadership with a
	// heartbeat round instead of trusting the leader's lease (lease.go).
	DisableReadLease bool
	// Eviction is maxmemory and its policy at start (zero: none);
	// CONFIG SET changes it on every node (SetEvictionEverywhere).
	Eviction EvictionConfig
	// TLS, when set, makes the cluster port speak mutual TLS (Redis's
	// tls-cluster yes): every node presents the Reloader's certificate,
	// and a peer whose certificate the CA did not sign is refused on
	// either side of the connection. It must have a CA.
	TLS *tlsconf.Reloader
	// UnsafeReadLease, when set, replaces the lease duration derived from
	// the heartbeat timeout. Any value above LeaseDuration(heartbeat) can
	// serve stale reads: it exists to show that the linearizability
	// checker catches them.
	UnsafeReadLease time.Duration
}

// readLease is the lease a leader holds after a heartbeat round.
func (c Config) readLease() time.Duration {
	if c.UnsafeReadLease > 0 {
		return c.UnsafeReadLease
	}
	return LeaseDuration(c.HeartbeatTimeout)
}

// Defaults for Config fields left zero.
const (
	DefaultShards             = 3
	DefaultHeartbeatTimeout   = 400 * time.Millisecond
	DefaultElectionTimeout    = 400 * time.Millisecond
	DefaultLeaderLeaseTimeout = 400 * time.Millisecond
	DefaultApplyTimeout       = 10 * time.Second
	DefaultSnapshotThreshold  = 16384
	DefaultSnapshotInterval   = 60 * time.Second
	DefaultTrailingLogs       = 2048
	DefaultSnapshotBytes      = 64 << 20
)

func (c *Config) setDefaults() {
	if c.ACL == nil {
		c.ACL = acl.New()
	}
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = DefaultElectionTimeout
	}
	if c.LeaderLeaseTimeout == 0 {
		c.LeaderLeaseTimeout = DefaultLeaderLeaseTimeout
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = DefaultApplyTimeout
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.SnapshotBytes == 0 {
		c.SnapshotBytes = DefaultSnapshotBytes
	}
	if c.LogStore == "" {
		c.LogStore = LogStoreWAL
	}
	if c.ReadyMaxLag == 0 {
		c.ReadyMaxLag = DefaultReadyMaxLag
	}
}

// Node is one raftcache process's share of the cluster: a replica of every
// shard, all served over one cluster port.
type Node struct {
	cfg              Config
	log              *zap.Logger
	meta             meta
	advertiseCluster string
	mux              *mux
	shards           []*Shard
	slotShard        [store.NumSlots]uint16
	// wal is the node's log, shared by every shard; nil with the bolt
	// log store.
	wal *wal.WAL
	// evict is maxmemory's state (evict.go).
	evict evictState

	rpcMu      sync.Mutex
	rpcClients map[string]*rpcClient

	// metaMu guards meta.Peers and meta.Removed, which membership changes
	// update; the rest of meta is fixed after Open.
	metaMu  sync.Mutex
	learned map[string]string // node ID → client address, learned by RPC
	removed atomic.Bool

	stats nodeStats // measurements for metrics (observe.go)

	stop chan struct{}
	wg   sync.WaitGroup
}

// Open starts the node: it loads or creates the cluster shape under
// cfg.Dir, listens on the cluster address and starts every shard's Raft
// group, bootstrapping them on first start. It returns without waiting
// for leaders; see WaitReady.
func Open(cfg Config, log *zap.Logger) (*Node, error) {
	cfg.setDefaults()
	if cfg.NodeID == "" {
		return nil, errors.New("node id is required")
	}
	if cfg.Shards < 1 || cfg.Shards > 1024 {
		return nil, fmt.Errorf("shards must be between 1 and 1024, not %d", cfg.Shards)
	}
	n := &Node{
		cfg:        cfg,
		log:        log.With(zap.String("node", cfg.NodeID)),
		rpcClients: make(map[string]*rpcClient),
		learned:    make(map[string]string),
		evict:      evictState{wake: make(chan struct{}, 1)},
		stop:       make(chan struct{}),
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if _, err := ParseLogStore(cfg.LogStore); err != nil {
		return nil, err
	}
	if cfg.TLS != nil && !cfg.TLS.HasCA() {
		return nil, errors.New("TLS on the cluster port needs a CA (tls-ca-cert-file or tls-ca-cert-dir) to check the other nodes' certificates")
	}
	if err := n.loadShape(); err != nil {
		return nil, err
	}
	n.advertiseCluster = n.self().ClusterAddr
	if err := n.openLogStore(); err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", cfg.ClusterAddr)
	if err != nil {
		n.closeWAL()
		return nil, fmt.Errorf("listen on cluster address %s: %w", cfg.ClusterAddr, err)
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS.ClusterServerConfig())
	}
	n.mux = newMux(ln, n.log.Named("mux"))
	n.mux.tls = cfg.TLS
	// Internal RPCs that arrive while the shards open wait on the layer;
	// they are served once every shard exists.
	rpcLayer := n.mux.layer(connKindRPC, 0, tcpAddr(n.advertiseCluster))
	// Every shard's Raft route exists before the first shard opens, so
	// peers' connections for a shard still opening wait instead of being
	// refused (and their senders backing off).
	raftLayers := make([]*streamLayer, len(n.meta.Shards))
	for i, def := range n.meta.Shards {
		raftLayers[i] = n.mux.layer(connKindRaft, def.ID, tcpAddr(n.advertiseCluster))
	}
	for i, def := range n.meta.Shards {
		s, err := openShard(n, def.ID, def.FirstSlot, def.LastSlot, raftLayers[i])
		if err != nil {
			n.closeShards()
			n.closeWAL()
			close(n.stop)
			n.mux.Close()
			n.wg.Wait()
			return nil, err
		}
		n.shards = append(n.shards, s)
		for slot := def.FirstSlot; slot <= def.LastSlot; slot++ {
			n.slotShard[slot] = uint16(def.ID)
		}
	}
	n.wg.Add(1)
	go n.serveRPC(rpcLayer)
	n.startLeaderLoops()
	ev := cfg.Eviction
	if ev == (EvictionConfig{}) {
		ev = DefaultEvictionConfig()
	}
	if stored, ok, err := loadEviction(cfg.Dir); err != nil {
		n.log.Warn("eviction settings kept by CONFIG SET unreadable; using the flags'", zap.Error(err))
	} else if ok {
		ev = stored
	}
	if err := ev.Check(); err != nil {
		n.log.Warn("eviction settings refused; none in force", zap.Error(err))
		ev = DefaultEvictionConfig()
	}
	n.useEviction(ev)
	n.wg.Add(1)
	go n.evictLoop()
	n.log.Info("node started", zap.Int("shards", len(n.shards)), zap.Int("peers", len(n.meta.Peers)),
		zap.String("cluster_addr", ln.Addr().String()), zap.Bool("tls", cfg.TLS != nil))
	return n, nil
}

// loadShape reads the stored cluster shape, or creates it from the config
// on the first start. Differences between the flags and the stored shape
// are logged; the stored shape wins, except for the node ID, which must
// match: a data directory belongs to one node.
func (n *Node) loadShape() error {
	stored, ok, err := loadMeta(n.cfg.Dir)
	if err != nil {
		return err
	}
	peers := n.cfg.Peers
	if len(peers) == 0 {
		cluster := n.cfg.ClusterAddr
		host, port, err := net.SplitHostPort(cluster)
		if err != nil {
			return fmt.Errorf("cluster address %q: %w", cluster, err)
		}
		if host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
			cluster = net.JoinHostPort("127.0.0.1", port)
		}
		peers = []Peer{{ID: n.cfg.NodeID, Addr: n.cfg.Addr, ClusterAddr: cluster}}
	}
	if !ok {
		n.meta = newMeta(n.cfg.NodeID, n.cfg.Shards, peers)
		n.meta.Join = n.cfg.Join
		if err := n.meta.validate(); err != nil {
			return fmt.Errorf("cluster shape from flags: %w", err)
		}
		return n.meta.save(n.cfg.Dir)
	}
	if stored.NodeID != n.cfg.NodeID {
		return fmt.Errorf("data dir %s belongs to node %q, not %q", n.cfg.Dir, stored.NodeID, n.cfg.NodeID)
	}
	if stored.Removed {
		return fmt.Errorf("node %q was removed from its cluster (CLUSTER FORGET); its data dir %s "+
			"must not rejoin: delete it to add this machine again as a new node", stored.NodeID, n.cfg.Dir)
	}
	if len(stored.Shards) != n.cfg.Shards {
		n.log.Warn("--shards differs from the stored cluster shape; keeping the stored one",
			zap.Int("flag", n.cfg.Shards), zap.Int("stored", len(stored.Shards)))
	}
	if len(n.cfg.Peers) > 0 && !slices.Equal(stored.Peers, n.cfg.Peers) {
		n.log.Warn("--peers differs from the stored cluster shape; keeping the stored one",
			zap.Any("flag", n.cfg.Peers), zap.Any("stored", stored.Peers))
	}
	n.meta = stored
	return nil
}

func (n *Node) closeShards() {
	for _, s := range n.shards {
		if err := s.close(); err != nil {
			n.log.Warn("shard close failed", zap.Int("shard", s.id), zap.Error(err))
		}
	}
}

// closeWAL closes the node's log once no shard uses it.
func (n *Node) closeWAL() {
	if n.wal == nil {
		return
	}
	if err := n.wal.Close(); err != nil {
		n.log.Warn("node log close failed", zap.Error(err))
	}
}

// Close stops every shard and the cluster port. ctx bounds the wait.
func (n *Node) Close(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		close(n.stop)
		var handOffs sync.WaitGroup
		for _, s := range n.shards {
			handOffs.Go(s.handOff)
		}
		handOffs.Wait()
		n.closeShards()
		n.closeWAL()
		err := n.mux.Close()
		n.wg.Wait()
		n.rpcMu.Lock()
		for _, c := range n.rpcClients {
			c.close()
		}
		n.rpcMu.Unlock()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("close node: %w", ctx.Err())
	}
}

// self returns this node's entry in the peer list, marked Self, with the
// advertised client address if one is set.
func (n *Node) self() Peer {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	p := n.meta.Peers[slices.IndexFunc(n.meta.Peers, func(p Peer) bool { return p.ID == n.meta.NodeID })]
	p.Self = true
	if n.cfg.Advertise != "" {
		p.Addr = n.cfg.Advertise
	}
	return p
}

// ID returns the node's ID.
func (n *Node) ID() string { return n.meta.NodeID }

// Shards returns the node's shards, ordered by ID.
func (n *Node) Shards() []*Shard { return n.shards }

// ShardOfSlot returns the shard that owns slot.
func (n *Node) ShardOfSlot(slot int) *Shard { return n.shards[n.slotShard[slot]] }

// Peers returns the members this node has stored (the initial --peers and
// those it added with CLUSTER MEET); Members is the live view.
func (n *Node) Peers() []Peer {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	return slices.Clone(n.meta.Peers)
}

// ClientAddr returns the client address of the node with the given ID as
// this node knows it (its peer list, CLUSTER MEET, or asked of the node by
// Members), or "" when it is unknown.
func (n *Node) ClientAddr(id string) string { return n.clientAddrOf(id) }

func (n *Node) clientAddrOf(id string) string {
	if id == n.meta.NodeID && n.cfg.Advertise != "" {
		return n.cfg.Advertise
	}
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	for _, p := range n.meta.Peers {
		if p.ID == id {
			return p.Addr
		}
	}
	return n.learned[id]
}

// Ready reports whether every shard has a leader known to this node.
func (n *Node) Ready() bool {
	if n.removed.Load() {
		return false
	}
	for _, s := range n.shards {
		if s.Leader() == "" {
			return false
		}
	}
	return true
}

// WaitReady waits until Ready or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !n.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for shard leaders: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}
