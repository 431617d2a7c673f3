package cluster

import (
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftcache/raftcache/resp"
)

// Group commit: concurrent proposals to a shard are merged into one log
// entry. The proposer takes whatever is queued when it is free — no timer,
// so a lone write is not delayed — and hands the entry to Raft, which
// returns at once; several entries are in flight while the committer
// answers them in log order. Fewer, larger entries cost every replica
// less: one encoding, one log record, one apply.
const (
	maxBatchCmds  = 1024
	maxBatchBytes = 1 << 20
	maxInflight   = 64
)

type proposal struct {
	cmds [][][]byte
	res  chan proposalResult
}

type proposalResult struct {
	replies []resp.Reply
	err     error
}

// inflightEntry is one submitted entry and the proposals it carries.
type inflightEntry struct {
	future raft.ApplyFuture
	batch  []*proposal
	err    error     // set when the entry could not be submitted at all
	start  time.Time // when it was handed to Raft
}

func proposalSize(p *proposal) int {
	n := 0
	for _, args := range p.cmds {
		for _, a := range args {
			n += len(a) + 2
		}
	}
	return n
}

// proposer merges queued proposals into entries and submits them.
func (s *Shard) proposer() {
	defer s.wg.Done()
	defer close(s.inflight)
	for {
		var first *proposal
		select {
		case <-s.stop:
			s.failQueued()
			return
		case first = <-s.proposals:
		}
		batch := []*proposal{first}
		cmds, size := len(first.cmds), proposalSize(first)
	gather:
		for cmds < maxBatchCmds && size < maxBatchBytes {
			select {
			case p := <-s.proposals:
				batch = append(batch, p)
				cmds += len(p.cmds)
				size += proposalSize(p)
			default:
				break gather
			}
		}
		all := make([][][]byte, 0, cmds)
		for _, p := range batch {
			all = append(all, p.cmds...)
		}
		e := inflightEntry{batch: batch, start: time.Now()}
		if s.raft.State() != raft.Leader {
			e.err = s.notLeader()
		} else {
			e.future = s.raft.Apply(encodeEntry(nil, time.Now().UnixMilli(), all), s.applyLimit)
		}
		select {
		case s.inflight <- e:
		case <-s.stop:
			respond(batch, nil, ErrShutdown)
			s.failQueued()
			return
		}
	}
}

// failQueued answers proposals that were never submitted.
func (s *Shard) failQueued() {
	for {
		select {
		case p := <-s.proposals:
			p.res <- proposalResult{err: ErrShutdown}
		default:
			return
		}
	}
}

// committer waits for each submitted entry, in order, and answers its
// proposals with their share of the replies.
func (s *Shard) committer() {
	defer s.wg.Done()
	for e := range s.inflight {
		if e.err != nil {
			respond(e.batch, nil, e.err)
			continue
		}
		if err := s.wait(e.future); err != nil {
			respond(e.batch, nil, s.applyError(err))
			continue
		}
		replies, ok := e.future.Response().([]resp.Reply)
		total := 0
		for _, p := range e.batch {
			total += len(p.cmds)
		}
		if !ok || len(replies) != total {
			respond(e.batch, nil, resp.ErrBadBinary)
			continue
		}
		s.stats.apply.Observe(time.Since(e.start))
		respond(e.batch, replies, nil)
	}
}

// respond hands each proposal its replies (consecutive slices of replies,
// in batch order) or err.
func respond(batch []*proposal, replies []resp.Reply, err error) {
	for _, p := range batch {
		if err != nil {
			p.res <- proposalResult{err: err}
			continue
		}
		n := len(p.cmds)
		p.res <- proposalResult{replies: replies[:n:n]}
		replies = replies[n:]
	}
}
