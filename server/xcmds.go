package server

import (
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// The multi-key commands a plain connection runs atomically across shards
// as cross-shard transactions (xtx.go): MSET, MSETNX, RENAME, RENAMENX,
// COPY and LCS. Each is the same command Redis runs, split into what each
// shard does under the transaction's locks.

// crossShard serves cmd, whose keys span shards, on a plain connection;
// ok is false for a command that is not run this way.
func (s *Server) crossShard(c *client, cmd *resp.Command, args [][]byte) (resp.Reply, bool) {
	switch cmd.Name {
	case "mset":
		return s.crossMSet(c, args, false), true
	case "msetnx":
		return s.crossMSet(c, args, true), true
	case "rename":
		return s.crossMove(c, args, false, false, false), true
	case "renamenx":
		return s.crossMove(c, args, true, false, false), true
	case "copy":
		replace, refusal, ok := store.ParseCopyOptions(args)
		if !ok {
			return refusal, true
		}
		return s.crossMove(c, args, !replace, true, replace), true
	case "lcs":
		return s.crossLCS(c, args), true
	}
	return resp.Reply{}, false
}

// splitParts turns split's parts into participants, the highest shard
// last: the decision shard.
func splitParts(parts []part, step int, build func(p *xpart, args [][]byte)) []*xpart {
	out := make([]*xpart, len(parts))
	for i, p := range parts {
		x := &xpart{shard: p.shard}
		for j := 1; j < len(p.args); j += step {
			x.keys = append(x.keys, p.args[j])
		}
		build(x, p.args)
		out[i] = x
	}
	last := 0
	for i, x := range out {
		if x.shard > out[last].shard {
			last = i
		}
	}
	out[last], out[len(out)-1] = out[len(out)-1], out[last]
	return out
}

// crossMSet serves MSET and, with nx, MSETNX: every shard sets its own
// pairs at the commit; MSETNX's prepares read whether any of their keys
// exists and the decision shard requires its own to be absent.
func (s *Server) crossMSet(c *client, args [][]byte, nx bool) resp.Reply {
	parts := splitParts(s.split(args, 2), 2, func(p *xpart, a [][]byte) {
		p.cmds = [][][]byte{append([][]byte{[]byte("MSET")}, a[1:]...)}
		if nx {
			p.reads = [][][]byte{append([][]byte{[]byte("EXISTS")}, p.keys...)}
		}
	})
	d := parts[len(parts)-1]
	spec := &xspec{parts: parts[:len(parts)-1], dshard: d.shard, write: true}
	if nx {
		d.absent, d.reads = d.keys, nil
	}
	spec.decision = func(reads [][]resp.Reply) (*xpart, resp.Reply, bool) {
		for _, r := range reads {
			if len(r) == 1 && r[0].Kind == resp.KindInt && r[0].Int > 0 {
				return nil, resp.Zero, true
			}
		}
		return d, resp.Reply{}, false
	}
	res, refusal, ok := s.xrun(c, spec)
	switch {
	case !ok && nx && refusal.Kind == resp.KindInt:
		return refusal // a key exists: MSETNX answers 0
	case !ok:
		return refusal
	case !nx:
		return resp.OK
	case res.committed():
		return resp.One
	}
	return resp.Zero
}

// crossMove serves RENAME (nx false, copy false), RENAMENX (nx) and COPY
// (copy; nx unless REPLACE): the source's shard reads the record under
// its lock (and, for a rename, deletes the key at the commit); the
// destination's shard, the decision shard, writes it — unless, with nx,
// the destination exists.
func (s *Server) crossMove(c *client, args [][]byte, nx, copy, replace bool) resp.Reply {
	src, dst := args[1], args[2]
	srcShard := s.backend.ShardOfSlot(store.SlotOf(src))
	dstShard := s.backend.ShardOfSlot(store.SlotOf(dst))
	from := &xpart{shard: srcShard, keys: [][]byte{src}, reads: [][][]byte{store.ExportArgs(src)}}
	if !copy {
		from.cmds = [][][]byte{{[]byte("DEL"), src}}
	}
	spec := &xspec{parts: []*xpart{from}, dshard: dstShard, write: true}
	spec.decision = func(reads [][]resp.Reply) (*xpart, resp.Reply, bool) {
		rec := reads[0][0]
		if rec.Kind == resp.KindNull {
			if copy {
				return nil, resp.Zero, true
			}
			return nil, resp.ErrNoSuchKey.Reply(), true
		}
		imp, ok := store.ImportArgs(dst, rec, copy)
		if !ok {
			return nil, resp.ErrUnexpectedReply(store.CmdExport).Reply(), true
		}
		to := &xpart{shard: dstShard, keys: [][]byte{dst}, cmds: [][][]byte{imp}}
		if nx {
			to.absent = to.keys
		}
		return to, resp.Reply{}, false
	}
	res, refusal, ok := s.xrun(c, spec)
	switch {
	case !ok:
		return refusal
	case !res.committed():
		return resp.Zero
	case copy || nx:
		return resp.One
	}
	return resp.OK
}

// crossLCS serves LCS: both values are read under the transaction's
// locks, so they are one moment's, and compared here.
func (s *Server) crossLCS(c *client, args [][]byte) resp.Reply {
	a := &xpart{shard: s.backend.ShardOfSlot(store.SlotOf(args[1])), keys: [][]byte{args[1]},
		reads: [][][]byte{{[]byte("GET"), args[1]}}}
	bShard := s.backend.ShardOfSlot(store.SlotOf(args[2]))
	spec := &xspec{parts: []*xpart{a}, dshard: bShard}
	var first resp.Reply
	spec.decision = func(reads [][]resp.Reply) (*xpart, resp.Reply, bool) {
		first = reads[0][0]
		return &xpart{shard: bShard, keys: [][]byte{args[2]}, reads: [][][]byte{{[]byte("GET"), args[2]}}}, resp.Reply{}, false
	}
	res, refusal, ok := s.xrun(c, spec)
	if !ok {
		return refusal
	}
	if len(res.reads) != 1 {
		return resp.ErrTxReplies.Reply()
	}
	return store.LCSOf(first, res.reads[0], args)
}
