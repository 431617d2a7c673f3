package server

import (
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// Routing for cluster-aware connections: those that have shown they route
// by slot themselves (CLUSTER SLOTS, SHARDS or NODES, READONLY, ASKING).
// They get what a Redis Cluster node would answer:
//   - CROSSSLOT when a command's keys are in different slots (not only
//     different shards), before anything else;
//   - MOVED <slot> <leader's client address> when another node leads the
//     slot's shard, decided before the command is sent anywhere, so a
//     command that was proposed never gets MOVED;
//   - on a READONLY connection, reads from this node's replica (possibly
//     stale); writes still go to the leader (MOVED).
// While the shard has no leader, or its leader's address is unknown, the
// command is served as on a plain connection: the backend waits for an
// election and forwards, and only when none comes answers CLUSTERDOWN.

// errMoved returns Redis's redirect to the node serving slot.
func errMoved(slot int, addr string) resp.Reply {
	return resp.ErrMoved(slot, addr).Reply()
}

// slotOfKeys returns the slot of the keys of args at positions pos, or
// false when they are not all in one slot.
func slotOfKeys(args [][]byte, pos []int) (int, bool) {
	slot := store.SlotOf(args[pos[0]])
	for _, p := range pos[1:] {
		if store.SlotOf(args[p]) != slot {
			return slot, false
		}
	}
	return slot, true
}

// redirect reports whether this node should run a cluster-aware
// connection's command for slot (in shard) now; if not, it returns the
// MOVED reply that sends the client to the shard's leader.
// A TLS connection is sent to the leader's TLS port.
func (s *Server) redirect(c *client, shard, slot int) (resp.Reply, bool) {
	id, addr := s.backend.LeaderOf(shard)
	if id == "" || id == s.backend.NodeID() || addr == "" {
		return resp.Reply{}, true
	}
	return errMoved(slot, s.addrFor(c, addr)), false
}

// routeBySlot serves a data command on a cluster-aware connection.
func (s *Server) routeBySlot(c *client, p *plan, args [][]byte) resp.Reply {
	slot, ok := slotOfKeys(args, c.keyPos)
	if !ok {
		return resp.ErrCrossSlot.Reply()
	}
	cmd, shard, write := p.keyed, p.shard, p.write
	if !write && c.readOnly {
		s.waitPause(c, false)
		return shapeReply(c.proto, cmd, args, s.untilUnlocked(func() resp.Reply { return s.backend.ReadLocal(shard, args) }))
	}
	if r, here := s.redirect(c, shard, slot); !here {
		return r
	}
	s.waitPause(c, write)
	if write {
		c.markWrote(shard)
	}
	return shapeReply(c.proto, cmd, args, s.execOnShard(c, write, shard, slot, args))
}

// read runs a read-only command on shard for c: on this node's replica for
// a READONLY connection, else linearizably on the shard's leader.
func (s *Server) read(c *client, shard int, args [][]byte) (resp.Reply, error) {
	if c.readOnly {
		return s.backend.ReadLocal(shard, args), nil
	}
	return s.backend.Read(s.ctx, shard, args)
}
