package server

import (
	"bytes"
	"runtime"
	"slices"
	"time"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// A transaction whose queued commands themselves span shards — RENAME,
// COPY, MSETNX or LCS over keys of several shards inside MULTI — cannot
// be split into what each shard runs before it runs: a command's part on
// one shard depends on values the transaction's earlier commands set on
// another. The coordinator runs it itself, under the transaction's locks:
//
//  1. every shard of the transaction is prepared with its keys locked and
//     their records read (raftcache.export), watched keys checked;
//  2. the records are loaded into a private scratch store, and the
//     queued commands run there, in order, with the very code a shard
//     runs — their replies are EXEC's;
//  3. every key a command wrote, or whose record changed, is written back
//     to its shard (raftcache.import, or DEL when it is gone): the decision
//     shard's writes in the decision entry, the others' carried by the
//     decision (store.XTx.Writes), so that a resolver can finish them if
//     the coordinator dies after the decision.
//
// Expiry times are absolute, so a key keeps its TTL; commands that set
// one relative to now (SET EX, EXPIRE) take the coordinator's clock.

// needsScratch reports whether a queued command requires the scratch
// path: its own keys span shards and it is not one split by shard.
func needsScratch(q *queuedCmd) bool { return q.inBatch && q.spans && !splitInMulti(q.cmd) }

// execScratch runs the transaction as described above, filling results
// with the replies of its queued data commands; it returns EXEC's reply
// and false when the transaction did not run (null array: a watched key
// changed).
func (s *Server) execScratch(c *client, tx *txState, watched []watchedKey, write bool, results []resp.Reply) (resp.Reply, bool) {
	type keyAt struct {
		shard int
		key   []byte
	}
	var keys []keyAt
	seen := map[string]bool{}
	addKey := func(k []byte) {
		if !seen[string(k)] {
			seen[string(k)] = true
			keys = append(keys, keyAt{s.backend.ShardOfSlot(store.SlotOf(k)), k})
		}
	}
	written := map[string]bool{}
	var pos []int
	for _, q := range tx.queue {
		if !q.inBatch {
			continue
		}
		pos = q.keyed.KeyPositions(pos[:0], len(q.args))
		for _, i := range pos {
			addKey(q.args[i])
			if q.write {
				written[string(q.args[i])] = true
			}
		}
	}
	for _, w := range watched {
		addKey(w.Key)
	}
	// One part per shard, each reading the records of its keys.
	byShard := map[int]*xpart{}
	index := map[int][]int{} // shard → positions in keys, in its reads' order
	// The replies are the scratch store's: no participant's are needed.
	spec := &xspec{dshard: -1, write: write}
	for i, k := range keys {
		p, ok := byShard[k.shard]
		if !ok {
			p = &xpart{shard: k.shard}
			byShard[k.shard] = p
			spec.parts = append(spec.parts, p)
		}
		p.keys = append(p.keys, k.key)
		p.reads = append(p.reads, store.ExportArgs(k.key))
		index[k.shard] = append(index[k.shard], i)
		spec.dshard = max(spec.dshard, k.shard)
	}
	for _, w := range watched {
		p := byShard[w.shard]
		p.watched = append(p.watched, w.KeyVersion)
	}
	replies := make([]resp.Reply, len(tx.queue))
	spec.decision = func(reads [][]resp.Reply) (*xpart, resp.Reply, bool) {
		before := make([]resp.Reply, len(keys))
		for i, p := range spec.parts {
			if len(reads[i]) != len(index[p.shard]) {
				return nil, resp.ErrTxReplies.Reply(), true
			}
			for j, at := range index[p.shard] {
				before[at] = reads[i][j]
			}
		}
		now := time.Now().UnixMilli()
		scratch := store.New()
		for i, k := range keys {
			if before[i].Kind == resp.KindNull {
				continue
			}
			imp, ok := store.ImportArgs(k.key, before[i], false)
			if !ok {
				return nil, resp.ErrUnexpectedReply(store.CmdExport).Reply(), true
			}
			scratch.Apply(now, [][][]byte{imp}, nil)
		}
		for qi, q := range tx.queue {
			if !q.inBatch {
				continue
			}
			var ok bool
			if replies[qi], _, ok = detach(scratch.Apply(now, [][][]byte{q.args}, nil)[0]); !ok {
				return nil, resp.ErrTxReplies.Reply(), true
			}
		}
		d := &xpart{shard: spec.dshard, writes: map[int][][][]byte{}}
		for i, k := range keys {
			after, enc, ok := detach(scratch.Read(now, store.ExportArgs(k.key)))
			if !ok {
				return nil, resp.ErrUnexpectedReply(store.CmdExport).Reply(), true
			}
			if !written[string(k.key)] && bytes.Equal(enc, resp.AppendReplies(nil, before[i:i+1])) {
				continue
			}
			cmd := [][]byte{[]byte("DEL"), k.key}
			if after.Kind != resp.KindNull {
				imp, ok := store.ImportArgs(k.key, after, false)
				if !ok {
					return nil, resp.ErrUnexpectedReply(store.CmdExport).Reply(), true
				}
				cmd = imp
			}
			if k.shard == spec.dshard {
				d.cmds = append(d.cmds, cmd)
			} else {
				d.writes[k.shard] = append(d.writes[k.shard], cmd)
			}
		}
		d.keys = byShard[spec.dshard].keys
		runtime.KeepAlive(scratch) // its memory backs nothing we keep: every reply was copied
		return d, resp.Reply{}, false
	}
	res, refusal, ok := s.xrun(c, spec)
	if !ok {
		return refusal, false
	}
	if res.status.Kind == resp.KindNullArray {
		return resp.NullArr, false // a watched key changed
	}
	for qi, q := range tx.queue {
		if q.inBatch {
			results[qi] = shapeReply(c.proto, q.cmd, q.args, replies[qi])
		}
	}
	return resp.Reply{}, true
}

// detach returns r as the binary reply codec gives it back: a copy that
// shares no memory with the scratch store, whose memory goes with it; the
// encoding also serves to compare two records.
// ok is false for a reply the codec refuses (nested past its depth bound).
func detach(r resp.Reply) (_ resp.Reply, enc []byte, ok bool) {
	enc = resp.AppendReplies(nil, []resp.Reply{r})
	rs, err := resp.DecodeReplies(slices.Clone(enc))
	if err != nil || len(rs) != 1 {
		return resp.Reply{}, nil, false
	}
	return rs[0], enc, true
}
