package store

import (
	"encoding/binary"
	"errors"
	"slices"
	"strconv"

	"github.com/raftcache/raftcache/resp"
)

// Cross-shard transactions: the participant's and the decision shard's
// part of the two-phase commit described in cluster/DESIGN.md ("Cross-shard
// transactions"). Everything here is replicated state, applied in log
// order and carried by snapshots, so that every replica of a shard — and
// any later leader — holds the same locks, records and decisions.
//
//   - CmdXPrepare (a participant that is not the decision shard): checks
//     that no key is locked by another transaction and that the watched
//     keys are unchanged, runs the reads, locks the keys and keeps the
//     commands to run at commit. A conflict answers at once (no waiting
//     inside a log entry): no-wait locking cannot deadlock.
//   - CmdXDecide (the decision shard, the commit point): the same checks
//     and reads for its own keys, plus "these keys must be absent"; on
//     success the decision "commit" is recorded and the shard's own
//     commands run in the same entry; on any failure "abort" is recorded.
//     The first decision recorded for a transaction is the only one: a
//     resolver that got there first (CmdXResolve) makes a late CmdXDecide
//     answer abort, and a CmdXDecide after the transaction's deadline is
//     refused, so that an abort need not be remembered past the deadline.
//   - CmdXCommit / CmdXAbort (a participant): run the kept commands and
//     release the locks / release them. Both are idempotent.
//   - CmdXResolve (the decision shard): the decision, recording abort when
//     there is none — what a participant's leader asks about a
//     transaction whose coordinator went quiet past its deadline.
//
// Every other command that names a locked key — a read or a write, on the
// write path or the read path — is not run: it answers ErrLocked, and the
// server retries it briefly (a commit follows its decision within a round
// trip) before answering TRYAGAIN.

func init() {
	registerInternal(CmdXPrepare, true, cmdXPrepare)
	registerInternal(CmdXDecide, true, cmdXDecide)
	registerInternal(CmdXCommit, true, func(x exec, a [][]byte) resp.Reply { return x.xfinish(a, true) })
	registerInternal(CmdXAbort, true, func(x exec, a [][]byte) resp.Reply { return x.xfinish(a, false) })
	registerInternal(CmdXResolve, true, cmdXResolve)
	registerInternal(CmdXPending, false, cmdXPending)
}

// The internal commands of cross-shard transactions (see above); build
// their arguments with XPrepareArgs, XDecideArgs and XTxArgs.
const (
	CmdXPrepare = "raftcache.xprepare"
	CmdXDecide  = "raftcache.xdecide"
	CmdXCommit  = "raftcache.xcommit"
	CmdXAbort   = "raftcache.xabort"
	CmdXResolve = "raftcache.xresolve"
	CmdXPending = "raftcache.xpending"
)

// ErrLocked is the reply to a command that names a key a cross-shard
// transaction holds. It never reaches a client: the server retries the
// command and answers TRYAGAIN if the lock outlives its patience.
var ErrLocked = resp.NewError("LOCKED a cross-shard transaction holds a key of this command")

// IsLocked reports whether r is ErrLocked's reply.
func IsLocked(r resp.Reply) bool {
	return r.Kind == resp.KindError && len(r.Str) >= 6 && string(r.Str[:6]) == "LOCKED"
}

// Replies of CmdXDecide and CmdXResolve: the decision.
var (
	XCommitted = resp.Simple("COMMIT")
	XAborted   = resp.Simple("ABORT")
	// XExists: CmdXDecide aborted because a key that had to be absent
	// exists.
	XExists = resp.Simple("EXISTS")
	// XUnknown: a transaction older than the decision shard remembers
	// commits (xtxRetention); its resolver must not guess.
	XUnknown = resp.Simple("UNKNOWN")
)

// xtxRetention is how long, in log time past its deadline, a decision
// shard remembers a commit that no coordinator said it may forget. A
// participant group that cannot commit anything for longer than this while
// it holds a prepared record gets XUnknown when it finally asks, and keeps
// the record's locks (an operator's matter) rather than guess.
const xtxRetention = 10 * 60 * 1000

// xtxReplyRetention is how long, in log time past the deadline, a
// participant keeps a committed transaction's replies for a coordinator
// that sends the commit again (its first attempt's answer was lost).
const xtxReplyRetention = 10 * 1000

// XTx is one shard's part of a cross-shard transaction, as the
// coordinator sends it.
type XTx struct {
	ID       []byte
	Deadline int64 // Unix ms, log time
	// DecisionShard is where CmdXResolve asks (participants only).
	DecisionShard int
	// Keys are locked (participants) or checked for locks (decision).
	Keys    [][]byte
	Watched []KeyVersion
	// Absent keys must not exist for the decision to commit (decision
	// shard only): MSETNX, RENAMENX, COPY without REPLACE.
	Absent [][]byte
	// Reads run at prepare (or decide), under the lock; Cmds at commit.
	Reads, Cmds [][][]byte
	// Forget lists transactions whose every participant has finished:
	// the decision shard drops their decisions (CmdXDecide only).
	Forget [][]byte
	// Writes are the other participants' commands, decided with the
	// transaction (CmdXDecide only): the coordinator computed them after
	// every participant was prepared, so they are not in the participants'
	// records, and the decision shard keeps them with a commit for the
	// participants' resolvers (CmdXResolve) and commits (CmdXCommit).
	Writes []XWrite
}

// XWrite is a command one participant runs at its commit.
type XWrite struct {
	Shard int
	Cmd   [][]byte
}

// XPrepareArgs returns the arguments of a CmdXPrepare of t.
func XPrepareArgs(t *XTx) [][]byte { return t.args(CmdXPrepare) }

// XDecideArgs returns the arguments of a CmdXDecide of t.
func XDecideArgs(t *XTx) [][]byte { return t.args(CmdXDecide) }

// XTxArgs returns the arguments of CmdXCommit or CmdXAbort (cmd) for the
// transaction id.
func XTxArgs(cmd string, id []byte) [][]byte { return [][]byte{[]byte(cmd), id} }

// XCommitArgs returns the arguments of a CmdXCommit of the transaction id
// that also runs writes (the participant's XWrite commands).
func XCommitArgs(id []byte, writes [][][]byte) [][]byte {
	out := XTxArgs(CmdXCommit, id)
	for _, w := range writes {
		out = append(out, encodeCmd(w))
	}
	return out
}

func (t *XTx) args(cmd string) [][]byte {
	out := [][]byte{[]byte(cmd), t.ID, strconv.AppendInt(nil, t.Deadline, 10),
		strconv.AppendInt(nil, int64(t.DecisionShard), 10)}
	out = appendList(out, t.Keys)
	out = append(out, strconv.AppendInt(nil, int64(len(t.Watched)), 10))
	for _, w := range t.Watched {
		out = append(out, w.Key, strconv.AppendUint(nil, w.Version, 10), strconv.AppendUint(nil, w.Seq, 10))
	}
	out = appendList(out, t.Absent)
	out = append(out, strconv.AppendInt(nil, int64(len(t.Reads)), 10))
	for _, c := range t.Reads {
		out = append(out, encodeCmd(c))
	}
	out = append(out, strconv.AppendInt(nil, int64(len(t.Cmds)), 10))
	for _, c := range t.Cmds {
		out = append(out, encodeCmd(c))
	}
	out = appendList(out, t.Forget)
	out = append(out, strconv.AppendInt(nil, int64(len(t.Writes)), 10))
	for _, w := range t.Writes {
		out = append(out, strconv.AppendInt(nil, int64(w.Shard), 10), encodeCmd(w.Cmd))
	}
	return out
}

func appendList(out [][]byte, l [][]byte) [][]byte {
	out = append(out, strconv.AppendInt(nil, int64(len(l)), 10))
	return append(out, l...)
}

// encodeCmd packs a command into one argument: count, then each
// argument's length and bytes (uvarints).
func encodeCmd(args [][]byte) []byte {
	n := binary.MaxVarintLen64
	for _, a := range args {
		n += len(a) + binary.MaxVarintLen64
	}
	b := binary.AppendUvarint(make([]byte, 0, n), uint64(len(args)))
	for _, a := range args {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

var errBadCmd = errors.New("malformed packed command")

// decodeCmd unpacks encodeCmd's argument; the arguments alias b.
func decodeCmd(b []byte) ([][]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n == 0 || n > uint64(len(b)) {
		return nil, errBadCmd
	}
	b = b[k:]
	args := make([][]byte, n)
	for i := range args {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errBadCmd
		}
		args[i] = b[k : k+int(l) : k+int(l)]
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, errBadCmd
	}
	return args, nil
}

// parseXTx reads XTx.args back; every argument is copied.
func parseXTx(a [][]byte) (*XTx, bool) {
	p := argParser{a: a, i: 1, ok: true}
	t := &XTx{ID: p.bytes()}
	t.Deadline = p.int()
	t.DecisionShard = int(p.int())
	t.Keys = p.list()
	nw := p.count(3)
	for range nw {
		key := p.bytes()
		v, s := p.uint(), p.uint()
		t.Watched = append(t.Watched, KeyVersion{Key: key, Version: v, Seq: s})
	}
	t.Absent = p.list()
	t.Reads = p.cmds()
	t.Cmds = p.cmds()
	t.Forget = p.list()
	nw = p.count(2)
	for range nw {
		shard := p.int()
		c, err := decodeCmd(p.bytes())
		if err != nil || shard < 0 {
			return nil, false
		}
		t.Writes = append(t.Writes, XWrite{Shard: int(shard), Cmd: c})
	}
	return t, p.ok && p.i == len(a) && len(t.ID) > 0
}

// argParser reads the arguments of XTx.args, noting the first fault.
type argParser struct {
	a  [][]byte
	i  int
	ok bool
}

func (p *argParser) next() []byte {
	if p.i >= len(p.a) {
		p.ok = false
		return nil
	}
	p.i++
	return p.a[p.i-1]
}

func (p *argParser) bytes() []byte { return slices.Clone(p.next()) }

func (p *argParser) int() int64 {
	n, err := strconv.ParseInt(string(p.next()), 10, 64)
	if err != nil {
		p.ok = false
	}
	return n
}

func (p *argParser) uint() uint64 {
	n, err := strconv.ParseUint(string(p.next()), 10, 64)
	if err != nil {
		p.ok = false
	}
	return n
}

// count reads a count of items of width arguments each, refusing one
// the remaining arguments cannot hold.
func (p *argParser) count(width int) int {
	n := p.int()
	if n < 0 || n*int64(width) > int64(len(p.a)-p.i) {
		p.ok = false
		return 0
	}
	return int(n)
}

func (p *argParser) list() [][]byte {
	n := p.count(1)
	out := make([][]byte, 0, n)
	for range n {
		out = append(out, p.bytes())
	}
	return out
}

func (p *argParser) cmds() [][][]byte {
	n := p.count(1)
	out := make([][][]byte, 0, n)
	for range n {
		c, err := decodeCmd(p.bytes())
		if err != nil {
			p.ok = false
			return nil
		}
		out = append(out, c)
	}
	return out
}

// xtxState is a store's cross-shard transaction state.
type xtxState struct {
	// locks maps a locked key to the transaction holding it.
	locks map[string]string
	// recs are the prepared transactions awaiting their decision.
	recs map[string]*xtxRec
	// outcomes are decisions (decision shard) and finished transactions
	// (participant: their commit replies, for a commit sent again), each
	// kept until its log time; nextPrune is when prune looks again.
	outcomes  map[string]*xtxOutcome
	nextPrune int64
}

type xtxRec struct {
	deadline int64
	dshard   int
	keys     [][]byte
	cmds     [][][]byte
}

type xtxOutcome struct {
	commit  bool
	until   int64 // log time after which it may be dropped
	replies []resp.Reply
	writes  []XWrite // a decision's writes for the other participants
}

// xstate is the store's transaction state, ready for a command of it at
// x.now: made on first use, outcomes whose time has come dropped.
func (x *exec) xstate() *xtxState {
	st := &x.s.xtx
	st.init()
	st.prune(x.now)
	return st
}

func (st *xtxState) init() {
	if st.locks == nil {
		st.locks = map[string]string{}
		st.recs = map[string]*xtxRec{}
		st.outcomes = map[string]*xtxOutcome{}
	}
}

// keep records an outcome of id until the log time o.until.
func (st *xtxState) keep(id string, o *xtxOutcome) { st.outcomes[id] = o }

// pruneEvery is how often, in log time, prune walks the outcomes.
const pruneEvery = 1000

// prune drops the outcomes whose time has come at now, walking them all
// at most once per pruneEvery of log time: the outcomes kept are those of
// the last seconds' transactions (and of commits no coordinator said to
// forget), and one walk a second costs less than keeping them in order.
// Every replica prunes at the same entries, as log time is replicated.
func (st *xtxState) prune(now int64) {
	if now < st.nextPrune {
		return
	}
	st.nextPrune = now + pruneEvery
	for id, o := range st.outcomes {
		if o.until < now {
			delete(st.outcomes, id)
		}
	}
}

// lockedBy returns the transaction holding one of keys other than own,
// if any.
func (st *xtxState) lockedBy(keys [][]byte, own string) (string, bool) {
	for _, k := range keys {
		if id, ok := st.locks[string(k)]; ok && id != own {
			return id, true
		}
	}
	return "", false
}

// locked reports whether a command (args) names a key that a cross-shard
// transaction holds. Only called while some key is locked.
func (st *xtxState) locked(args [][]byte) bool {
	name := args[0]
	if cmd := resp.Lookup(name); cmd != nil {
		keyed := cmd
		if cmd.Subcommands != nil && len(args) > 1 {
			if sub := cmd.LookupSub(args[1]); sub != nil && sub.FirstKey > 0 {
				keyed = sub
			}
		}
		var buf [8]int
		for _, i := range keyed.KeyPositions(buf[:0], len(args)) {
			if _, ok := st.locks[string(args[i])]; ok {
				return true
			}
		}
		return false
	}
	if resp.EqualFold(name, CmdVersion) {
		_, ok := st.lockedBy(args[1:], "")
		return ok
	}
	return false
}

// lockedAt reports whether cmds[i] names a locked key; for a CmdTx guard,
// whether it or a command it governs does, and then also how many
// commands it governs (they are not run either).
func (st *xtxState) lockedAt(cmds [][][]byte, i int) (governed int, locked bool) {
	args := cmds[i]
	if !resp.EqualFold(args[0], CmdTx) {
		return 0, st.locked(args)
	}
	if len(args) < 2 {
		return 0, false // the guard refuses it itself
	}
	n, err := strconv.ParseUint(string(args[1]), 10, 31)
	if err != nil {
		return 0, false
	}
	governed = min(int(n), len(cmds)-1-i)
	return governed, st.lockedTx(args, cmds[i+1:i+1+governed])
}

// lockedTx reports whether a CmdTx guard (args) or the n commands it
// governs (cmds) name a locked key.
func (st *xtxState) lockedTx(args [][]byte, cmds [][][]byte) bool {
	for i := 2; i+2 < len(args); i += 3 {
		if _, ok := st.locks[string(args[i])]; ok {
			return true
		}
	}
	for _, c := range cmds {
		if st.locked(c) {
			return true
		}
	}
	return false
}

// unchanged reports whether the watched keys are as CmdVersion reported.
func (x *exec) unchanged(watched []KeyVersion) bool {
	for _, w := range watched {
		if !x.keyUnchanged(w.Key, w.Version, w.Seq) {
			return false
		}
	}
	return true
}

// runAll runs cmds as the transaction's own (locks do not apply to them)
// and returns their replies. A read-only part refuses writes.
func (x *exec) runAll(cmds [][][]byte, readOnly bool) []resp.Reply {
	out := make([]resp.Reply, len(cmds))
	for i, c := range cmds {
		h, ok := lookupHandler(c[0])
		switch {
		case !ok:
			out[i] = resp.ErrUnknownCommand(c).Reply()
		case readOnly && h.write:
			out[i] = resp.ErrWriteOnReadPath(c[0]).Reply()
		default:
			x.s.stamped = false
			out[i] = h.fn(*x, c)
		}
	}
	x.s.stamped = false
	return out
}

func cmdXPrepare(x exec, a [][]byte) resp.Reply {
	t, ok := parseXTx(a)
	if !ok {
		return resp.ErrInternalArgs(CmdXPrepare).Reply()
	}
	st := x.xstate()
	id := string(t.ID)
	if o, done := st.outcomes[id]; done && !o.commit {
		return XAborted // resolved before this prepare arrived
	}
	if _, again := st.recs[id]; !again {
		if _, held := st.lockedBy(t.Keys, id); held {
			return ErrLocked.Reply()
		}
		if !x.unchanged(t.Watched) {
			return resp.NullArr
		}
		for _, k := range t.Keys {
			st.locks[string(k)] = id
		}
		st.recs[id] = &xtxRec{deadline: t.Deadline, dshard: t.DecisionShard, keys: t.Keys, cmds: t.Cmds}
	}
	return resp.Array(x.runAll(t.Reads, true)...)
}

// cmdXDecide is the commit point. It answers [decision, reads, replies]:
// COMMIT with the reads' and the commands' replies, EXISTS (abort) with
// the reads when a key that had to be absent exists, or ABORT when the
// decision was abort already or the deadline has passed — or, for a lock
// held by another transaction or a watched key that changed, ErrLocked or
// a null array, with abort recorded. When the decision shard was prepared
// too (its record holds its keys' locks), the decision releases them, and
// a commit runs the record's commands before the decide's own.
func cmdXDecide(x exec, a [][]byte) resp.Reply {
	t, ok := parseXTx(a)
	if !ok {
		return resp.ErrInternalArgs(CmdXDecide).Reply()
	}
	st := x.xstate()
	for _, f := range t.Forget {
		if o, ok := st.outcomes[string(f)]; ok && o.commit {
			delete(st.outcomes, string(f))
		}
	}
	id := string(t.ID)
	if o, done := st.outcomes[id]; done {
		if o.commit {
			return resp.Array(XCommitted, resp.Array(o.replies[:len(t.Reads)]...),
				resp.Array(o.replies[len(t.Reads):]...))
		}
		return resp.Array(XAborted, resp.EmptyArr, resp.EmptyArr)
	}
	own := st.recs[id]
	abort := func(r resp.Reply) resp.Reply {
		st.release(id, own)
		st.keep(id, &xtxOutcome{until: max(t.Deadline, x.now)})
		return r
	}
	if x.now > t.Deadline {
		return abort(resp.Array(XAborted, resp.EmptyArr, resp.EmptyArr))
	}
	if _, held := st.lockedBy(t.Keys, id); held {
		return abort(ErrLocked.Reply())
	}
	if !x.unchanged(t.Watched) {
		return abort(resp.NullArr)
	}
	reads := x.runAll(t.Reads, true)
	for _, k := range t.Absent {
		if _, exists := x.lookup(k); exists {
			return abort(resp.Array(XExists, resp.Array(reads...), resp.EmptyArr))
		}
	}
	st.release(id, own)
	cmds := t.Cmds
	if own != nil {
		cmds = append(slices.Clip(own.cmds), cmds...)
	}
	replies := x.runAll(cmds, false)
	st.keep(id, &xtxOutcome{commit: true, until: t.Deadline + xtxRetention,
		replies: append(reads, replies...), writes: t.Writes})
	return resp.Array(XCommitted, resp.Array(reads...), resp.Array(replies...))
}

// release drops the record rec (nil: none) of the transaction id and the
// locks it holds.
func (st *xtxState) release(id string, rec *xtxRec) {
	if rec == nil {
		return
	}
	for _, k := range rec.keys {
		if st.locks[string(k)] == id {
			delete(st.locks, string(k))
		}
	}
	delete(st.recs, id)
}

// xfinish is CmdXCommit (commit) and CmdXAbort. Commit answers the kept
// commands' replies; a commit sent again answers them again while the
// outcome is kept; a commit of a transaction with no record and no
// outcome is an error.
func (x *exec) xfinish(a [][]byte, commit bool) resp.Reply {
	if len(a) < 2 || !commit && len(a) != 2 {
		return resp.ErrInternalArgs(string(a[0])).Reply()
	}
	// A commit may carry the participant's writes that the decision
	// holds (XWrite), run after the commands kept at prepare.
	var writes [][][]byte
	for _, b := range a[2:] {
		c, err := decodeCmd(b)
		if err != nil {
			return resp.ErrInternalArgs(string(a[0])).Reply()
		}
		writes = append(writes, slices.Clone(c))
	}
	st := x.xstate()
	id := string(a[1])
	rec, ok := st.recs[id]
	if !ok {
		if o, done := st.outcomes[id]; done && o.commit == commit {
			if commit {
				return resp.Array(o.replies...)
			}
			return resp.OK
		}
		if commit {
			return resp.NewError("ERR no prepared cross-shard transaction " + id).Reply()
		}
		return resp.OK
	}
	st.release(id, rec)
	o := &xtxOutcome{commit: commit, until: max(rec.deadline, x.now) + xtxReplyRetention}
	if commit {
		o.replies = x.runAll(append(slices.Clip(rec.cmds), writes...), false)
	}
	st.keep(id, o)
	if commit {
		return resp.Array(o.replies...)
	}
	return resp.OK
}

// cmdXResolve answers [decision, writes]: the decision, recording abort
// when there is none, and with a commit the writes the decision holds for
// the asking participant's shard (as CmdXCommit takes them).
func cmdXResolve(x exec, a [][]byte) resp.Reply {
	if len(a) != 4 {
		return resp.ErrInternalArgs(CmdXResolve).Reply()
	}
	deadline, err1 := strconv.ParseInt(string(a[2]), 10, 64)
	shard, err2 := strconv.Atoi(string(a[3]))
	if err1 != nil || err2 != nil {
		return resp.ErrInternalArgs(CmdXResolve).Reply()
	}
	st := x.xstate()
	id := string(a[1])
	if o, done := st.outcomes[id]; done {
		if !o.commit {
			return resp.Array(XAborted, resp.EmptyArr)
		}
		var writes []resp.Reply
		for _, w := range o.writes {
			if w.Shard == shard {
				writes = append(writes, resp.Bulk(encodeCmd(w.Cmd)))
			}
		}
		return resp.Array(XCommitted, resp.Array(writes...))
	}
	if x.now > deadline+xtxRetention {
		return resp.Array(XUnknown, resp.EmptyArr)
	}
	st.keep(id, &xtxOutcome{until: max(deadline, x.now)})
	return resp.Array(XAborted, resp.EmptyArr)
}

// XResolveArgs returns the arguments of a CmdXResolve, asked by the
// participant shard, of a transaction whose deadline was deadline.
func XResolveArgs(id []byte, deadline int64, shard int) [][]byte {
	return [][]byte{[]byte(CmdXResolve), id, strconv.AppendInt(nil, deadline, 10), strconv.AppendInt(nil, int64(shard), 10)}
}

// ParseXResolve decodes a CmdXResolve reply: the decision (the text of
// XCommitted, XAborted or XUnknown) and, with a commit, the CmdXCommit
// arguments that finish the transaction on the asking shard.
func ParseXResolve(id []byte, r resp.Reply) (decision string, commit [][]byte, err error) {
	if r.Kind != resp.KindArray || len(r.Elems) != 2 || r.Elems[0].Kind != resp.KindSimple || r.Elems[1].Kind != resp.KindArray {
		return "", nil, errors.New("store: malformed " + CmdXResolve + " reply")
	}
	commit = XTxArgs(CmdXCommit, id)
	for _, w := range r.Elems[1].Elems {
		commit = append(commit, w.Str)
	}
	return string(r.Elems[0].Str), commit, nil
}

// XPending is a prepared transaction past its deadline.
type XPending struct {
	ID            []byte
	Deadline      int64
	DecisionShard int
}

// cmdXPending lists the prepared transactions whose deadline is before
// args[1] (Unix ms) as [id, deadline, decision shard] arrays.
func cmdXPending(x exec, a [][]byte) resp.Reply {
	if len(a) != 2 {
		return resp.ErrInternalArgs(CmdXPending).Reply()
	}
	before, err := strconv.ParseInt(string(a[1]), 10, 64)
	if err != nil {
		return resp.ErrInternalArgs(CmdXPending).Reply()
	}
	var out []resp.Reply
	for id, r := range x.s.xtx.recs {
		if r.deadline < before {
			out = append(out, resp.Array(resp.BulkString(id), resp.Int(r.deadline), resp.Int(int64(r.dshard))))
		}
	}
	return resp.Reply{Kind: resp.KindArray, Elems: out}
}

// XPendingArgs returns the arguments of a CmdXPending read.
func XPendingArgs(before int64) [][]byte {
	return [][]byte{[]byte(CmdXPending), strconv.AppendInt(nil, before, 10)}
}

// ParseXPending decodes a CmdXPending reply.
func ParseXPending(r resp.Reply) ([]XPending, error) {
	if r.Kind != resp.KindArray {
		return nil, errors.New("store: malformed " + CmdXPending + " reply")
	}
	out := make([]XPending, 0, len(r.Elems))
	for _, e := range r.Elems {
		if e.Kind != resp.KindArray || len(e.Elems) != 3 || e.Elems[0].Kind != resp.KindBulk {
			return nil, errors.New("store: malformed " + CmdXPending + " reply")
		}
		out = append(out, XPending{ID: e.Elems[0].Str, Deadline: e.Elems[1].Int, DecisionShard: int(e.Elems[2].Int)})
	}
	return out, nil
}

// HasXRecords reports whether a cross-shard transaction is prepared on
// the store and awaits its decision.
func (s *Store) HasXRecords() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.xtx.recs) > 0
}

// empty reports whether no transaction is open or remembered.
func (st *xtxState) empty() bool { return len(st.recs) == 0 && len(st.outcomes) == 0 }

// HasXLocks reports whether any key of the store is locked by a
// cross-shard transaction (tests and INFO).
func (s *Store) HasXLocks() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.xtx.locks) > 0
}

// marshal encodes the state for a snapshot: the prepared records (the
// locks are their keys) and the outcomes, each in id order.
func (st *xtxState) marshal() []byte {
	b := []byte{}
	str := func(v []byte) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	ids := make([]string, 0, len(st.recs))
	for id := range st.recs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		r := st.recs[id]
		str([]byte(id))
		b = binary.AppendVarint(b, r.deadline)
		b = binary.AppendUvarint(b, uint64(r.dshard))
		b = binary.AppendUvarint(b, uint64(len(r.keys)))
		for _, k := range r.keys {
			str(k)
		}
		b = binary.AppendUvarint(b, uint64(len(r.cmds)))
		for _, c := range r.cmds {
			str(encodeCmd(c))
		}
	}
	ids = ids[:0]
	for id := range st.outcomes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = binary.AppendVarint(b, st.nextPrune)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		o := st.outcomes[id]
		str([]byte(id))
		b = binary.AppendVarint(b, o.until)
		if o.commit {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		str(resp.AppendReplies(nil, o.replies))
		b = binary.AppendUvarint(b, uint64(len(o.writes)))
		for _, w := range o.writes {
			b = binary.AppendUvarint(b, uint64(w.Shard))
			str(encodeCmd(w.Cmd))
		}
	}
	return b
}

var errBadXTx = errors.New("malformed cross-shard transaction state")

// unmarshalXTx decodes marshal's form into a fresh state; it copies b.
func unmarshalXTx(b []byte) (xtxState, error) {
	b = slices.Clone(b)
	var st xtxState
	st.init()
	bad := false
	uv := func() uint64 {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			bad = true
			return 0
		}
		b = b[k:]
		return v
	}
	sv := func() int64 {
		v, k := binary.Varint(b)
		if k <= 0 {
			bad = true
			return 0
		}
		b = b[k:]
		return v
	}
	str := func() []byte {
		n := uv()
		if bad || n > uint64(len(b)) {
			bad = true
			return nil
		}
		v := b[:n:n]
		b = b[n:]
		return v
	}
	count := func() int {
		n := uv()
		if n > uint64(len(b)) {
			bad = true
			return 0
		}
		return int(n)
	}
	for n := count(); n > 0 && !bad; n-- {
		id := string(str())
		r := &xtxRec{deadline: sv(), dshard: int(uv())}
		for k := count(); k > 0 && !bad; k-- {
			r.keys = append(r.keys, str())
		}
		for k := count(); k > 0 && !bad; k-- {
			c, err := decodeCmd(str())
			if err != nil {
				bad = true
				break
			}
			r.cmds = append(r.cmds, c)
		}
		if _, dup := st.recs[id]; dup || id == "" {
			bad = true
		}
		st.recs[id] = r
		for _, k := range r.keys {
			st.locks[string(k)] = id
		}
	}
	st.nextPrune = sv()
	for n := count(); n > 0 && !bad; n-- {
		id := string(str())
		o := &xtxOutcome{until: sv()}
		if len(b) == 0 {
			bad = true
			break
		}
		o.commit, b = b[0] == 1, b[1:]
		replies, err := resp.DecodeReplies(str())
		if err != nil || bad {
			bad = true
			break
		}
		o.replies = replies
		for k := count(); k > 0 && !bad; k-- {
			shard := int(uv())
			c, err := decodeCmd(str())
			if err != nil {
				bad = true
				break
			}
			o.writes = append(o.writes, XWrite{Shard: shard, Cmd: c})
		}
		st.keep(id, o)
	}
	if bad || len(b) != 0 {
		return xtxState{}, errBadXTx
	}
	return st, nil
}
