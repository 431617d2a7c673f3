package cluster

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// HexID is a node's 40-hex-character ID in Redis Cluster's style (CLUSTER
// NODES, MYID), derived from its --id so that it is stable across
// restarts.
func HexID(nodeID string) string {
	sum := sha1.Sum([]byte("raftcache-node:" + nodeID))
	return hex.EncodeToString(sum[:])
}

// membershipTimeout bounds one CLUSTER MEET or FORGET.
const membershipTimeout = 30 * time.Second

// ErrRemoved is returned by a node that has been removed from its cluster.
var ErrRemoved = errors.New("this node was removed from the cluster")

// Members lists the cluster's nodes as this node sees them, sorted by ID:
// the union of every shard's voters, with client addresses from --peers,
// from CLUSTER MEET, or asked of the node itself. This node is marked
// Self.
func (n *Node) Members(ctx context.Context) []Peer {
	byID := map[string]Peer{}
	self := n.self()
	byID[self.ID] = self
	for _, s := range n.shards {
		voters, err := s.Voters()
		if err != nil {
			continue
		}
		for _, v := range voters {
			id := string(v.ID)
			if _, ok := byID[id]; !ok {
				byID[id] = Peer{ID: id, ClusterAddr: string(v.Address)}
			}
		}
	}
	out := make([]Peer, 0, len(byID))
	for _, m := range byID {
		if m.Addr == "" {
			m.Addr = n.clientAddrOf(m.ID)
		}
		if m.Addr == "" {
			if info, _, err := n.askInfo(ctx, m.ClusterAddr); err == nil && info.ID == m.ID {
				m.Addr = info.Addr
				n.metaMu.Lock()
				n.learned[m.ID] = info.Addr
				n.metaMu.Unlock()
			}
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func readString(p []byte) (string, []byte, error) {
	n, rest, err := readCount(p, 0)
	if err != nil || n > uint64(len(rest)) {
		return "", p, fmt.Errorf("%w: bad string", errBadFrame)
	}
	return string(rest[:n]), rest[n:], nil
}

func (n *Node) infoResponse() []byte {
	self := n.self()
	out := []byte{statusOK}
	for _, s := range []string{self.ID, self.Addr, self.ClusterAddr} {
		out = appendString(out, s)
	}
	return binary.AppendUvarint(out, uint64(len(n.meta.Shards)))
}

// askInfo asks the node at clusterAddr who it is (opInfo): the node as it
// describes itself, and its number of shards.
func (n *Node) askInfo(ctx context.Context, clusterAddr string) (Peer, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	status, body, err := n.rpcTo(clusterAddr).call(ctx, []byte{opInfo})
	if err != nil {
		return Peer{}, 0, fmt.Errorf("ask %s who it is: %w", clusterAddr, err)
	}
	if status != statusOK {
		return Peer{}, 0, fmt.Errorf("ask %s who it is: %s", clusterAddr, body)
	}
	var info Peer
	p := body
	for _, dst := range []*string{&info.ID, &info.Addr, &info.ClusterAddr} {
		if *dst, p, err = readString(p); err != nil {
			return Peer{}, 0, fmt.Errorf("ask %s who it is: %w", clusterAddr, err)
		}
	}
	shards, _, err := readCount(p, 0)
	if err != nil {
		return Peer{}, 0, fmt.Errorf("ask %s who it is: %w", clusterAddr, err)
	}
	return info, int(shards), nil
}

// Meet adds the node listening on clusterAddr to every shard's Raft group
// as a voter, one shard and one change at a time. The new node must have
// been started with Join and the same number of shards. Meeting a member
// again is a no-op.
func (n *Node) Meet(ctx context.Context, clusterAddr string) (Peer, error) {
	ctx, cancel := context.WithTimeout(ctx, membershipTimeout)
	defer cancel()
	info, shards, err := n.askInfo(ctx, clusterAddr)
	if err != nil {
		return Peer{}, err
	}
	if shards != len(n.shards) {
		return Peer{}, fmt.Errorf("node %s has %d shards, this cluster %d", info.ID, shards, len(n.shards))
	}
	n.metaMu.Lock()
	n.learned[info.ID] = info.Addr
	n.metaMu.Unlock()
	for _, s := range n.shards {
		if err := n.changeMembership(ctx, s.id, opAddVoter, info.ID, info.ClusterAddr); err != nil {
			return Peer{}, err
		}
	}
	n.log.Info("node added to the cluster", zap.String("member", info.ID), zap.String("cluster_addr", info.ClusterAddr))
	if err := n.rememberPeer(info); err != nil {
		return Peer{}, err
	}
	return info, nil
}

// Forget removes a node from every shard's Raft group and tells it, if it
// answers, that it was removed, so that its data directory refuses to
// start again. A node cannot forget itself.
func (n *Node) Forget(ctx context.Context, id string) error {
	if id == n.meta.NodeID {
		return errors.New("a node cannot forget itself")
	}
	ctx, cancel := context.WithTimeout(ctx, membershipTimeout)
	defer cancel()
	var clusterAddr string
	for _, m := range n.Members(ctx) {
		if m.ID == id {
			clusterAddr = m.ClusterAddr
		}
	}
	if clusterAddr == "" {
		return fmt.Errorf("unknown node %s", id)
	}
	for _, s := range n.shards {
		if err := n.changeMembership(ctx, s.id, opRemoveServer, id, ""); err != nil {
			return err
		}
	}
	n.log.Info("node removed from the cluster", zap.String("member", id))
	n.metaMu.Lock()
	n.meta.Peers = slices.DeleteFunc(n.meta.Peers, func(p Peer) bool { return p.ID == id })
	err := n.meta.save(n.cfg.Dir)
	n.metaMu.Unlock()
	if err != nil {
		return err
	}
	// Best effort: a node that is down learns nothing, but it is no longer
	// a voter anywhere, so it can neither lead nor acknowledge writes.
	if _, _, err := n.rpcTo(clusterAddr).call(ctx, []byte{opRemoved}); err != nil {
		n.log.Warn("could not tell the removed node", zap.String("member", id), zap.Error(err))
	}
	return nil
}

func (n *Node) rememberPeer(p Peer) error {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	if slices.ContainsFunc(n.meta.Peers, func(q Peer) bool { return q.ID == p.ID }) {
		return nil
	}
	n.meta.Peers = append(n.meta.Peers, p)
	return n.meta.save(n.cfg.Dir)
}

// markRemoved records that this node was removed: it stops serving, and
// its data directory refuses to start again.
func (n *Node) markRemoved() error {
	n.removed.Store(true)
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	n.meta.Removed = true
	n.log.Error("this node was removed from the cluster; it no longer serves, and its data dir will not start again")
	return n.meta.save(n.cfg.Dir)
}

// changeMembership runs an add or remove on the shard's leader, wherever
// it is, retrying while there is no leader.
func (n *Node) changeMembership(ctx context.Context, shard int, op byte, id, clusterAddr string) error {
	return n.onLeader(ctx, shard, func(s *Shard) error {
		return s.applyMembership(ctx, op, id, clusterAddr)
	}, func(ctx context.Context, addr string) error {
		req := binary.BigEndian.AppendUint16([]byte{op}, uint16(shard))
		req = appendString(appendString(req, id), clusterAddr)
		status, body, err := n.rpcTo(addr).call(ctx, req)
		if err != nil {
			return &NotLeaderError{Shard: shard} // retry: the change is idempotent
		}
		switch status {
		case statusOK:
			return nil
		case statusNotLeader:
			return &NotLeaderError{Shard: shard, LeaderID: string(body)}
		}
		return fmt.Errorf("shard %d membership change on %s: %s", shard, addr, body)
	})
}

// applyMembership adds or removes a voter on this node, which must lead
// the shard. Adding a present voter or removing an absent one succeeds.
func (s *Shard) applyMembership(ctx context.Context, op byte, id, clusterAddr string) error {
	voters, err := s.Voters()
	if err != nil {
		return err
	}
	present := slices.ContainsFunc(voters, func(v raft.Server) bool { return string(v.ID) == id })
	switch {
	case op == opAddVoter && !present:
		return s.AddVoter(ctx, id, clusterAddr)
	case op == opRemoveServer && present:
		return s.RemoveServer(ctx, id)
	}
	if s.raft.State() != raft.Leader {
		return s.notLeader()
	}
	return nil
}

// handleMembership serves opAddVoter and opRemoveServer.
func (n *Node) handleMembership(op byte, body []byte) []byte {
	if len(body) < 2 {
		return errorStatus(statusError, "short request")
	}
	shard := int(binary.BigEndian.Uint16(body))
	if shard >= len(n.shards) {
		return errorStatus(statusError, fmt.Sprintf("no shard %d", shard))
	}
	id, p, err := readString(body[2:])
	if err != nil {
		return errorStatus(statusError, err.Error())
	}
	addr, _, err := readString(p)
	if err != nil {
		return errorStatus(statusError, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), membershipTimeout)
	defer cancel()
	if err := n.shards[shard].applyMembership(ctx, op, id, addr); err != nil {
		return statusOf(err)
	}
	return []byte{statusOK}
}

// AddVoter adds a node to the shard's Raft group as a voter. It must run
// on the shard's leader; Raft changes membership one server at a time.
func (s *Shard) AddVoter(ctx context.Context, id, clusterAddr string) error {
	if s.raft.State() != raft.Leader {
		return s.notLeader()
	}
	s.membershipChanging()
	defer s.membershipChanging()
	f := s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(clusterAddr), 0, s.timeout(ctx))
	if err := f.Error(); err != nil {
		return fmt.Errorf("shard %d add voter %s: %w", s.id, id, err)
	}
	return nil
}

// RemoveServer removes a node from the shard's Raft group. It must run on
// the shard's leader.
func (s *Shard) RemoveServer(ctx context.Context, id string) error {
	if s.raft.State() != raft.Leader {
		return s.notLeader()
	}
	s.membershipChanging()
	defer s.membershipChanging()
	if err := s.raft.RemoveServer(raft.ServerID(id), 0, s.timeout(ctx)).Error(); err != nil {
		return fmt.Errorf("shard %d remove server %s: %w", s.id, id, err)
	}
	return nil
}

// Voters returns the shard's current voters (IDs and cluster addresses).
func (s *Shard) Voters() ([]raft.Server, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("shard %d configuration: %w", s.id, err)
	}
	return f.Configuration().Servers, nil
}
