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
	args        [][]byte
	cmd         *resp.Command
	write       bool
	shard, slot int
	reply       resp.Reply
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
func (s *Server) batchable(c *client, args [][]byte) (pipelined, bool) {
	p, _, ok := s.classify(c, args)
	if !ok || p.sub != nil || p.cmd.Subcommands != nil || !p.data() || p.shard < 0 || p.spans {
		return pipelined{}, false
	}
	if p.cmd.HasFlag(resp.FlagDenyOOM) && s.backend.OverMaxMemory() {
		return pipelined{}, false // served alone, past dispatch's memory check
	}
	if u := s.userOf(c); u == nil || u.Check(p.cmd, p.sub, args) != nil {
		return pipelined{}, false // served alone: dispatch refuses and logs it
	}
	return pipelined{args: args, cmd: p.cmd, write: p.write, shard: p.shard, slot: p.slot}, true
}

// servePipeline serves first and, when it starts a run of batchable
// commands that redcon has already read, the whole pipeline behind it. It
// reports false when first should be served alone the usual way.
func (s *Server) servePipeline(conn redcon.Conn, c *client, first redcon.Command) bool {
	if !c.canBatch() || len(conn.PeekPipeline()) == 0 {
		return false
	}
	head, ok := s.batchable(c, first.Args)
	if !ok && !s.spanningMSet(c, first.Args) {
		return false
	}
	ps := &c.pipe
	ps.cmds = append(append(ps.cmds[:0], first), conn.ReadPipeline()...)
	for i := 0; i < len(ps.cmds) && !c.quit && !c.aborted; {
		var known *pipelined
		if i == 0 && ok {
			known = &head
		}
		if n := s.takeRun(c, ps.cmds[i:], known); n > 0 {
			s.serveRun(conn, c, ps.run)
			i += n
			continue
		}
		if n := s.takeMSetRun(c, ps.cmds[i:]); n > 1 {
			s.serveMSetRun(conn, c, ps.cmds[i:i+n])
			i += n
			continue
		}
		s.serveOne(conn, c, ps.cmds[i])
		i++
	}
	clear(ps.cmds) // do not pin redcon's buffers between pipelines
	ps.cmds = ps.cmds[:0]
	return true
}

// pipeScratch is a connection's reusable memory for serving runs, so that
// a run costs no allocation of its own beyond the replies.
type pipeScratch struct {
	cmds   []redcon.Command
	run    []pipelined
	groups []shardGroup
	wg     sync.WaitGroup
}

// shardGroup is the part of a run that goes to one shard.
type shardGroup struct {
	shard int
	write bool
	local bool       // a read of a shard this node leads (see runGroups)
	idx   []int      // positions in the run
	cmds  [][][]byte // their arguments, in run order
	reads []resp.Reply
}

// takeRun puts in c.pipe.run the run of batchable commands at the start
// of cmds and returns its length, 0 when the first is not batchable.
// first, when not nil, is the first command already classified. A write
// after a read ends the run: the read's reply might close the connection
// (output limit), and then nothing after it may run.
func (s *Server) takeRun(c *client, cmds []redcon.Command, first *pipelined) int {
	run := c.pipe.run[:0]
	if c.canBatch() {
		read := false
		for i, cmd := range cmds {
			var p pipelined
			ok := true
			if i == 0 && first != nil {
				p = *first
			} else {
				p, ok = s.batchable(c, cmd.Args)
			}
			if !ok || (read && p.write) {
				break
			}
			read = read || !p.write
			run = append(run, p)
		}
	}
	c.pipe.run = run
	return len(run)
}

// serveRun executes a run and writes its replies in order.
func (s *Server) serveRun(conn redcon.Conn, c *client, run []pipelined) {
	start := time.Now()
	c.lastActive.Store(start.UnixMilli())
	groups := c.pipe.groups[:0]
	anyWrite := false
	for i := range run {
		g := -1
		for j := range groups {
			if groups[j].shard == run[i].shard {
				g = j
				break
			}
		}
		if g < 0 {
			if len(groups) < cap(groups) {
				groups = groups[:len(groups)+1]
				gr := &groups[len(groups)-1]
				gr.shard, gr.write, gr.idx, gr.cmds = run[i].shard, false, gr.idx[:0], gr.cmds[:0]
			} else {
				groups = append(groups, shardGroup{shard: run[i].shard})
			}
			g = len(groups) - 1
		}
		gr := &groups[g]
		gr.idx = append(gr.idx, i)
		gr.cmds = append(gr.cmds, run[i].args)
		if run[i].write {
			gr.write, anyWrite = true, true
			c.markWrote(run[i].shard)
		}
	}
	c.pipe.groups = groups
	s.waitPause(c, anyWrite)
	s.runGroups(run, groups, &c.pipe.wg)
	took := time.Since(start) / time.Duration(len(run))
	for i := range run {
		if c.aborted {
			break
		}
		s.stats.commands.Add(1)
		r := shapeReply(c.proto, run[i].cmd, run[i].args, run[i].reply)
		s.record(run[i].cmd.Name, true, &r, took)
		s.observeCommand(c, run[i].cmd, run[i].args, took)
		s.write(conn, c, &r)
	}
	c.lastCmd.Store(&run[len(run)-1].cmd.Name)
	for j := range groups {
		clear(groups[j].cmds) // the arguments alias the connection's read buffer
		clear(groups[j].reads)
	}
	clear(run)
}

// runGroups runs every shard's part of a run. Reads of shards this node
// leads are served from memory: they run on the connection's goroutine,
// one after another (a goroutine each would cost more than the read).
// Writes, which wait for a Raft round trip, and reads another node serves
// run concurrently, one of them on this goroutine.
func (s *Server) runGroups(run []pipelined, groups []shardGroup, wg *sync.WaitGroup) {
	here := -1
	for j := range groups {
		g := &groups[j]
		g.local = !g.write && s.backend.Leads(g.shard)
		if g.local {
			continue
		}
		if here < 0 {
			here = j
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runOnShard(run, g)
		}()
	}
	for j := range groups {
		if groups[j].local {
			s.runOnShard(run, &groups[j])
		}
	}
	if here >= 0 {
		s.runOnShard(run, &groups[here])
	}
	wg.Wait()
}

// runOnShard executes one shard's part of a run as one proposal, or as one
// read batch when none of it writes, and stores the replies in the run.
func (s *Server) runOnShard(run []pipelined, g *shardGroup) {
	var replies []resp.Reply
	var err error
	if g.write {
		replies, err = s.backend.Propose(s.ctx, g.shard, g.cmds)
	} else {
		replies, err = s.backend.ReadBatch(s.ctx, g.shard, g.cmds, g.reads[:0])
		g.reads = replies // scratch for the next run; cleared once written
	}
	for j, i := range g.idx {
		if err != nil {
			run[i].reply = s.backendError(err, run[i].slot)
		} else {
			run[i].reply = replies[j]
		}
	}
	s.retryLocked(run, g)
}

// retryLocked runs again, in their order, the commands of a shard's part
// of a run that met a key a cross-shard transaction held (they did not
// run), until none does or the server's patience ends (TRYAGAIN). The
// others have run: pipelined commands are concurrent requests, and one
// that waits for a lock does not hold back those that need none.
func (s *Server) retryLocked(run []pipelined, g *shardGroup) {
	var w lockWait
	for {
		var again []int
		for _, i := range g.idx {
			if store.IsLocked(run[i].reply) {
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			return
		}
		if !w.again(s.xtx) {
			for _, i := range again {
				run[i].reply = unlocked(run[i].reply)
			}
			return
		}
		cmds := make([][][]byte, len(again))
		for k, i := range again {
			cmds[k] = run[i].args
		}
		var replies []resp.Reply
		var err error
		if g.write {
			replies, err = s.backend.Propose(s.ctx, g.shard, cmds)
		} else {
			replies, err = s.backend.ReadBatch(s.ctx, g.shard, cmds, nil)
		}
		for k, i := range again {
			if err != nil {
				run[i].reply = s.backendError(err, run[i].slot)
			} else {
				run[i].reply = replies[k]
			}
		}
	}
}

// maxMSetRun bounds the pipelined MSETs served as one transaction.
const maxMSetRun = 64

// takeMSetRun returns how many pipelined commands at the start of cmds are
// MSETs whose keys span shards and that dispatch would run as they are:
// pipelined requests are concurrent, so consecutive ones may take effect
// together, and serveMSetRun makes them one cross-shard transaction
// instead of one each (three Raft rounds per command otherwise).
func (s *Server) takeMSetRun(c *client, cmds []redcon.Command) int {
	if !c.canBatch() {
		return 0
	}
	n := 0
	for _, cmd := range cmds[:min(len(cmds), maxMSetRun)] {
		if !s.spanningMSet(c, cmd.Args) {
			break
		}
		n++
	}
	return n
}

// spanningMSet reports whether args is an MSET over several shards that
// dispatch would run as it is (arity, memory and the user's rules).
func (s *Server) spanningMSet(c *client, args [][]byte) bool {
	p, _, ok := s.classify(c, args)
	switch {
	case !ok || p.cmd.Name != "mset" || !p.spans || len(args)%2 == 0:
		return false
	case p.cmd.HasFlag(resp.FlagDenyOOM) && s.backend.OverMaxMemory():
		return false
	}
	u := s.userOf(c)
	return u != nil && u.Check(p.cmd, p.sub, args) == nil
}

// serveMSetRun runs pipelined MSETs as one MSET of all their pairs, in
// order (a later pair of a key wins, as it would run after), atomic across
// shards, and answers each with its outcome.
func (s *Server) serveMSetRun(conn redcon.Conn, c *client, cmds []redcon.Command) {
	start := time.Now()
	c.lastActive.Store(start.UnixMilli())
	all := [][]byte{cmds[0].Args[0]}
	for _, cmd := range cmds {
		all = append(all, cmd.Args[1:]...)
	}
	s.waitPause(c, true)
	mset := resp.Lookup(all[0])
	r := s.crossMSet(c, all, false)
	took := time.Since(start) / time.Duration(len(cmds))
	for _, cmd := range cmds {
		if c.aborted {
			break
		}
		s.stats.commands.Add(1)
		s.record(mset.Name, true, &r, took)
		s.observeCommand(c, mset, cmd.Args, took)
		s.write(conn, c, &r)
	}
	c.lastCmd.Store(&mset.Name)
}
