package server

import (
	"math/rand/v2"
	"sync"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// The keyspace-wide commands: DBSIZE, FLUSHALL, FLUSHDB, KEYS, SCAN and
// RANDOMKEY read or change every shard. Each shard's part is atomic (and
// linearizable); the whole is not a snapshot across shards, as it is not
// across the masters of a Redis Cluster either.

func init() {
	serverHandlers["dbsize"] = func(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, a [][]byte) resp.Reply {
		return s.dbsize(c, a)
	}
	serverHandlers["flushall"] = func(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, a [][]byte) resp.Reply {
		return s.flush(c, a)
	}
	serverHandlers["flushdb"] = serverHandlers["flushall"]
	serverHandlers["keys"] = func(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, a [][]byte) resp.Reply {
		return s.keys(c, a)
	}
	serverHandlers["scan"] = func(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, a [][]byte) resp.Reply {
		return s.scan(c, a)
	}
	serverHandlers["randomkey"] = func(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, a [][]byte) resp.Reply {
		return s.randomKey(c, a)
	}
}

// shardRange returns the first and last slot of shard. Shards own
// contiguous slot ranges, fixed when the cluster is made.
func (s *Server) shardRange(shard int) (first, last int) {
	s.rangesOnce.Do(func() {
		s.ranges = make([][2]int, s.backend.NumShards())
		for i := range s.ranges {
			s.ranges[i] = [2]int{-1, -1}
		}
		for slot := 0; slot < store.NumSlots; slot++ {
			r := &s.ranges[s.backend.ShardOfSlot(slot)]
			if r[0] < 0 {
				r[0] = slot
			}
			r[1] = slot
		}
	})
	r := s.ranges[shard]
	return r[0], r[1]
}

// onEveryShard runs args on every shard concurrently (through Raft when
// write, else as a linearizable read) and returns the replies in shard
// order; a backend error becomes its error reply.
func (s *Server) onEveryShard(c *client, write bool, args [][]byte) []resp.Reply {
	s.waitPause(c, write)
	n := s.backend.NumShards()
	out := make([]resp.Reply, n)
	var wg sync.WaitGroup
	for shard := 0; shard < n; shard++ {
		wg.Go(func() {
			first, _ := s.shardRange(shard)
			out[shard] = s.execOnShard(c, write, shard, first, args)
		})
	}
	wg.Wait()
	if write {
		for shard := 0; shard < n; shard++ {
			c.markWrote(shard)
		}
	}
	return out
}

// dbsize adds up the key counts of every shard.
func (s *Server) dbsize(c *client, args [][]byte) resp.Reply {
	var total int64
	for _, r := range s.onEveryShard(c, false, args) {
		if r.Kind != resp.KindInt {
			return r
		}
		total += r.Int
	}
	return resp.Int(total)
}

// flush implements FLUSHALL and FLUSHDB [ASYNC|SYNC]: one Raft entry per
// shard. raftcache frees memory the same way for both options.
func (s *Server) flush(c *client, args [][]byte) resp.Reply {
	if len(args) > 2 || (len(args) == 2 && !resp.EqualFold(args[1], "sync") && !resp.EqualFold(args[1], "async")) {
		return resp.ErrSyntax.Reply()
	}
	for _, r := range s.onEveryShard(c, true, args) {
		if r.IsError() {
			return r
		}
	}
	return resp.OK
}

// keys merges the keys every shard finds for the pattern.
func (s *Server) keys(c *client, args [][]byte) resp.Reply {
	var all []resp.Reply
	for _, r := range s.onEveryShard(c, false, args) {
		if r.Kind != resp.KindArray {
			return r
		}
		all = append(all, r.Elems...)
	}
	return resp.Array(all...)
}

// scan implements SCAN with a slot as the cursor: cursor c is served by
// the shard that owns slot c, which returns whole slots from c up to its
// own last slot and answers the next slot to visit (the first slot of the
// next shard once it is done, "0" after slot 16383). A key present from
// the first call to the last is therefore returned at least once, as
// Redis's SCAN guarantees. When a shard is done before COUNT keys are
// found, the call goes on with the next shard, so SCAN 0 with a COUNT
// larger than the keyspace answers every key and cursor 0, as Redis
// does; a call reads at most every shard once.
func (s *Server) scan(c *client, args [][]byte) resp.Reply {
	cursor, ok := store.ParseCursor(args[1])
	if !ok {
		return resp.ErrInvalidCursor.Reply()
	}
	// The options are checked here too, so that a cursor past the last
	// slot (not one raftcache hands out: the iteration is over) gets the
	// same errors.
	count, err := scanOptions(args[2:])
	if err != nil {
		return err.Reply()
	}
	if cursor >= store.NumSlots {
		return scanEnd()
	}
	s.waitPause(c, false)
	// The options without COUNT; each call asks for what is still missing.
	var opts [][]byte
	for i := 2; i+1 < len(args); i += 2 {
		if !resp.EqualFold(args[i], "count") {
			opts = append(opts, args[i], args[i+1])
		}
	}
	var keys []resp.Reply
	slot := int(cursor)
	for {
		shard := s.backend.ShardOfSlot(slot)
		_, last := s.shardRange(shard)
		r, err := s.read(c, shard, store.ScanArgs(slot, last, count-int64(len(keys)), opts))
		if err != nil {
			return s.backendError(err, slot)
		}
		if r.IsError() {
			return r
		}
		cursor, page, ok := store.ParseScan(r)
		if !ok {
			return resp.ErrUnexpectedReply(store.CmdScan).Reply()
		}
		keys = append(keys, page...)
		next, ok := store.ParseCursor(cursor.Str)
		if !ok || next == 0 || next != uint64(last+1) || int64(len(keys)) >= count {
			return resp.Array(cursor, resp.Array(keys...))
		}
		slot = int(next)
	}
}

// scanEnd is SCAN's reply when the iteration is complete and nothing is
// left to return.
func scanEnd() resp.Reply { return resp.Array(resp.BulkString("0"), resp.EmptyArr) }

// scanOptions checks SCAN's options as Redis parses them and returns
// COUNT (10 when not given).
func scanOptions(opts [][]byte) (int64, *resp.Error) {
	count := int64(10)
	for i := 0; i < len(opts); i += 2 {
		if i+1 >= len(opts) {
			return 0, resp.ErrSyntax
		}
		switch {
		case resp.EqualFold(opts[i], "count"):
			n, ok := resp.ParseInt(opts[i+1])
			if !ok {
				return 0, resp.ErrNotInteger
			}
			if n < 1 {
				return 0, resp.ErrSyntax
			}
			count = n
		case resp.EqualFold(opts[i], "match"), resp.EqualFold(opts[i], "type"):
		default:
			return 0, resp.ErrSyntax
		}
	}
	return count, nil
}

// randomKey picks a shard with a chance proportional to its key count (as
// this replica counts them) and asks it for a random key, trying the
// other shards when it has none.
func (s *Server) randomKey(c *client, args [][]byte) resp.Reply {
	s.waitPause(c, false)
	for _, shard := range s.weightedShards() {
		r, err := s.read(c, shard, args)
		if err != nil {
			first, _ := s.shardRange(shard)
			return s.backendError(err, first)
		}
		if r.Kind != resp.KindNull {
			return r
		}
	}
	return resp.Null
}

// weightedShards returns every shard in the order of a draw without
// replacement weighted by key counts; shards without keys come last, in
// random order.
func (s *Server) weightedShards() []int {
	type cand struct{ shard, keys int }
	var cands []cand
	for _, st := range s.backend.Status() {
		cands = append(cands, cand{st.ID, max(st.Keys, 0)})
	}
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	order := make([]int, 0, len(cands))
	for len(cands) > 0 {
		total := 0
		for _, cd := range cands {
			total += cd.keys
		}
		pick := 0
		if total > 0 {
			r := rand.IntN(total)
			for i, cd := range cands {
				if r < cd.keys {
					pick = i
					break
				}
				r -= cd.keys
			}
		}
		order = append(order, cands[pick].shard)
		cands = append(cands[:pick], cands[pick+1:]...)
	}
	return order
}
