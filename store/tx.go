package store

import (
	"errors"
	"strconv"

	"github.com/raftcache/raftcache/resp"
)

// WATCH, deterministically. Every write command that changes something
// takes the next store sequence number (Store.seq); every key it creates,
// changes or moves records it as its version, and every slot records the
// number of its latest removal (deleteSeq: DEL, expiry, FLUSHALL, RENAME's
// source, ...). At WATCH time the server reads each key's version and the
// store's seq with CmdVersion; at EXEC it proposes the transaction's
// commands behind a CmdTx guard in one log entry. Every replica then
// evaluates the guard on the same replicated state, so all of them run
// the transaction or all skip it.
//
// A key is unchanged when it is present with the version read at WATCH
// time, or, when it was absent then (version 0), when it is still absent
// and its slot has had no removal since (deleteSeq <= seq at WATCH): a key
// created and removed again in between is seen through its slot. That
// test is per slot, so a removal of another key of the slot also fails
// the guard: a spurious abort, which a client retries, never a missed
// change. A key that expired after WATCH is changed, as in Redis.

func init() {
	registerInternal(CmdVersion, false, cmdVersion)
	registerInternal(CmdTx, true, cmdTx)
}

// CmdVersion is the internal read command behind WATCH:
//
//	raftcache.version key [key ...]
//
// It replies an array with one [version, seq] array of two integers per
// key: the key's version (0 when it is missing or expired at the read's
// time) and the store's current seq. Pass them to CmdTx as they are.
const CmdVersion = "raftcache.version"

// CmdTx is the internal write command that guards a transaction:
//
//	raftcache.tx <n> [<key> <version> <seq>]...
//
// It governs the n commands that follow it in the same Apply batch. When
// every listed key is unchanged since CmdVersion reported version and seq
// for it, the guard replies OK and the n commands run as usual, inside
// the batch's one atomic step. Otherwise it replies a null array
// (resp.NullArr, EXEC's reply for an aborted transaction) and the n
// commands do not run: each gets a resp.Null placeholder. Malformed
// arguments are an error reply, and then the n commands (when n parses)
// are skipped too, so a transaction never runs unguarded. Build it with
// TxArgs.
const CmdTx = "raftcache.tx"

// KeyVersion is what CmdVersion reported for a key.
type KeyVersion struct {
	Key     []byte
	Version uint64 // 0: the key did not exist
	Seq     uint64 // the store's seq at the time
}

// TxArgs returns the arguments of a CmdTx guard for the n commands that
// will follow it, watching keys.
func TxArgs(n int, keys []KeyVersion) [][]byte {
	args := make([][]byte, 0, 2+3*len(keys))
	args = append(args, []byte(CmdTx), strconv.AppendInt(nil, int64(n), 10))
	for _, k := range keys {
		args = append(args, k.Key, strconv.AppendUint(nil, k.Version, 10), strconv.AppendUint(nil, k.Seq, 10))
	}
	return args
}

// VersionArgs returns the arguments of a CmdVersion read of keys.
func VersionArgs(keys [][]byte) [][]byte {
	return append([][]byte{[]byte(CmdVersion)}, keys...)
}

// ParseVersions decodes a CmdVersion reply for keys (the keys it was sent
// with, in order).
func ParseVersions(keys [][]byte, r resp.Reply) ([]KeyVersion, error) {
	if r.Kind == resp.KindError {
		return nil, resp.NewError(string(r.Str))
	}
	if r.Kind != resp.KindArray || len(r.Elems) != len(keys) {
		return nil, errors.New("store: malformed " + CmdVersion + " reply")
	}
	out := make([]KeyVersion, len(keys))
	for i, e := range r.Elems {
		if e.Kind != resp.KindArray || len(e.Elems) != 2 || e.Elems[0].Kind != resp.KindInt ||
			e.Elems[1].Kind != resp.KindInt {
			return nil, errors.New("store: malformed " + CmdVersion + " reply")
		}
		out[i] = KeyVersion{Key: keys[i], Version: uint64(e.Elems[0].Int), Seq: uint64(e.Elems[1].Int)}
	}
	return out, nil
}

func cmdVersion(x exec, a [][]byte) resp.Reply {
	elems := make([]resp.Reply, len(a)-1)
	seq := resp.Int(int64(x.s.seq))
	for i, key := range a[1:] {
		var v int64
		if o, ok := x.lookup(key); ok {
			v = int64(o.version())
		}
		elems[i] = resp.Array(resp.Int(v), seq)
	}
	return resp.Reply{Kind: resp.KindArray, Elems: elems}
}

// keyUnchanged reports whether key is as CmdVersion reported it: present
// with version, or, for version 0, still absent with no removal in its
// slot since seq (see the top of this file).
func (x *exec) keyUnchanged(key []byte, version, seq uint64) bool {
	o, present := x.lookup(key)
	if version != 0 {
		return present && o.version() == version
	}
	return !present && x.s.deleteSeq[SlotOf(key)] <= seq
}

func cmdTx(x exec, a [][]byte) resp.Reply {
	if len(a) < 2 {
		return resp.ErrInternalArgs(CmdTx).Reply()
	}
	n, err := strconv.ParseUint(string(a[1]), 10, 31)
	if err != nil {
		return resp.ErrInternalArgs(CmdTx).Reply()
	}
	watched := a[2:]
	if len(watched)%3 != 0 {
		x.s.skip = int(n)
		return resp.ErrInternalArgs(CmdTx).Reply()
	}
	unchanged := true
	for i := 0; i < len(watched); i += 3 {
		key := watched[i]
		version, err1 := strconv.ParseUint(string(watched[i+1]), 10, 64)
		seq, err2 := strconv.ParseUint(string(watched[i+2]), 10, 64)
		if err1 != nil || err2 != nil {
			x.s.skip = int(n)
			return resp.ErrInternalArgs(CmdTx).Reply()
		}
		unchanged = x.keyUnchanged(key, version, seq) && unchanged
	}
	if !unchanged {
		x.s.skip = int(n)
		return resp.NullArr
	}
	return resp.OK
}
