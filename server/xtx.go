package server

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// The coordinator of cross-shard transactions: the server that received
// the command runs the two-phase commit of cluster/DESIGN.md ("Cross-shard
// transactions") over the shards' Raft groups. It holds nothing that
// matters: every step is a log entry of a participant first, and a
// participant's leader resolves what a dead coordinator left (cluster's
// resolveLoop).
//
//  1. Prepare every participant but the decision shard, concurrently
//     (raftcache.xprepare: lock the keys, check WATCH, run the reads, keep
//     the commands). A lock conflict answers at once: abort what was
//     prepared, back off with jitter and start again under a new id —
//     no-wait locking cannot deadlock — until xtxPatience, then TRYAGAIN.
//  2. Decide on the decision shard, the participant of the highest number
//     (raftcache.xdecide: the same checks for its own keys, the decision,
//     and its own commands, in one entry — the commit point). Its part
//     may depend on the prepares' reads (RENAME's source record).
//  3. Commit the other participants (raftcache.xcommit, idempotent), and
//     then answer: EXEC's array holds their replies, and a key-less read
//     (KEYS, SCAN, DBSIZE), which no lock stops, sees all of the
//     transaction once its client has been answered. A keyed command on
//     a locked key waits (it is retried) until its shard commits, so no
//     reader sees the transaction half done.

const (
	// xtxTimeout is a transaction's deadline from its start: past it the
	// decision shard refuses to commit it, and past it (plus the
	// resolver's margin) participants resolve it without the coordinator.
	xtxTimeout = 5 * time.Second
	// xtxPatience is how long a transaction is retried after lock
	// conflicts, and a command waits for a locked key, before TRYAGAIN.
	xtxPatience = time.Second
	// maxForget bounds the finished transactions one decide carries.
	maxForget = 256
)

// xpart is one participant's share of a transaction.
type xpart struct {
	shard   int
	keys    [][]byte
	watched []store.KeyVersion
	absent  [][]byte
	reads   [][][]byte
	cmds    [][][]byte
	// writes, on the decision shard's part: the other participants'
	// commands the coordinator computed after preparing them, decided
	// with the transaction (store.XTx.Writes).
	writes map[int][][][]byte
}

// xspec is a cross-shard transaction to run.
type xspec struct {
	// parts are prepared first, concurrently. One may be on dshard: its
	// record's locks are then released by the decision.
	parts  []*xpart
	dshard int
	// decision builds the decision shard's part from the parts' prepare
	// reads (one slice per part); stop ends the transaction, aborted,
	// with reply.
	decision func(reads [][]resp.Reply) (d *xpart, reply resp.Reply, stop bool)
	// write: the transaction may write (WAIT counts its shards).
	write bool
	// commitReplies: the caller answers with the participants' commit
	// replies (EXEC), not only the decision shard's.
	commitReplies bool
}

// xresult is how a transaction ended.
type xresult struct {
	// status is XCommitted, XExists (a key that had to be absent exists)
	// or, for a watched key that changed, resp.NullArr.
	status resp.Reply
	// reads and replies are the decision shard's; commits the parts'
	// commit replies.
	reads, replies []resp.Reply
	commits        [][]resp.Reply
}

func (r *xresult) committed() bool { return isStatus(r.status, store.XCommitted) }

// xcoord is the server's coordinator state.
type xcoord struct {
	prefix string // unique to this process: ids never repeat across restarts
	next   atomic.Uint64
	// forget holds, per decision shard, finished transactions the next
	// decide there may drop.
	mu     sync.Mutex
	forget map[int][][]byte
	// crashStep and crashAt: the test failpoint (RAFTCACHE_XTX_CRASH).
	crashStep string
	crashAt   uint64
	started   atomic.Uint64
	stats     xstats
}

// xstats counts cross-shard transactions for INFO stats and metrics.
type xstats struct {
	committed, aborted, conflicts, tryagain atomic.Int64
}

func (x *xstats) snapshot() CrossShardStats {
	return CrossShardStats{Committed: x.committed.Load(), Aborted: x.aborted.Load(),
		Conflicts: x.conflicts.Load(), TryAgain: x.tryagain.Load()}
}

func newXCoord(log *zap.Logger) *xcoord {
	var b [6]byte
	_, _ = crand.Read(b[:])
	x := &xcoord{prefix: hex.EncodeToString(b[:]) + "-", forget: map[int][][]byte{}}
	if v := os.Getenv("RAFTCACHE_XTX_CRASH"); v != "" {
		step, n, _ := strings.Cut(v, ":")
		at, err := strconv.ParseUint(n, 10, 64)
		if err != nil || at == 0 {
			at = 1
		}
		x.crashStep, x.crashAt = step, at
		log.Warn("test failpoint armed: this process kills itself during a cross-shard transaction",
			zap.String("step", step), zap.Uint64("transaction", at))
	}
	return x
}

// failpoint kills the process at step of the armed transaction (n, the
// transaction's number): the fault tests' coordinator crash.
func (x *xcoord) failpoint(n uint64, step string) {
	if x.crashStep == step && x.crashAt == n {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns
	}
}

func (x *xcoord) newID() []byte {
	return strconv.AppendUint([]byte(x.prefix), x.next.Add(1), 10)
}

func (x *xcoord) takeForget(shard int) [][]byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	ids := x.forget[shard]
	n := min(len(ids), maxForget)
	out := ids[:n:n]
	x.forget[shard] = ids[n:]
	return out
}

func (x *xcoord) addForget(shard int, id []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.forget[shard]) < 16*maxForget { // bounded: the rest age out
		x.forget[shard] = append(x.forget[shard], id)
	}
}

// backoff sleeps a jittered, growing time before attempt.
func backoff(attempt int) {
	ceil := time.Millisecond << min(attempt, 5)
	time.Sleep(time.Duration(rand.Int64N(int64(ceil))) + 200*time.Microsecond)
}

func isStatus(r, status resp.Reply) bool {
	return r.Kind == resp.KindSimple && string(r.Str) == string(status.Str)
}

// xrun runs a cross-shard transaction. It returns the result, or an error
// reply (TRYAGAIN after xtxPatience of conflicts, a backend error, or
// the reply a decision function stopped with).
func (s *Server) xrun(c *client, spec *xspec) (res xresult, refusal resp.Reply, ok bool) {
	x := s.xtx
	n := x.started.Add(1)
	giveUp := time.Now().Add(xtxPatience)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if time.Now().After(giveUp) {
				x.stats.tryagain.Add(1)
				return res, resp.ErrTryAgainLocked.Reply(), false
			}
			x.stats.conflicts.Add(1)
			backoff(attempt)
		}
		id := x.newID()
		deadline := time.Now().Add(xtxTimeout).UnixMilli()
		// 1. Prepare.
		preps := make([]resp.Reply, len(spec.parts))
		errs := make([]error, len(spec.parts))
		var wg sync.WaitGroup
		for i, p := range spec.parts {
			t := &store.XTx{ID: id, Deadline: deadline, DecisionShard: spec.dshard, Keys: p.keys,
				Watched: p.watched, Reads: p.reads, Cmds: p.cmds}
			wg.Go(func() {
				rs, err := s.backend.Propose(s.ctx, p.shard, [][][]byte{store.XPrepareArgs(t)})
				if err == nil {
					preps[i] = rs[0]
				}
				errs[i] = err
			})
		}
		wg.Wait()
		reads := make([][]resp.Reply, len(spec.parts))
		retry, watchFailed := false, false
		var failure resp.Reply
		for i, r := range preps {
			switch {
			case errs[i] != nil:
				failure = s.backendError(errs[i], 0)
			case store.IsLocked(r), isStatus(r, store.XAborted):
				retry = true
			case r.Kind == resp.KindNullArray:
				watchFailed = true
			case r.Kind != resp.KindArray:
				failure = r
			default:
				reads[i] = r.Elems
			}
		}
		if failure.Kind != 0 || retry || watchFailed {
			s.xabortAll(id, spec.parts)
			switch {
			case failure.Kind != 0:
				return res, failure, false
			case watchFailed:
				x.stats.aborted.Add(1)
				return xresult{status: resp.NullArr}, resp.Reply{}, true
			}
			continue
		}
		x.failpoint(n, "after-prepare")
		// 2. Decide.
		d, reply, stop := spec.decision(reads)
		if stop {
			x.stats.aborted.Add(1)
			s.xabortAll(id, spec.parts)
			return res, reply, false
		}
		t := &store.XTx{ID: id, Deadline: deadline, DecisionShard: spec.dshard, Keys: d.keys,
			Watched: d.watched, Absent: d.absent, Reads: d.reads, Cmds: d.cmds, Forget: x.takeForget(spec.dshard)}
		for shard, cmds := range d.writes {
			for _, c := range cmds {
				t.Writes = append(t.Writes, store.XWrite{Shard: shard, Cmd: c})
			}
		}
		r, err := s.xdecide(t, spec.dshard)
		if err != nil {
			// The outcome is unknown: the participants' leaders resolve
			// it with the decision shard once the deadline has passed.
			return res, s.backendError(err, 0), false
		}
		switch {
		case store.IsLocked(r):
			s.xabortAll(id, spec.parts)
			continue
		case r.Kind == resp.KindNullArray:
			x.stats.aborted.Add(1)
			s.xabortAll(id, spec.parts)
			return xresult{status: resp.NullArr}, resp.Reply{}, true
		case r.Kind != resp.KindArray || len(r.Elems) != 3 || r.Elems[0].Kind != resp.KindSimple:
			s.xabortAll(id, spec.parts)
			if r.IsError() {
				return res, r, false
			}
			return res, resp.ErrTxReplies.Reply(), false
		case isStatus(r.Elems[0], store.XAborted):
			// Past the deadline, or a resolver decided first: start over.
			s.xabortAll(id, spec.parts)
			continue
		}
		res = xresult{status: r.Elems[0], reads: r.Elems[1].Elems, replies: r.Elems[2].Elems}
		if !res.committed() {
			x.stats.aborted.Add(1)
			s.xabortAll(id, spec.parts)
			return res, resp.Reply{}, true
		}
		x.stats.committed.Add(1)
		x.failpoint(n, "after-decide")
		if spec.write {
			c.markWrote(spec.dshard)
			for _, p := range spec.parts {
				c.markWrote(p.shard)
			}
		}
		// 3. Commit the others. The reply waits for them: a key-less
		// read (KEYS, SCAN, DBSIZE) takes no lock, and must see the
		// whole transaction once its client has been answered.
		res.commits = make([][]resp.Reply, len(spec.parts))
		if !s.xcommitAll(id, spec, d.writes, res.commits, n) {
			// Committed — the decision is recorded, and the shards'
			// leaders finish what is left — but a participant's replies
			// are unknown: only a caller that needs them cannot answer.
			if spec.commitReplies {
				return res, resp.ErrUnknownOutcome.Reply(), false
			}
			return res, resp.Reply{}, true
		}
		x.addForget(spec.dshard, id)
		return res, resp.Reply{}, true
	}
}

// xdecide proposes the decision entry, again while its outcome is
// unknown (a leader change): the entry is idempotent — the first
// decision recorded is the one every later decide answers.
func (s *Server) xdecide(t *store.XTx, shard int) (resp.Reply, error) {
	args := store.XDecideArgs(t)
	until := time.UnixMilli(t.Deadline)
	for attempt := 0; ; attempt++ {
		rs, err := s.backend.Propose(s.ctx, shard, [][][]byte{args})
		if err == nil {
			return rs[0], nil
		}
		if s.ctx.Err() != nil || time.Now().After(until) {
			return resp.Reply{}, err
		}
		backoff(attempt + 3)
	}
}

// xcommitAll commits every part but the decision shard's (its decision
// committed it), with the writes the decision holds for it, and stores its
// replies in out; false when a commit could not be confirmed before the
// deadline's end (the shard's leader then finishes it).
func (s *Server) xcommitAll(id []byte, spec *xspec, writes map[int][][][]byte, out [][]resp.Reply, n uint64) bool {
	var wg sync.WaitGroup
	var failed atomic.Bool
	var first atomic.Bool
	for i, p := range spec.parts {
		if p.shard == spec.dshard {
			continue
		}
		wg.Go(func() {
			r, ok := s.xfinishOne(id, p.shard, store.XCommitArgs(id, writes[p.shard]))
			if !ok || r.Kind != resp.KindArray {
				failed.Store(true)
				return
			}
			out[i] = r.Elems
			if first.CompareAndSwap(false, true) {
				s.xtx.failpoint(n, "after-commit-one")
			}
		})
	}
	wg.Wait()
	return !failed.Load()
}

// xabortAll aborts every part, concurrently. A part that cannot be
// reached keeps its record until its leader resolves it.
func (s *Server) xabortAll(id []byte, parts []*xpart) {
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Go(func() { s.xfinishOne(id, p.shard, store.XTxArgs(store.CmdXAbort, id)) })
	}
	wg.Wait()
}

// xfinishOne proposes a part's commit or abort until it is applied or
// the transaction's deadline, plus the resolver's margin, has passed;
// after that its shard's leader has it in hand.
func (s *Server) xfinishOne(id []byte, shard int, args [][]byte) (resp.Reply, bool) {
	until := time.Now().Add(xtxTimeout)
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(s.ctx, xtxTimeout)
		rs, err := s.backend.Propose(ctx, shard, [][][]byte{args})
		cancel()
		if err == nil {
			return rs[0], !rs[0].IsError()
		}
		if s.ctx.Err() != nil || time.Now().After(until) {
			s.log.Warn("cross-shard transaction step not confirmed; the shard's leader will resolve it",
				zap.ByteString("txid", id), zap.Int("shard", shard), zap.ByteString("step", args[0]), zap.Error(err))
			return resp.Reply{}, false
		}
		backoff(attempt + 3)
	}
}

// lockWait paces the retries of a command that met a locked key.
type lockWait struct {
	start time.Time
	n     int
}

// again sleeps before the next try and reports whether to make it.
func (w *lockWait) again(x *xcoord) bool {
	if w.start.IsZero() {
		w.start = time.Now()
	}
	if time.Since(w.start) > xtxPatience {
		x.stats.tryagain.Add(1)
		return false
	}
	backoff(w.n)
	w.n++
	return true
}

// unlocked returns r, or TRYAGAIN for a reply that says a key was locked
// (the caller gave up waiting).
func unlocked(r resp.Reply) resp.Reply {
	if store.IsLocked(r) {
		return resp.ErrTryAgainLocked.Reply()
	}
	return r
}
