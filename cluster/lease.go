package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// Leader leases (see DESIGN.md, "Leases"): a leader that heard a majority
// acknowledge a heartbeat round it started at t0 serves reads from its
// store, with no round trip, until t0 + leaseDuration on its monotonic
// clock. A follower that acknowledged that round refuses to vote for
// anyone else until it has heard nothing from this leader for a whole
// heartbeat timeout (hashicorp/raft rejects votes while it knows a
// leader, and forgets the leader only then), so no other leader can be
// elected before t0 + heartbeat timeout. The lease stops short of that by
// a margin for the rate at which the two clocks may drift apart.

// leaseFraction of the heartbeat timeout is the lease: 10% of margin
// covers clocks whose rates differ by up to 5%, far beyond what NTP lets
// happen (hundreds of parts per million).
const leaseFraction = 0.9

// LeaseDuration returns the read lease for a heartbeat timeout.
func LeaseDuration(heartbeat time.Duration) time.Duration {
	return time.Duration(float64(heartbeat) * leaseFraction)
}

// lease is a shard leader's read lease. A renewal records the term and
// the time its heartbeat round started; drop (before a leadership transfer
// or on losing leadership) bumps gen, so a round that started before the
// drop cannot renew it afterwards.
type lease struct {
	duration time.Duration // 0: leases off
	state    atomic.Pointer[leaseState]

	mu        sync.Mutex
	gen       uint64
	suspended int // transfers in progress; no renewal meanwhile
}

type leaseState struct {
	term  uint64
	until time.Time // carries the monotonic clock reading
}

// holds reports whether the lease covers now for term.
func (l *lease) holds(term uint64) bool {
	st := l.state.Load()
	return st != nil && st.term == term && time.Now().Before(st.until)
}

// remaining is how long the lease of term still runs.
func (l *lease) remaining(term uint64) time.Duration {
	st := l.state.Load()
	if st == nil || st.term != term {
		return 0
	}
	return max(0, time.Until(st.until))
}

// begin notes that a renewal is about to ask the followers and returns
// what renew needs: the time it starts and the generation it belongs to.
func (l *lease) begin() (time.Time, uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now(), l.gen, l.duration > 0 && l.suspended == 0
}

// renew extends the lease of term to until, unless it was dropped since
// the renewal began (gen).
func (l *lease) renew(until time.Time, gen, term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gen != gen || l.suspended > 0 {
		return
	}
	if st := l.state.Load(); st != nil && st.term == term && !until.After(st.until) {
		return
	}
	l.state.Store(&leaseState{term: term, until: until})
}

// drop ends the lease now.
func (l *lease) drop() {
	l.mu.Lock()
	l.gen++
	l.state.Store(nil)
	l.mu.Unlock()
}

// suspend drops the lease and keeps it from being renewed until resume:
// a leadership transfer lets the target be elected at once, with every
// follower's vote, so no lease may be held from before it starts.
func (l *lease) suspend() {
	l.mu.Lock()
	l.gen++
	l.suspended++
	l.state.Store(nil)
	l.mu.Unlock()
}

func (l *lease) resume() {
	l.mu.Lock()
	l.suspended--
	l.mu.Unlock()
}

// leaseLoop renews the leases of every shard this node leads, a third of
// a lease before each runs out, so steady reads never wait: it asks each
// other voter, once for all such shards, whom it follows, in which term,
// and how long ago it last heard from its leader. A voter that follows
// this node in the shard's current term refuses any other candidate until
// a heartbeat timeout after that contact; the lease runs until the time a
// majority of voters (this node included) is bound to, counted from when
// the question was sent, less the drift margin. Explicit times, rather
// than raft.VerifyLeader, because VerifyLeader may be answered by a reply
// to a heartbeat sent before it was called.
func (n *Node) leaseLoop() {
	defer n.wg.Done()
	every := LeaseDuration(n.cfg.HeartbeatTimeout) / 3
	if n.cfg.DisableReadLease || every <= 0 {
		return
	}
	tickUntil(n.stop, every, n.renewLeases)
}

// leaseAsk is one shard's lease renewal in progress.
type leaseAsk struct {
	s        *Shard
	term     uint64
	gen      uint64
	t0       time.Time
	majority int // voters that must be bound, this node included
	bounds   []time.Time
}

func (n *Node) renewLeases() {
	byPeer := map[string][]*leaseAsk{}
	var asks []*leaseAsk
	for _, s := range n.shards {
		term, ok := s.leaderReady()
		if !ok {
			continue
		}
		voters, err := s.Voters()
		if err != nil {
			continue
		}
		t0, gen, ok := s.lease.begin()
		if !ok {
			continue
		}
		a := &leaseAsk{s: s, term: term, gen: gen, t0: t0}
		for _, v := range voters {
			if v.Suffrage != raft.Voter {
				continue
			}
			a.majority++
			if string(v.ID) != n.meta.NodeID {
				byPeer[string(v.Address)] = append(byPeer[string(v.Address)], a)
			}
		}
		a.majority = a.majority/2 + 1
		if a.majority <= 1 {
			continue // a sole voter needs no lease
		}
		asks = append(asks, a)
	}
	if len(asks) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), LeaseDuration(n.cfg.HeartbeatTimeout))
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for addr, peerAsks := range byPeer {
		wg.Go(func() {
			states, err := n.askLease(ctx, addr, peerAsks)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for i, a := range peerAsks {
				st := states[i]
				if st.term != a.term || st.leader != n.meta.NodeID || st.since >= n.cfg.HeartbeatTimeout {
					continue
				}
				a.bounds = append(a.bounds, a.t0.Add(LeaseDuration(n.cfg.HeartbeatTimeout-st.since)))
			}
		})
	}
	wg.Wait()
	for _, a := range asks {
		need := a.majority - 1 // followers, besides this node
		if len(a.bounds) < need {
			continue
		}
		slices.SortFunc(a.bounds, func(x, y time.Time) int { return y.Compare(x) })
		until := a.bounds[need-1]
		if limit := a.t0.Add(a.s.lease.duration); until.After(limit) || n.cfg.UnsafeReadLease > 0 {
			until = limit
		}
		if a.s.raft.CurrentTerm() == a.term {
			a.s.lease.renew(until, a.gen, a.term)
		}
	}
}

// followerState is what a voter reports of one shard for a lease.
type followerState struct {
	term   uint64
	leader string
	since  time.Duration // since it last heard from its leader
}

// askLease asks the node at addr about the shards of asks.
func (n *Node) askLease(ctx context.Context, addr string, asks []*leaseAsk) ([]followerState, error) {
	req := []byte{opLease}
	req = binary.BigEndian.AppendUint16(req, uint16(len(asks)))
	for _, a := range asks {
		req = binary.BigEndian.AppendUint16(req, uint16(a.s.id))
	}
	status, body, err := n.rpcTo(addr).call(ctx, req)
	if err != nil {
		return nil, err
	}
	if status != statusOK {
		return nil, fmt.Errorf("lease query to %s: %s", addr, body)
	}
	out := make([]followerState, 0, len(asks))
	for range asks {
		if len(body) < 17 || len(body) < 17+int(body[16]) {
			return nil, fmt.Errorf("%w: short lease answer", errBadFrame)
		}
		st := followerState{
			term:  binary.BigEndian.Uint64(body),
			since: time.Duration(binary.BigEndian.Uint64(body[8:])),
		}
		st.leader = string(body[17 : 17+int(body[16])])
		body = body[17+int(body[16]):]
		out = append(out, st)
	}
	return out, nil
}

// leaseAnswer reports, for each shard asked about, this node's term, the
// leader it follows and how long ago it last heard from it. The contact
// time is read first: whatever changes meanwhile can only make the answer
// older than it is, never newer.
func (n *Node) leaseAnswer(body []byte) []byte {
	if len(body) < 2 {
		return errorStatus(statusError, "short lease query")
	}
	count := int(binary.BigEndian.Uint16(body))
	body = body[2:]
	if len(body) != 2*count {
		return errorStatus(statusError, "bad lease query")
	}
	out := []byte{statusOK}
	for i := range count {
		id := int(binary.BigEndian.Uint16(body[2*i:]))
		if id >= len(n.shards) {
			return errorStatus(statusError, fmt.Sprintf("no shard %d", id))
		}
		r := n.shards[id].raft
		since := time.Duration(math.MaxInt64)
		if last := r.LastContact(); !last.IsZero() {
			since = time.Since(last)
		}
		_, leader := r.LeaderWithID()
		if r.State() != raft.Follower {
			leader = ""
		}
		out = binary.BigEndian.AppendUint64(out, r.CurrentTerm())
		out = binary.BigEndian.AppendUint64(out, uint64(since))
		out = append(out, byte(len(leader)))
		out = append(out, leader...)
	}
	return out
}

// transfer runs a leadership transfer with the lease suspended.
func (s *Shard) transfer(start func() raft.Future) error {
	s.lease.suspend()
	defer s.lease.resume()
	return start().Error()
}

// voteQuietTransport holds back the vote requests a node receives during
// its first heartbeat timeout after starting. Before it crashed, it may
// have acknowledged a leader's heartbeat, promising not to vote for
// another leader for a heartbeat timeout; a restart forgets the leader,
// and hashicorp/raft would grant votes at once and break the lease that
// leader holds. Held requests are delivered when the period ends (stale
// by then, and treated as such).
type voteQuietTransport struct {
	drainingTransport
	rpcs  chan raft.RPC
	until time.Time
	done  chan struct{}
	once  sync.Once
}

func newVoteQuietTransport(t drainingTransport, quiet time.Duration, log *zap.Logger) *voteQuietTransport {
	q := &voteQuietTransport{drainingTransport: t, rpcs: make(chan raft.RPC), until: time.Now().Add(quiet),
		done: make(chan struct{})}
	go q.forward(log)
	return q
}

// Consumer implements raft.Transport.
func (q *voteQuietTransport) Consumer() <-chan raft.RPC { return q.rpcs }

func (q *voteQuietTransport) forward(log *zap.Logger) {
	in := q.drainingTransport.Consumer()
	for {
		var rpc raft.RPC
		select {
		case rpc = <-in:
		case <-q.done:
			return
		}
		if _, vote := rpc.Command.(*raft.RequestVoteRequest); vote {
			if wait := time.Until(q.until); wait > 0 {
				log.Info("holding back a vote request: this node may have promised a leader its vote",
					zap.Duration("for", wait))
				go q.deliverAt(rpc, wait)
				continue
			}
		}
		select {
		case q.rpcs <- rpc:
		case <-q.done:
			return
		}
	}
}

func (q *voteQuietTransport) deliverAt(rpc raft.RPC, wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-q.done:
		return
	}
	select {
	case q.rpcs <- rpc:
	case <-q.done:
	}
}

// Close stops forwarding and closes the transport.
func (q *voteQuietTransport) Close() error {
	q.once.Do(func() { close(q.done) })
	return q.drainingTransport.Close()
}
