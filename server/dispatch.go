package server

import (
	"errors"
	"sync"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// serverHandler serves a command that the server answers itself rather
// than routing it to a shard. cmd is the top-level command; for container
// commands sub is the subcommand, else nil.
type serverHandler func(s *Server, conn redcon.Conn, c *client, cmd, sub *resp.Command, args [][]byte) resp.Reply

// dispatch runs one command and returns its reply.
func (s *Server) dispatch(conn redcon.Conn, c *client, args [][]byte) resp.Reply {
	c.lastActive.Store(time.Now().UnixMilli())
	p, refusal, ok := s.classify(c, args)
	if p.cmd != nil {
		c.cur, c.curCmd = p.name(), p.cmd
		if p.sub != nil {
			c.curCmd = p.sub
		}
	}
	if !ok {
		return refusal
	}
	if p.sub != nil {
		c.lastCmd.Store(&p.sub.FullName)
	} else {
		c.lastCmd.Store(&p.cmd.Name)
	}
	// After lookup and arity, before anything else, as Redis orders it.
	if !c.authenticated() && !p.cmd.HasFlag(resp.FlagNoAuth) {
		return resp.ErrNoAuth.Reply()
	}
	if c.multi != nil && !p.serving.txControl && p.flags()&resp.FlagNoMulti != 0 {
		return resp.ErrNotInMulti.Reply()
	}
	if r, denied := s.aclDenied(c, &p, args); denied {
		return r
	}
	if (p.cmd.HasFlag(resp.FlagDenyOOM) || p.sub != nil && p.sub.HasFlag(resp.FlagDenyOOM)) && !s.memoryFor(c) {
		return resp.ErrOOM.Reply()
	}
	if c.multi != nil && !p.serving.txControl {
		return s.queue(c, &p, args)
	}
	return s.execute(conn, c, &p, args)
}

// oomWait bounds how long a command that may grow memory waits, past
// maxmemory, for the leaders' eviction to make room before it gets OOM.
const oomWait = time.Second

// memoryFor reports whether a command that may grow memory may run: the
// node's keyspace is within maxmemory, or — under an evicting policy — it
// came back within it while the command waited (up to oomWait). Writers
// faster than eviction are slowed down to its pace rather than refused.
func (s *Server) memoryFor(c *client) bool {
	if !s.backend.OverMaxMemory() {
		return true
	}
	if s.backend.Eviction().Policy == store.NoEviction {
		return false
	}
	deadline := time.Now().Add(oomWait)
	for time.Now().Before(deadline) {
		select {
		case <-c.ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
		if !s.backend.OverMaxMemory() {
			return true
		}
	}
	return false
}

// execute runs a command that passed lookup and arity checks, now.
func (s *Server) execute(conn redcon.Conn, c *client, p *plan, args [][]byte) resp.Reply {
	c.ran = true
	if h := p.serving.handler; h != nil {
		return h(s, conn, c, p.cmd, p.sub, args)
	}
	if p.serving.store {
		return s.route(c, p, args)
	}
	return resp.ErrUnknownCommand(args).Reply()
}

// route sends a data command to the shard that owns its keys. A plain
// connection sees one keyspace: the multi-key commands that can be split
// (DEL, UNLINK, EXISTS, TOUCH, MGET, MSET) are split by shard when their
// keys span shards; any other command whose keys span shards gets
// CROSSSLOT, since it cannot be atomic across Raft groups. A cluster-aware
// connection is routed as Redis Cluster routes (routeBySlot).
func (s *Server) route(c *client, p *plan, args [][]byte) resp.Reply {
	if p.shard < 0 {
		return errNoRouteKey(p.keyed)
	}
	if c.clusterAware {
		return s.routeBySlot(c, p, args)
	}
	s.waitPause(c, p.write)
	if p.spans {
		return s.routeSplit(c, p.keyed, args)
	}
	if p.write {
		c.markWrote(p.shard)
	}
	return shapeReply(c.proto, p.keyed, args, s.execOnShard(c, p.write, p.shard, p.slot, args))
}

// routeSplit serves a command whose keys span shards on a plain
// connection: DEL, UNLINK, EXISTS, TOUCH and MGET are split by shard (each
// shard's part atomic); MSET, MSETNX, RENAME, RENAMENX, COPY and LCS run
// as cross-shard transactions (xcmds.go), atomic across shards; any other
// command gets CROSSSLOT.
func (s *Server) routeSplit(c *client, cmd *resp.Command, args [][]byte) resp.Reply {
	switch cmd.Name {
	case "del", "unlink", "exists", "touch", "mget":
		return s.splitRun(c, cmd, args)
	case "mset", "msetnx":
		// Checked first, as Redis checks arity before anything else.
		if len(args)%2 == 0 {
			return resp.ErrWrongArgs(cmd.Name).Reply()
		}
	}
	if r, ok := s.crossShard(c, cmd, args); ok {
		return shapeReply(c.proto, cmd, args, r)
	}
	return resp.ErrCrossSlot.Reply()
}

// part is the share of a split command that one shard runs: the command
// name followed by that shard's keys (or key-value pairs), and where each
// of its keys stands among the original command's keys.
type part struct {
	shard, slot int
	args        [][]byte
	pos         []int
}

// split groups the keys of args (one every step arguments from args[1],
// each followed by step-1 values) by shard, in the order shards first
// appear.
func (s *Server) split(args [][]byte, step int) []part {
	var parts []part
	index := map[int]int{}
	for i, n := 1, 0; i+step <= len(args); i, n = i+step, n+1 {
		slot := store.SlotOf(args[i])
		shard := s.backend.ShardOfSlot(slot)
		j, ok := index[shard]
		if !ok {
			j = len(parts)
			index[shard] = j
			parts = append(parts, part{shard: shard, slot: slot, args: [][]byte{args[0]}})
		}
		parts[j].args = append(parts[j].args, args[i:i+step]...)
		parts[j].pos = append(parts[j].pos, n)
	}
	return parts
}

// runParts runs every part on its shard concurrently and returns the
// replies in part order. Each part is atomic on its shard; the parts are
// not atomic together.
func (s *Server) runParts(c *client, cmd *resp.Command, parts []part) []resp.Reply {
	out := make([]resp.Reply, len(parts))
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() { out[i] = s.execOnShard(c, cmd.IsWrite(), parts[i].shard, parts[i].slot, parts[i].args) })
	}
	wg.Wait()
	if cmd.IsWrite() {
		for _, p := range parts {
			c.markWrote(p.shard)
		}
	}
	return out
}

// splitRun serves DEL, UNLINK, EXISTS, TOUCH and MGET across shards: each
// shard runs its own keys and mergeSplit puts the replies together (the
// counts added up, MGET's values back in the order of the keys).
func (s *Server) splitRun(c *client, cmd *resp.Command, args [][]byte) resp.Reply {
	parts := s.split(args, 1)
	return mergeSplit(cmd, len(args), parts, s.runParts(c, cmd, parts))
}

// execOnShard runs one command on one shard for c: writes through Raft,
// reads as the connection reads (see read). slot is where an error
// points. It is the one place where a write goes to Propose and a read to
// Read, and it is safe to call concurrently for one connection.
func (s *Server) execOnShard(c *client, write bool, shard, slot int, args [][]byte) resp.Reply {
	return s.untilUnlocked(func() resp.Reply { return s.execOnShardOnce(c, write, shard, slot, args) })
}

// untilUnlocked runs do again while its reply says a key was locked by a
// cross-shard transaction (the command did not run), until the server's
// patience ends (TRYAGAIN).
func (s *Server) untilUnlocked(do func() resp.Reply) resp.Reply {
	var w lockWait
	for {
		r := do()
		if !store.IsLocked(r) || !w.again(s.xtx) {
			return unlocked(r)
		}
	}
}

func (s *Server) execOnShardOnce(c *client, write bool, shard, slot int, args [][]byte) resp.Reply {
	if write {
		replies, err := s.backend.Propose(s.ctx, shard, [][][]byte{args})
		if err != nil {
			return s.backendError(err, slot)
		}
		return replies[0]
	}
	r, err := s.read(c, shard, args)
	if err != nil {
		return s.backendError(err, slot)
	}
	return r
}

// backendError turns a backend error into the reply Redis clients expect.
// A NotLeaderError (nothing was proposed) reaches here only after the
// backend waited for a leader in vain, so it is CLUSTERDOWN, which clients
// retry; redirects (MOVED) are decided before a command is sent to the
// backend (see redirect.go), never after.
func (s *Server) backendError(err error, _ int) resp.Reply {
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		return resp.ErrClusterDown.Reply()
	case errors.Is(err, cluster.ErrUnknownOutcome):
		return resp.ErrUnknownOutcome.Reply()
	}
	return resp.ErrorReply(err)
}
