package server

import (
	"sync"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// Pipelined commands are served in runs. redcon hands the server one
// command at a time but has already parsed everything the client sent in
// one go; when a run of consecutive plain data commands (each with all its
// keys in one shard) is waiting, the server takes it whole: each shard's
// commands go to Raft as ONE proposal (one log entry, one fsync) — or,
// when they are all reads, as one batch behind one leadership
// confirmation — and the shards run in parallel. Within a shard the
// commands keep the connection's order, so a GET after a SET of the same
// key sees it. Commands on different shards are concurrent, as the client
// sent them without waiting for replies; that is linearizable, and it is
// what Redis Cluster offers too. Replies go out in the order of the
// commands.

// pipelined is one command of a run, with where it goes.
type pipelined struct {
	args  [][]byte
	cmd   *resp.Command
	shard int
	reply resp.Reply
}

// canBatch reports whether the connection's state lets its pipelined
// commands be served in runs: no transaction, authenticated, replies on,
// and plain routing (slot-routing and READONLY connections are served one
// command at a time).
func (c *client) canBatch() bool {
	return c.multi == nil && c.authenticated() && !c.clusterAware && !c.readOnly &&
		!c.replyOff && !c.replySkip && !c.replySkipNext && !c.quit && !c.aborted
}

// batchable classifies args: ok when it is a data command the store runs
// whose keys all live in one shard.
func (s *Server) batchable(c *client, args [][]byte) (p pipelined, ok bool) {
	if len(args) == 0 || isReleaseFrame(args) {
		return p, false
	}
	cmd := resp.Lookup(args[0])
	if cmd == nil || cmd.Subcommands != nil || !cmd.CheckArity(len(args)) {
		return p, false
	}
	if _, server := serverHandlers[cmd.Name]; server {
		return p, false
	}
	if ok, _ := store.Supports(args[0]); !ok {
		return p, false
	}
	c.keyPos = cmd.KeyPositions(c.keyPos[:0], len(args))
	if len(c.keyPos) == 0 {
		return p, false
	}
	shard := s.backend.ShardOfSlot(store.SlotOf(args[c.keyPos[0]]))
	for _, i := range c.keyPos[1:] {
		if s.backend.ShardOfSlot(store.SlotOf(args[i])) != shard {
			return p, false
		}
	}
	return pipelined{args: args, cmd: cmd, shard: shard}, true
}

// servePipeline serves first and, when it starts a run of batchable
// commands that redcon has already read, the whole pipeline behind it. It
// reports false when first should be served alone the usual way.
func (s *Server) servePipeline(conn redcon.Conn, c *client, first redcon.Command) bool {
	if !c.canBatch() || len(conn.PeekPipeline()) == 0 {
		return false
	}
	if _, ok := s.batchable(c, first.Args); !ok {
		return false
	}
	cmds := append([]redcon.Command{first}, conn.ReadPipeline()...)
	for i := 0; i < len(cmds) && !c.quit && !c.aborted; {
		if run := s.takeRun(c, cmds[i:]); len(run) > 0 {
			s.serveRun(conn, c, run)
			i += len(run)
			continue
		}
		s.serveOne(conn, c, cmds[i])
		i++
	}
	return true
}

// takeRun returns the run of batchable commands at the start of cmds,
// empty when the first is not batchable. A write after a read ends the
// run: the read's reply might close the connection (output limit), and
// then nothing after it may run.
func (s *Server) takeRun(c *client, cmds []redcon.Command) []pipelined {
	if !c.canBatch() {
		return nil
	}
	var run []pipelined
	read := false
	for _, cmd := range cmds {
		p, ok := s.batchable(c, cmd.Args)
		if !ok || (read && p.cmd.IsWrite()) {
			break
		}
		read = read || !p.cmd.IsWrite()
		run = append(run, p)
	}
	return run
}

// serveRun executes a run and writes its replies in order.
func (s *Server) serveRun(conn redcon.Conn, c *client, run []pipelined) {
	start := time.Now()
	c.lastActive.Store(start.UnixMilli())
	byShard := map[int][]int{}
	var order []int
	anyWrite := false
	for i := range run {
		sh := run[i].shard
		if _, seen := byShard[sh]; !seen {
			order = append(order, sh)
		}
		byShard[sh] = append(byShard[sh], i)
		if run[i].cmd.IsWrite() {
			anyWrite = true
			c.markWrote(sh)
		}
	}
	s.waitPause(c, anyWrite)
	if len(order) == 1 {
		s.runOnShard(run, order[0], byShard[order[0]])
	} else {
		var wg sync.WaitGroup
		for _, sh := range order {
			wg.Add(1)
			go func(sh int) {
				defer wg.Done()
				s.runOnShard(run, sh, byShard[sh])
			}(sh)
		}
		wg.Wait()
	}
	took := time.Since(start) / time.Duration(len(run))
	for i := range run {
		if c.aborted {
			return
		}
		s.stats.commands.Add(1)
		c.lastCmd.Store(run[i].cmd.Name)
		r := shapeReply(c.proto, run[i].cmd, run[i].args, run[i].reply)
		s.record(run[i].cmd.Name, true, &r, took)
		s.write(conn, c, &r)
	}
}

// runOnShard executes the commands at idx (all for shard) as one proposal,
// or as one read batch when none writes, and stores their replies.
func (s *Server) runOnShard(run []pipelined, shard int, idx []int) {
	cmds := make([][][]byte, len(idx))
	write := false
	for j, i := range idx {
		cmds[j] = run[i].args
		write = write || run[i].cmd.IsWrite()
	}
	var replies []resp.Reply
	var err error
	if write {
		replies, err = s.backend.Propose(s.ctx, shard, cmds)
	} else {
		replies, err = s.backend.ReadBatch(s.ctx, shard, cmds)
	}
	for j, i := range idx {
		if err != nil {
			run[i].reply = s.backendError(err, store.SlotOf(run[i].args[run[i].cmd.FirstKey]))
		} else {
			run[i].reply = replies[j]
		}
	}
}
