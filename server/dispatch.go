package server

import (
	"errors"
	"strconv"
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

var serverHandlers map[string]serverHandler

// dispatch runs one command and returns its reply.
func (s *Server) dispatch(conn redcon.Conn, c *client, args [][]byte) resp.Reply {
	if len(args) == 0 {
		return resp.ErrUnknownCommand([][]byte{{}}).Reply()
	}
	c.lastActive.Store(time.Now().UnixMilli())
	cmd := resp.Lookup(args[0])
	if cmd == nil {
		return resp.ErrUnknownCommand(args).Reply()
	}
	if !cmd.CheckArity(len(args)) {
		return resp.ErrWrongArgs(cmd.Name).Reply()
	}
	var sub *resp.Command
	if cmd.Subcommands != nil {
		sub = cmd.LookupSub(args[1])
		if sub == nil {
			return resp.ErrUnknownSubcommand(args[0], args[1]).Reply()
		}
		if !sub.CheckArity(len(args)) {
			return resp.ErrWrongArgs(sub.FullName).Reply()
		}
		c.lastCmd.Store(sub.FullName)
	} else {
		c.lastCmd.Store(cmd.Name)
	}
	if h, ok := serverHandlers[cmd.Name]; ok {
		return h(s, conn, c, cmd, sub, args)
	}
	if ok, _ := store.Supports(args[0]); ok {
		return s.route(c, cmd, args)
	}
	return resp.ErrUnknownCommand(args).Reply()
}

// sumAcrossShards lists the commands whose keys may span shards on a plain
// connection: each shard gets the command with its own keys, and the
// integer replies add up.
var sumAcrossShards = map[string]bool{"del": true, "unlink": true, "exists": true, "touch": true}

// route sends a data command to the shard that owns its keys.
func (s *Server) route(c *client, cmd *resp.Command, args [][]byte) resp.Reply {
	c.keyPos = cmd.KeyPositions(c.keyPos[:0], len(args))
	if len(c.keyPos) == 0 {
		return resp.NewError("ERR command '" + cmd.Name + "' has no key to route by").Reply()
	}
	slot := store.SlotOf(args[c.keyPos[0]])
	shard := s.backend.ShardOfSlot(slot)
	for _, p := range c.keyPos[1:] {
		if s.backend.ShardOfSlot(store.SlotOf(args[p])) != shard {
			if sumAcrossShards[cmd.Name] {
				return s.fanOutSum(cmd, args)
			}
			return resp.ErrCrossSlot.Reply()
		}
	}
	return s.execOnShard(cmd, shard, slot, args)
}

// execOnShard runs one command on one shard: writes through Raft, reads
// linearizably on the leader.
func (s *Server) execOnShard(cmd *resp.Command, shard, slot int, args [][]byte) resp.Reply {
	if cmd.IsWrite() {
		replies, err := s.backend.Propose(s.ctx, shard, [][][]byte{args})
		if err != nil {
			return s.backendError(err, slot)
		}
		return replies[0]
	}
	r, err := s.backend.Read(s.ctx, shard, args)
	if err != nil {
		return s.backendError(err, slot)
	}
	return r
}

// fanOutSum splits a multi-key command by shard and adds up the integer
// replies. Each shard's part is atomic on its own; the whole is not.
func (s *Server) fanOutSum(cmd *resp.Command, args [][]byte) resp.Reply {
	parts := make(map[int][][]byte)
	var order []int
	for _, key := range args[1:] {
		shard := s.backend.ShardOfSlot(store.SlotOf(key))
		if _, ok := parts[shard]; !ok {
			order = append(order, shard)
			parts[shard] = [][]byte{args[0]}
		}
		parts[shard] = append(parts[shard], key)
	}
	var total int64
	for _, shard := range order {
		r := s.execOnShard(cmd, shard, store.SlotOf(parts[shard][1]), parts[shard])
		if r.Kind != resp.KindInt {
			return r
		}
		total += r.Int
	}
	return resp.Int(total)
}

// errUnknownOutcome is sent when a write was proposed but its fate is not
// known. It is a plain ERR, which clients do not retry on their own, so a
// retried INCR can never apply twice unseen.
var errUnknownOutcome = resp.NewError("ERR write outcome unknown: leadership changed before the write was committed; it may or may not have been applied")

// backendError turns a backend error into the reply Redis clients expect.
func (s *Server) backendError(err error, slot int) resp.Reply {
	var nl *cluster.NotLeaderError
	switch {
	case errors.As(err, &nl):
		if nl.LeaderAddr == "" {
			return resp.ErrClusterDown.Reply()
		}
		return resp.NewError("MOVED " + strconv.Itoa(slot) + " " + nl.LeaderAddr).Reply()
	case errors.Is(err, cluster.ErrUnknownOutcome):
		return errUnknownOutcome.Reply()
	}
	return resp.ErrorReply(err)
}
