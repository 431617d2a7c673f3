package server

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// The CLUSTER command family, READONLY, READWRITE and ASKING: raftcache as
// Redis Cluster clients see it. How shards, leaders and followers map onto
// Redis Cluster's masters and replicas is explained in DESIGN.md ("The
// Redis Cluster view").

func init() {
	serverHandlers["readonly"] = func(_ *Server, _ redcon.Conn, c *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
		c.clusterAware = true
		c.setReadOnly(true)
		return resp.OK
	}
	serverHandlers["readwrite"] = func(_ *Server, _ redcon.Conn, c *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
		c.setReadOnly(false)
		return resp.OK
	}
	// ASKING follows an ASK redirect, which raftcache never sends (slots
	// do not migrate); it only marks the connection as cluster-aware.
	serverHandlers["asking"] = func(_ *Server, _ redcon.Conn, c *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
		c.clusterAware = true
		return resp.OK
	}
}

// viewTimeout bounds how long a CLUSTER reply waits for members to tell
// their client addresses.
const viewTimeout = 5 * time.Second

func cmdCluster(s *Server, _ redcon.Conn, c *client, _, sub *resp.Command, a [][]byte) resp.Reply {
	switch sub.Name {
	case "info":
		return s.clusterInfo()
	case "myid":
		return resp.BulkString(s.runID())
	case "myshardid":
		return resp.BulkString(s.clusterView(c).myShardID())
	case "keyslot":
		return resp.Int(int64(store.SlotOf(a[2])))
	case "slots":
		c.clusterAware = true
		return s.clusterView(c).slots()
	case "shards":
		c.clusterAware = true
		return s.clusterView(c).shardsReply()
	case "nodes":
		c.clusterAware = true
		return resp.Verbatim(s.clusterView(c).nodesText(time.Now().UnixMilli()))
	case "links":
		return s.clusterView(c).links(s.started.UnixMilli())
	case "countkeysinslot":
		slot, ok := resp.ParseInt(a[2])
		if !ok {
			return resp.ErrNotInteger.Reply()
		}
		if slot < 0 || slot >= store.NumSlots {
			return resp.ErrInvalidSlot.Reply()
		}
		keys, errReply := s.slotKeys(c, int(slot))
		if errReply != nil {
			return *errReply
		}
		return resp.Int(int64(len(keys)))
	case "getkeysinslot":
		slot, ok := resp.ParseInt(a[2])
		if !ok {
			return resp.ErrNotInteger.Reply()
		}
		n, ok := resp.ParseInt(a[3])
		if !ok {
			return resp.ErrNotInteger.Reply()
		}
		if slot < 0 || slot >= store.NumSlots || n < 0 {
			return resp.ErrInvalidSlotOrCount.Reply()
		}
		keys, errReply := s.slotKeys(c, int(slot))
		if errReply != nil {
			return *errReply
		}
		return resp.Array(keys[:min(int64(len(keys)), n)]...)
	case "meet":
		return s.clusterMeet(c, a)
	case "forget":
		return s.clusterForget(c, a)
	case "reset":
		return resp.ErrClusterReset.Reply()
	case "help":
		return helpReply(clusterHelp)
	}
	return resp.ErrUnknownSubcommand(a[0], a[1]).Reply()
}

// slotKeys returns every key in slot, read as the connection reads (the
// leader's linearizable view, or this replica's after READONLY).
func (s *Server) slotKeys(c *client, slot int) ([]resp.Reply, *resp.Reply) {
	shard := s.backend.ShardOfSlot(slot)
	s.waitPause(c, false)
	// The scan returns whole slots, so COUNT 1 returns all of this one.
	r, err := s.read(c, shard, store.ScanArgs(slot, slot, 1, nil))
	if err != nil {
		e := s.backendError(err, slot)
		return nil, &e
	}
	if r.IsError() {
		return nil, &r
	}
	_, keys, ok := store.ParseScan(r)
	if !ok {
		e := resp.ErrUnexpectedReply(store.CmdScan).Reply()
		return nil, &e
	}
	return keys, nil
}

// clusterMeet implements CLUSTER MEET ip port [cluster-port]: it adds the
// node whose cluster port is cluster-port (default port+10000) to every
// shard, and answers once it is a voter of all of them (Redis answers at
// once and handshakes in the background).
func (s *Server) clusterMeet(c *client, a [][]byte) resp.Reply {
	port, ok := resp.ParseInt(a[3])
	if !ok {
		return resp.ErrInvalidBasePort(a[3]).Reply()
	}
	cport := port + 10000
	if len(a) == 5 {
		if cport, ok = resp.ParseInt(a[4]); !ok {
			return resp.ErrInvalidBusPort(a[4]).Reply()
		}
	} else if len(a) > 5 {
		return resp.ErrSyntax.Reply()
	}
	host := string(a[2])
	if host == "" || strings.ContainsAny(host, " \r\n") || port <= 0 || port > 65535 || cport <= 0 || cport > 65535 {
		return resp.ErrInvalidNodeAddress(host, a[3]).Reply()
	}
	if _, err := s.backend.Meet(c.ctx, net.JoinHostPort(host, strconv.FormatInt(cport, 10))); err != nil {
		return resp.ErrorReply(err)
	}
	return resp.OK
}

// clusterForget implements CLUSTER FORGET node-id, node-id being the
// 40-hex-character ID that CLUSTER NODES shows.
func (s *Server) clusterForget(c *client, a [][]byte) resp.Reply {
	want := string(a[2])
	ctx, cancel := context.WithTimeout(c.ctx, viewTimeout)
	members := s.backend.Members(ctx)
	cancel()
	for _, m := range members {
		if !strings.EqualFold(cluster.HexID(m.ID), want) {
			continue
		}
		if m.ID == s.backend.NodeID() {
			return resp.ErrForgetMyself.Reply()
		}
		if err := s.backend.Forget(c.ctx, m.ID); err != nil {
			return resp.ErrorReply(err)
		}
		return resp.OK
	}
	return resp.ErrUnknownNode(want).Reply()
}

// clusterState is "ok" once every shard has a leader known to this node.
func (s *Server) clusterState() string {
	for _, st := range s.backend.Status() {
		if st.LeaderID == "" {
			return "fail"
		}
	}
	return "ok"
}

func (s *Server) clusterInfo() resp.Reply {
	sts := s.backend.Status()
	leaders := map[string]bool{}
	var term, myTerm uint64
	for _, st := range sts {
		if st.LeaderID != "" {
			leaders[st.LeaderID] = true
		}
		term = max(term, st.Term)
		if st.LeaderID == s.backend.NodeID() {
			myTerm = max(myTerm, st.Term)
		}
	}
	state := s.clusterState()
	ok := store.NumSlots
	if state != "ok" {
		ok = 0
		for _, st := range sts {
			if st.LeaderID != "" {
				ok += st.LastSlot - st.FirstSlot + 1
			}
		}
	}
	var b infoBuilder
	b.field("cluster_state", state)
	b.int("cluster_slots_assigned", store.NumSlots)
	b.int("cluster_slots_ok", int64(ok))
	b.int("cluster_slots_pfail", 0)
	b.int("cluster_slots_fail", int64(store.NumSlots-ok))
	b.int("cluster_known_nodes", int64(len(s.backend.Peers())))
	b.int("cluster_size", int64(len(leaders)))
	b.int("cluster_current_epoch", int64(term))
	b.int("cluster_my_epoch", int64(myTerm))
	b.int("cluster_stats_messages_sent", 0)
	b.int("cluster_stats_messages_received", 0)
	b.int("total_cluster_links_buffer_limit_exceeded", 0)
	b.int("raftcache_shards", int64(len(sts)))
	r := s.readiness()
	b.field("raftcache_ready", boolDigit(r.Ready))
	if !r.Ready {
		b.field("raftcache_ready_reason", r.Reason)
	}
	return resp.Verbatim(b.String())
}

// viewNode is one node as the CLUSTER replies show it.
type viewNode struct {
	cluster.Peer
	hexID       string
	host        string // "" when the client address is unknown (noaddr)
	port, cport int
	// plainPort and tlsPort are the node's ports of each kind (0: none);
	// port is the one of the connection's kind.
	plainPort, tlsPort int
	// leads lists the shards shown with this node as their master.
	leads []int
}

// clusterView is the cluster as CLUSTER NODES, SLOTS and SHARDS show it:
// every member once, and each shard's master — its leader; this node when
// the shard has no leader or its leader's address is unknown, since this
// node then serves the shard's slots by waiting for an election and
// forwarding.
type clusterView struct {
	nodes  []*viewNode // sorted by ID
	self   *viewNode
	shards []cluster.Status
	master []*viewNode // master[i] is shown as the master of shards[i]
}

func (s *Server) clusterView(c *client) *clusterView {
	ctx, cancel := context.WithTimeout(c.ctx, viewTimeout)
	defer cancel()
	v := &clusterView{}
	byID := map[string]*viewNode{}
	add := func(m cluster.Peer) *viewNode {
		n := &viewNode{Peer: m, hexID: cluster.HexID(m.ID)}
		if host, port, err := net.SplitHostPort(m.Addr); err == nil && host != "" {
			n.host = host
			advertised, _ := strconv.Atoi(port)
			// A TLS connection is shown TLS ports (SLOTS, NODES); SHARDS
			// shows both, as Redis does.
			n.port = s.portFor(c, advertised)
			n.plainPort, n.tlsPort = s.clientPorts(advertised)
		}
		if _, cport, err := net.SplitHostPort(m.ClusterAddr); err == nil {
			n.cport, _ = strconv.Atoi(cport)
		}
		v.nodes = append(v.nodes, n)
		byID[m.ID] = n
		return n
	}
	for _, m := range s.backend.Members(ctx) {
		add(m)
	}
	if v.self = byID[s.backend.NodeID()]; v.self == nil {
		v.self = add(cluster.Peer{ID: s.backend.NodeID(), Self: true})
		slices.SortFunc(v.nodes, func(a, b *viewNode) int { return strings.Compare(a.ID, b.ID) })
	}
	v.shards = s.backend.Status()
	for i, st := range v.shards {
		m := byID[st.LeaderID]
		if m == nil || m.host == "" {
			m = v.self
		}
		v.master = append(v.master, m)
		m.leads = append(m.leads, i)
	}
	return v
}

// masterOf returns the master n is shown as a replica of, or nil when n
// is a master: a node that leads no shard replicates the first shard's.
func (v *clusterView) masterOf(n *viewNode) *viewNode {
	if len(n.leads) > 0 || len(v.master) == 0 {
		return nil
	}
	return v.master[0]
}

// epoch is a node's config epoch: the highest Raft term of the shards it
// is master of; a replica shows its master's, as in Redis.
func (v *clusterView) epoch(n *viewNode) uint64 {
	if m := v.masterOf(n); m != nil {
		n = m
	}
	var e uint64
	for _, i := range n.leads {
		e = max(e, v.shards[i].Term)
	}
	return e
}

// nodesText renders CLUSTER NODES: one line per node, in Redis's format
// "id ip:port@cport flags master ping-sent pong-recv config-epoch
// link-state slot...", each line ending in "\n". A node is a master with
// the slot ranges of the shards it is shown leading (adjacent ranges
// merged, as Redis prints them), or else a replica of the first shard's
// master.
func (v *clusterView) nodesText(nowMs int64) string {
	var b strings.Builder
	for _, n := range v.nodes {
		b.WriteString(n.hexID)
		b.WriteByte(' ')
		if n.host == "" {
			b.WriteString(":0@0 ")
		} else {
			b.WriteString(net.JoinHostPort(n.host, strconv.Itoa(n.port)))
			b.WriteString("@" + strconv.Itoa(n.cport) + " ")
		}
		var flags []string
		if n.Self {
			flags = append(flags, "myself")
		}
		m := v.masterOf(n)
		if m == nil {
			flags = append(flags, "master")
		} else {
			flags = append(flags, "slave")
		}
		if n.host == "" {
			flags = append(flags, "noaddr")
		}
		b.WriteString(strings.Join(flags, ","))
		if m == nil {
			b.WriteString(" - ")
		} else {
			b.WriteString(" " + m.hexID + " ")
		}
		pong := nowMs
		if n.Self {
			pong = 0
		}
		b.WriteString("0 " + strconv.FormatInt(pong, 10) + " " + strconv.FormatUint(v.epoch(n), 10) + " connected")
		for _, r := range v.ranges(n) {
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(r[0]))
			if r[1] != r[0] {
				b.WriteString("-" + strconv.Itoa(r[1]))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// ranges returns the slot ranges of the shards n is master of, in slot
// order, adjacent ones merged.
func (v *clusterView) ranges(n *viewNode) [][2]int {
	var out [][2]int
	for _, i := range n.leads {
		out = append(out, [2]int{v.shards[i].FirstSlot, v.shards[i].LastSlot})
	}
	slices.SortFunc(out, func(a, b [2]int) int { return a[0] - b[0] })
	merged := out[:0]
	for _, r := range out {
		if k := len(merged); k > 0 && merged[k-1][1]+1 == r[0] {
			merged[k-1][1] = r[1]
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// slots renders CLUSTER SLOTS: one entry per shard, [first, last, master,
// replica...], each node as [host, port, id, {}]. Every node has one role
// in every reply, as in Redis (redis-py keeps one role per node, the last
// one CLUSTER SLOTS gives it): the replicas are the nodes that are master
// of no shard, each of which has a replica of every shard; a node that
// follows this shard but leads another is listed only as a master.
func (v *clusterView) slots() resp.Reply {
	ref := func(n *viewNode) resp.Reply {
		return resp.Array(resp.BulkString(n.host), resp.Int(int64(n.port)), resp.BulkString(n.hexID), resp.Map())
	}
	out := make([]resp.Reply, 0, len(v.shards))
	for i, st := range v.shards {
		e := []resp.Reply{resp.Int(int64(st.FirstSlot)), resp.Int(int64(st.LastSlot)), ref(v.master[i])}
		for _, n := range v.nodes {
			if len(n.leads) == 0 && n.host != "" {
				e = append(e, ref(n))
			}
		}
		out = append(out, resp.Array(e...))
	}
	return resp.Array(out...)
}

// shardsReply renders CLUSTER SHARDS: one entry per shard with its slot
// range, its master and the replicas (as in CLUSTER SLOTS, the nodes that
// are master of no shard). replication-offset is the shard's Raft commit
// index as this node knows it; health is "online" for a node with a known
// address, else "fail".
func (v *clusterView) shardsReply() resp.Reply {
	out := make([]resp.Reply, 0, len(v.shards))
	for i, st := range v.shards {
		nodes := []resp.Reply{v.shardNode(v.master[i], "master", st)}
		for _, n := range v.nodes {
			if len(n.leads) == 0 {
				nodes = append(nodes, v.shardNode(n, "replica", st))
			}
		}
		out = append(out, resp.Map(
			resp.BulkString("slots"), resp.Array(resp.Int(int64(st.FirstSlot)), resp.Int(int64(st.LastSlot))),
			resp.BulkString("nodes"), resp.Array(nodes...),
		))
	}
	return resp.Array(out...)
}

func (v *clusterView) shardNode(n *viewNode, role string, st cluster.Status) resp.Reply {
	kv := []resp.Reply{resp.BulkString("id"), resp.BulkString(n.hexID)}
	switch {
	case n.tlsPort == 0:
		kv = append(kv, resp.BulkString("port"), resp.Int(int64(n.port)))
	case n.plainPort == 0:
		kv = append(kv, resp.BulkString("tls-port"), resp.Int(int64(n.tlsPort)))
	default:
		kv = append(kv, resp.BulkString("port"), resp.Int(int64(n.plainPort)),
			resp.BulkString("tls-port"), resp.Int(int64(n.tlsPort)))
	}
	kv = append(kv,
		resp.BulkString("ip"), resp.BulkString(n.host),
		resp.BulkString("endpoint"), resp.BulkString(n.host),
	)
	if n.host != "" && net.ParseIP(n.host) == nil {
		kv = append(kv, resp.BulkString("hostname"), resp.BulkString(n.host))
	}
	health := "online"
	if n.host == "" {
		health = "fail"
	}
	kv = append(kv,
		resp.BulkString("role"), resp.BulkString(role),
		resp.BulkString("replication-offset"), resp.Int(int64(st.CommitIndex)),
		resp.BulkString("health"), resp.BulkString(health),
	)
	return resp.Map(kv...)
}

// myShardID is CLUSTER MYSHARDID: the ID of the first shard this node is
// master of, or of the first shard (whose master it is shown replicating).
func (v *clusterView) myShardID() string {
	shard := 0
	if len(v.self.leads) > 0 {
		shard = v.shards[v.self.leads[0]].ID
	}
	return shardHexID(shard)
}

// shardHexID is a shard's 40-hex-character ID in Redis Cluster's style.
func shardHexID(shard int) string {
	sum := sha1.Sum([]byte("raftcache-shard:" + strconv.Itoa(shard)))
	return hex.EncodeToString(sum[:])
}

// links renders CLUSTER LINKS: a link to and from every other member.
// raftcache's links are pooled Raft and RPC connections, not one per
// peer; the entries say which peers there are, and no more.
func (v *clusterView) links(createdMs int64) resp.Reply {
	var out []resp.Reply
	for _, n := range v.nodes {
		if n.Self {
			continue
		}
		for _, dir := range []string{"to", "from"} {
			out = append(out, resp.Map(
				resp.BulkString("direction"), resp.BulkString(dir),
				resp.BulkString("node"), resp.BulkString(n.hexID),
				resp.BulkString("create-time"), resp.Int(createdMs),
				resp.BulkString("events"), resp.BulkString("r"),
				resp.BulkString("send-buffer-allocated"), resp.Int(0),
				resp.BulkString("send-buffer-used"), resp.Int(0),
			))
		}
	}
	return resp.Array(out...)
}

// clusterHelp is CLUSTER HELP for the subcommands raftcache has.
var clusterHelp = []string{
	"CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"COUNTKEYSINSLOT <slot>",
	"    Return the number of keys in <slot>.",
	"FORGET <node-id>",
	"    Remove a node from the cluster (from every shard's Raft group).",
	"GETKEYSINSLOT <slot> <count>",
	"    Return key names stored in <slot>, at most <count> of them.",
	"INFO",
	"    Return information about the cluster.",
	"KEYSLOT <key>",
	"    Return the hash slot for <key>.",
	"LINKS",
	"    Return information about the peers of this node.",
	"MEET <ip> <port> [<bus-port>]",
	"    Add a node started with --join to the cluster (every shard's Raft group).",
	"MYID",
	"    Return the node id.",
	"MYSHARDID",
	"    Return the node's shard id.",
	"NODES",
	"    Return cluster configuration seen by node. Output format:",
	"    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
	"SHARDS",
	"    Return information about slot range mappings and the nodes associated with them.",
	"SLOTS",
	"    Return information about slots range mappings. Each range is made of:",
	"    start, end, master and replicas IP addresses, ports and ids",
	"HELP",
	"    Print this help.",
}
