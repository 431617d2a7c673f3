package server

import (
	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// Transactions (MULTI, EXEC, DISCARD, WATCH, UNWATCH).
//
// A transaction whose keys are in one shard runs as one Raft entry: EXEC
// proposes [raftcache.tx guard] + the queued data commands (reads
// included, so they see exactly the state the writes see) as a single
// Propose batch, which the store applies atomically. The server's own
// commands queued in the transaction (PING, ECHO, CLIENT ..., INFO, ...)
// touch no key; they run after the batch and their replies take their
// places in EXEC's array.
//
// On a plain connection a transaction may span shards: EXEC then runs it
// as a cross-shard transaction (execCross; execScratch when a queued
// command itself spans shards and cannot be split) — see xtx.go and
// cluster/DESIGN.md. A cluster-aware connection keeps Redis Cluster's
// rule: keys in different slots are CROSSSLOT.
//
// WATCH reads each key's version with raftcache.version (linearizably, on
// the shard's leader) and the connection keeps them; EXEC hands them to
// the raftcache.tx guard (or each shard's prepare), which the store
// evaluates inside the entry: any watched key changed since → the whole
// transaction is skipped and EXEC answers a null array.

// txState is an open transaction.
type txState struct {
	queue []queuedCmd
	// dirty is set when a command was refused while queueing; EXEC then
	// answers EXECABORT.
	dirty bool
}

// queuedCmd is one queued command: a private copy of its arguments
// (redcon's slices alias its read buffer) and where EXEC runs it.
type queuedCmd struct {
	plan
	args [][]byte
	// refused: EXEC's ACL check refused it; it does not run.
	refused bool
	// inBatch: the command joins the Raft batch (a data command, or a
	// keyspace-wide one on a single-shard node); otherwise it is a server
	// command run after the batch.
	inBatch bool
	// shard and slot of the command's keys; shard is -1 when it has none.
	shard, slot int
}

// watchedKey is a key WATCH recorded, with the version the store
// reported for it.
type watchedKey struct {
	store.KeyVersion
	shard, slot int
}

func init() {
	serverHandlers["multi"] = cmdMulti
	serverHandlers["exec"] = func(s *Server, conn redcon.Conn, c *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
		return s.exec(conn, c)
	}
	serverHandlers["discard"] = cmdDiscard
	serverHandlers["watch"] = func(s *Server, _ redcon.Conn, c *client, cmd, _ *resp.Command, a [][]byte) resp.Reply {
		return s.watch(c, cmd, a)
	}
	serverHandlers["unwatch"] = func(_ *Server, _ redcon.Conn, c *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
		c.unwatch()
		return resp.OK
	}
}

func cmdMulti(_ *Server, _ redcon.Conn, c *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
	if c.multi != nil {
		return resp.ErrNestedMulti.Reply()
	}
	c.multi = &txState{}
	c.shared.multi.Store(0)
	return resp.OK
}

func cmdDiscard(_ *Server, _ redcon.Conn, c *client, _, _ *resp.Command, _ [][]byte) resp.Reply {
	if c.multi == nil {
		return resp.ErrDiscardNoMulti.Reply()
	}
	c.endMulti()
	c.unwatch()
	return resp.OK
}

// endMulti closes the open transaction without running it.
func (c *client) endMulti() {
	c.multi = nil
	c.shared.multi.Store(-1)
}

// unwatch forgets every watched key.
func (c *client) unwatch() { c.watched = nil }

// queue checks a command as Redis does before queueing it and queues a
// copy. A refusal returns an error, which marks the transaction dirty
// (see Server.handle).
func (s *Server) queue(c *client, p *plan, args [][]byte) resp.Reply {
	q := queuedCmd{plan: *p}
	q.shard = -1
	switch {
	case p.serving.handler != nil && p.serving.wide:
		if s.backend.NumShards() != 1 {
			return resp.ErrWideInMulti.Reply()
		}
		q.inBatch = true
	case p.serving.handler != nil:
	default:
		if !p.serving.store {
			return resp.ErrUnknownCommand(args).Reply()
		}
		if p.shard < 0 {
			return errNoRouteKey(p.cmd)
		}
		if p.spans && c.clusterAware {
			return resp.ErrCrossSlot.Reply()
		}
		q.inBatch = true
		q.shard, q.slot = p.shard, p.slot
		if c.clusterAware {
			// As Redis Cluster checks a command before queueing it: one
			// slot, served here.
			if _, ok := slotOfKeys(args, c.keyPos); !ok {
				return resp.ErrCrossSlot.Reply()
			}
			if r, here := s.redirect(c, q.shard, q.slot); !here {
				return r
			}
		}
	}
	q.args = copyArgs(args)
	c.multi.queue = append(c.multi.queue, q)
	c.shared.multi.Store(int32(len(c.multi.queue)))
	return resp.Queued
}

// copyArgs returns a private copy of args in one allocation for the bytes.
func copyArgs(args [][]byte) [][]byte {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	return out
}

// watch implements WATCH key [key ...] (cmd is WATCH).
func (s *Server) watch(c *client, cmd *resp.Command, args [][]byte) resp.Reply {
	if c.multi != nil {
		return resp.ErrWatchInMulti.Reply()
	}
	p := s.routePlan(c, cmd, args)
	if _, one := slotOfKeys(args, c.keyPos); c.clusterAware && !one {
		return resp.ErrCrossSlot.Reply()
	}
	var fresh [][]byte
	for _, key := range args[1:] {
		if !c.watching(key) && !containsKey(fresh, key) {
			fresh = append(fresh, key)
		}
	}
	if c.clusterAware {
		if r, here := s.redirect(c, p.shard, p.slot); !here {
			return r
		}
	}
	if len(fresh) == 0 {
		return resp.OK
	}
	s.waitPause(c, false)
	// A plain connection may watch keys of several shards: each shard
	// reports its own keys' versions (a cross-shard EXEC checks them).
	byShard := map[int][][]byte{}
	var shards []int
	for _, key := range fresh {
		shard := s.backend.ShardOfSlot(store.SlotOf(key))
		if _, seen := byShard[shard]; !seen {
			shards = append(shards, shard)
		}
		byShard[shard] = append(byShard[shard], key)
	}
	for _, shard := range shards {
		keys := byShard[shard]
		var err error
		r := s.untilUnlocked(func() resp.Reply {
			var r resp.Reply
			r, err = s.backend.Read(s.ctx, shard, store.VersionArgs(keys))
			return r
		})
		if err != nil {
			return s.backendError(err, p.slot)
		}
		if r.IsError() {
			return r
		}
		versions, err := store.ParseVersions(keys, r)
		if err != nil {
			return resp.ErrorReply(err)
		}
		for _, v := range versions {
			v.Key = append([]byte(nil), v.Key...)
			c.watched = append(c.watched, watchedKey{KeyVersion: v, shard: shard, slot: store.SlotOf(v.Key)})
		}
	}
	return resp.OK
}

func (c *client) watching(key []byte) bool {
	for _, w := range c.watched {
		if string(w.Key) == string(key) {
			return true
		}
	}
	return false
}

func containsKey(keys [][]byte, key []byte) bool {
	for _, k := range keys {
		if string(k) == string(key) {
			return true
		}
	}
	return false
}

// exec implements EXEC: see the comment at the top of this file.
func (s *Server) exec(conn redcon.Conn, c *client) resp.Reply {
	tx := c.multi
	if tx == nil {
		return resp.ErrExecNoMulti.Reply()
	}
	c.endMulti()
	watched := c.watched
	c.unwatch()
	if tx.dirty {
		return resp.ErrExecAbort.Reply()
	}
	// The transaction's shard: that of every keyed command and every
	// watched key. A keyspace-wide command has no shard of its own (the
	// node then has one shard).
	shard, slot := -1, 0
	write, batch, cross := false, 0, false
	joins := func(qShard, qSlot int) bool {
		if shard >= 0 && (qShard != shard || c.clusterAware && qSlot != slot) {
			if c.clusterAware {
				return false
			}
			cross = true // a plain connection's keys in several shards
		}
		shard, slot = qShard, qSlot
		return true
	}
	for _, q := range tx.queue {
		if !q.inBatch {
			continue
		}
		batch++
		write = write || q.write
		cross = cross || q.spans
		if q.shard >= 0 && !joins(q.shard, q.slot) {
			return resp.ErrCrossSlot.Reply()
		}
	}
	for _, w := range watched {
		if !joins(w.shard, w.slot) {
			return resp.ErrCrossSlot.Reply()
		}
	}
	if shard < 0 {
		shard = 0
	} else if c.clusterAware {
		// Checked again before proposing: leadership may have moved since
		// the commands were queued. Redis discards the transaction too.
		if r, here := s.redirect(c, shard, slot); !here {
			return r
		}
	}
	s.waitPause(c, write)

	results := make([]resp.Reply, len(tx.queue))
	// The user's rules may have changed since the commands were queued:
	// a refused command gets its error in EXEC's reply and does not run.
	for i := range tx.queue {
		if r, denied := s.execDenied(c, &tx.queue[i]); denied {
			results[i] = r
			if tx.queue[i].inBatch {
				tx.queue[i].inBatch = false
				batch--
			}
			tx.queue[i].refused = true
		}
	}
	scratch := false
	for i := range tx.queue {
		scratch = scratch || needsScratch(&tx.queue[i])
	}
	switch {
	case scratch:
		if r, ok := s.execScratch(c, tx, watched, write, results); !ok {
			return r
		}
	case cross:
		if r, ok := s.execCross(c, tx, watched, write, results); !ok {
			return r
		}
	case batch > 0 || len(watched) > 0:
		// The guard goes first even with nothing watched: it makes the
		// whole batch wait, rather than part of it run, while a
		// cross-shard transaction holds one of its keys.
		cmds := make([][][]byte, 0, batch+1)
		keys := make([]store.KeyVersion, len(watched))
		for i, w := range watched {
			keys[i] = w.KeyVersion
		}
		cmds = append(cmds, store.TxArgs(batch, keys))
		for _, q := range tx.queue {
			if q.inBatch {
				cmds = append(cmds, q.args)
			}
		}
		if write {
			c.markWrote(shard)
		}
		var replies []resp.Reply
		var err error
		g := s.untilUnlocked(func() resp.Reply {
			replies, err = s.backend.Propose(s.ctx, shard, cmds)
			if err != nil || len(replies) != len(cmds) {
				return resp.Reply{}
			}
			return replies[0]
		})
		if err != nil {
			return s.backendError(err, slot)
		}
		if len(replies) != len(cmds) {
			return resp.ErrTxReplies.Reply()
		}
		if g.Kind != resp.KindSimple {
			if g.IsError() {
				return g
			}
			return resp.NullArr // a watched key changed
		}
		replies = replies[1:]
		j := 0
		for i, q := range tx.queue {
			if q.inBatch {
				results[i] = shapeReply(c.proto, q.cmd, q.args, replies[j])
				j++
			}
		}
	}
	c.inExec = true
	for i, q := range tx.queue {
		if !q.inBatch && !q.refused {
			results[i] = s.execute(conn, c, &q.plan, q.args)
		}
	}
	c.inExec = false
	return resp.Array(results...)
}

// execCross runs a plain connection's transaction whose commands or
// watched keys span shards as a cross-shard transaction (xtx.go): each
// shard runs its own commands, in queue order, at the commit, under locks
// on every key of the transaction, so the commands see the transaction's
// own state and nothing else sees half of it. It fills results with the
// commands' replies, or returns EXEC's reply and false (a null array when
// a watched key changed).
func (s *Server) execCross(c *client, tx *txState, watched []watchedKey, write bool, results []resp.Reply) (resp.Reply, bool) {
	byShard := map[int]*xpart{}
	partOf := func(shard int) *xpart {
		p, ok := byShard[shard]
		if !ok {
			p = &xpart{shard: shard}
			byShard[shard] = p
		}
		return p
	}
	// Where each queued command's replies are: (shard, index) per part,
	// with split's parts for a command whose own keys span shards.
	type at struct{ shard, i int }
	placed := make([][]at, len(tx.queue))
	splits := make([][]part, len(tx.queue))
	var pos []int
	add := func(qi, shard int, args [][]byte, keyed *resp.Command) {
		p := partOf(shard)
		placed[qi] = append(placed[qi], at{shard, len(p.cmds)})
		p.cmds = append(p.cmds, args)
		pos = keyed.KeyPositions(pos[:0], len(args))
		for _, i := range pos {
			p.keys = append(p.keys, args[i])
		}
	}
	for qi, q := range tx.queue {
		switch {
		case !q.inBatch:
		case !q.spans:
			add(qi, q.shard, q.args, q.keyed)
		case q.cmd.Name == "mset" && len(q.args)%2 == 0:
			results[qi] = resp.ErrWrongArgs(q.cmd.Name).Reply() // as MSET answers it when run
		default:
			step := 1
			if q.cmd.Name == "mset" {
				step = 2
			}
			splits[qi] = s.split(q.args, step)
			for _, sp := range splits[qi] {
				add(qi, sp.shard, sp.args, q.keyed)
			}
		}
	}
	for _, w := range watched {
		p := partOf(w.shard)
		p.watched = append(p.watched, w.KeyVersion)
		p.keys = append(p.keys, w.Key)
	}
	spec := &xspec{dshard: -1, write: write, commitReplies: true}
	for shard := range byShard {
		spec.dshard = max(spec.dshard, shard)
	}
	d := byShard[spec.dshard]
	for shard, p := range byShard {
		if shard != spec.dshard {
			spec.parts = append(spec.parts, p)
		}
	}
	spec.decision = func([][]resp.Reply) (*xpart, resp.Reply, bool) { return d, resp.Reply{}, false }
	res, refusal, ok := s.xrun(c, spec)
	if !ok {
		return refusal, false
	}
	if res.status.Kind == resp.KindNullArray {
		return resp.NullArr, false // a watched key changed
	}
	replies := map[int][]resp.Reply{spec.dshard: res.replies}
	for i, p := range spec.parts {
		replies[p.shard] = res.commits[i]
	}
	for qi, q := range tx.queue {
		if len(placed[qi]) == 0 {
			continue
		}
		got := make([]resp.Reply, len(placed[qi]))
		for k, a := range placed[qi] {
			rs := replies[a.shard]
			if a.i >= len(rs) {
				return resp.ErrTxReplies.Reply(), false
			}
			got[k] = rs[a.i]
		}
		if splits[qi] == nil {
			results[qi] = shapeReply(c.proto, q.cmd, q.args, got[0])
		} else {
			results[qi] = mergeSplit(q.cmd, len(q.args), splits[qi], got)
		}
	}
	return resp.Reply{}, true
}

// splitInMulti reports whether a queued command whose keys span shards is
// split by shard inside a cross-shard EXEC, as outside one: each shard
// runs its part at its commit. Any other such command (RENAME, COPY,
// MSETNX, LCS) depends on values the transaction's earlier commands may
// change on another shard: the transaction then runs at the coordinator
// (xscratch.go).
func splitInMulti(cmd *resp.Command) bool {
	switch cmd.Name {
	case "del", "unlink", "exists", "touch", "mget", "mset":
		return true
	}
	return false
}

// mergeSplit puts together the replies of a split command's parts (one
// per part, in split's order) as the whole command answers: a count's
// sum, MGET's values in key order, MSET's OK.
func mergeSplit(cmd *resp.Command, argc int, parts []part, replies []resp.Reply) resp.Reply {
	for _, r := range replies {
		if r.IsError() {
			return r
		}
	}
	switch cmd.Name {
	case "mget":
		out := make([]resp.Reply, argc-1)
		for i, r := range replies {
			if r.Kind != resp.KindArray || len(r.Elems) != len(parts[i].pos) {
				return resp.ErrShardReply("MGET", parts[i].shard).Reply()
			}
			for j, p := range parts[i].pos {
				out[p] = r.Elems[j]
			}
		}
		return resp.Array(out...)
	case "mset":
		return resp.OK
	}
	var total int64
	for _, r := range replies {
		total += r.Int
	}
	return resp.Int(total)
}
