package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/raftcache/raftcache/store"
)

// Peer is one node of the cluster: its ID, its client (RESP) address and
// its cluster address, written "id=host:port@cport" on the command line.
// The same type serves the stored peer list (cluster.json, --peers), the
// live view (Node.Members), what a node says of itself (opInfo) and the
// node CLUSTER MEET adds.
type Peer struct {
	ID string `json:"id"`
	// Addr is the client address; in Members, "" when the node could not
	// be asked.
	Addr        string `json:"addr"`
	ClusterAddr string `json:"cluster_addr"`
	// Self marks this node in a view this node made (Members, self). It
	// is never stored or parsed: whether a stored peer is this node
	// follows from its ID (meta.NodeID).
	Self bool `json:"-"`
}

// ParsePeers parses the --peers list: "id=host:port@cport,...". An empty
// string yields no peers.
func ParsePeers(s string) ([]Peer, error) {
	var peers []Peer
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, addrs, ok := strings.Cut(item, "=")
		if !ok || id == "" {
			return nil, fmt.Errorf("peer %q: want id=host:port@cport", item)
		}
		addr, cport, ok := strings.Cut(addrs, "@")
		if !ok {
			return nil, fmt.Errorf("peer %q: missing @cport", item)
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("peer %q: %w", item, err)
		}
		if _, err := strconv.ParseUint(cport, 10, 16); err != nil {
			return nil, fmt.Errorf("peer %q: bad cluster port %q", item, cport)
		}
		if seen[id] {
			return nil, fmt.Errorf("peer %q listed twice", id)
		}
		seen[id] = true
		peers = append(peers, Peer{ID: id, Addr: addr, ClusterAddr: net.JoinHostPort(host, cport)})
	}
	return peers, nil
}

// DefaultClusterAddr returns the cluster address for a client address: the
// same host, the client port plus 10000, as Redis Cluster does.
func DefaultClusterAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("client address %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p+10000 > 65535 {
		return "", fmt.Errorf("client port %q leaves no cluster port (port+10000)", port)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+10000)), nil
}

// meta is the cluster shape stored in <dir>/cluster.json at the first
// start and only checked, never re-applied, afterwards.
type meta struct {
	Version int        `json:"version"`
	NodeID  string     `json:"node_id"`
	Shards  []shardDef `json:"shards"`
	Peers   []Peer     `json:"peers"`
	// Join marks a node started to be added to an existing cluster
	// (CLUSTER MEET): its shards never bootstrap.
	Join bool `json:"join,omitempty"`
	// Removed marks a node that was removed from its cluster (CLUSTER
	// FORGET); it refuses to start, so its old data cannot come back.
	Removed bool `json:"removed,omitempty"`
	// LogStore is the store the shards' Raft logs are in (LogStoreWAL or
	// LogStoreBolt); empty in directories made before the WAL, which use
	// bolt.
	LogStore string `json:"log_store,omitempty"`
}

type shardDef struct {
	ID        int `json:"id"`
	FirstSlot int `json:"first_slot"`
	LastSlot  int `json:"last_slot"`
}

const metaFile = "cluster.json"

// newMeta lays out n shards over contiguous slot ranges.
func newMeta(nodeID string, n int, peers []Peer) meta {
	m := meta{Version: 1, NodeID: nodeID, Peers: peers}
	for i := 0; i < n; i++ {
		m.Shards = append(m.Shards, shardDef{
			ID:        i,
			FirstSlot: i * store.NumSlots / n,
			LastSlot:  (i+1)*store.NumSlots/n - 1,
		})
	}
	return m
}

// loadMeta reads the stored shape; ok is false when there is none yet.
func loadMeta(dir string) (m meta, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("read %s: %w", metaFile, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, false, fmt.Errorf("parse %s: %w", metaFile, err)
	}
	if err := m.validate(); err != nil {
		return m, false, fmt.Errorf("%s: %w", metaFile, err)
	}
	return m, true, nil
}

func (m meta) validate() error {
	if m.Version != 1 {
		return fmt.Errorf("unknown version %d", m.Version)
	}
	if m.NodeID == "" || len(m.Shards) == 0 || len(m.Peers) == 0 {
		return errors.New("node id, shards and peers are required")
	}
	next := 0
	for i, s := range m.Shards {
		if s.ID != i || s.FirstSlot != next || s.LastSlot < s.FirstSlot {
			return fmt.Errorf("shard %d has a bad slot range %d-%d", i, s.FirstSlot, s.LastSlot)
		}
		next = s.LastSlot + 1
	}
	if next != store.NumSlots {
		return fmt.Errorf("shards cover slots up to %d, not %d", next-1, store.NumSlots-1)
	}
	if !slices.ContainsFunc(m.Peers, func(p Peer) bool { return p.ID == m.NodeID }) {
		return fmt.Errorf("node %q is not among the peers", m.NodeID)
	}
	return nil
}

// save writes the shape atomically.
func (m meta) save(dir string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", metaFile, err)
	}
	return writeFileAtomic(dir, metaFile, append(b, '\n'))
}

// writeFileAtomic replaces dir/name with data: a temporary file, fsync,
// rename, fsync of the directory.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("install %s: %w", name, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
