package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/raftcache/raftcache/internal/tlsconf"
	"github.com/raftcache/raftcache/resp"
)

// Internal RPC between nodes shares the cluster port (mux kind
// connKindRPC). A connection carries one request at a time: a frame is a
// 4-byte big-endian length and a payload. Requests start with an op byte,
// responses with a status byte.
const (
	connKindRPC = 2

	opPropose = 1 // shard(2) entry → replies
	opRead    = 2 // shard(2) entry of read commands → replies
	opInfo    = 3 // → node id, client address, cluster address, shard count
	opIndexes = 4 // shard(2) → applied, commit and last log index (8 each)
	// Membership changes, served by the shard's leader: shard(2), node id
	// and cluster address (length-prefixed strings).
	opAddVoter     = 5
	opRemoveServer = 6
	opRemoved      = 7 // tells a node it was removed from the cluster
	// opLease: count(2) shard(2)... → per shard term(8), nanoseconds
	// since the last contact with its leader(8), leader id (length-prefixed
	// byte); see lease.go.
	opLease = 8
	// opEviction: maxmemory and its policy (evict.go) → a status.
	opEviction = 9

	statusOK        = 0 // replies follow
	statusNotLeader = 1 // leader id follows (may be empty); nothing was proposed
	statusUnknown   = 2 // message follows; a write may or may not have applied
	statusError     = 3 // message follows

	maxFrame        = 1 << 30
	rpcTimeout      = 30 * time.Second
	maxCallsPerConn = 4096 // requests of one connection served at once
)

var errBadFrame = errors.New("malformed rpc frame")

func writeFrame(w io.Writer, payload []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("%w: %d bytes", errBadFrame, n)
	}
	// Grow with the data that arrives, not with the claimed length.
	buf, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, err
	}
	if uint32(len(buf)) != n {
		return nil, io.ErrUnexpectedEOF
	}
	return buf, nil
}

// serveRPC accepts internal RPC connections until the layer closes.
func (n *Node) serveRPC(l *streamLayer) {
	defer n.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.serveRPCConn(c)
		}()
	}
}

func (n *Node) serveRPCConn(c net.Conn) {
	defer c.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-n.stop:
			c.Close()
		case <-done:
		}
	}()
	r := bufio.NewReader(c)
	w := &frameWriter{w: bufio.NewWriter(c)}
	var calls sync.WaitGroup
	defer calls.Wait()
	sem := make(chan struct{}, maxCallsPerConn)
	for {
		req, err := readFrame(r)
		if err != nil {
			return
		}
		if len(req) < 8 {
			return
		}
		sem <- struct{}{}
		calls.Add(1)
		go func() {
			defer func() { <-sem; calls.Done() }()
			resp := append(append(make([]byte, 0, 64), req[:8]...), n.handleRPC(req[8:])...)
			if w.write(resp) != nil {
				c.Close()
			}
		}()
	}
}

// handleRPC serves one request on this node only: a forwarded command is
// never forwarded again, so a stale view of leadership cannot loop.
func (n *Node) handleRPC(req []byte) []byte {
	if len(req) == 0 {
		return errorStatus(statusError, "empty request")
	}
	op, body := req[0], req[1:]
	switch op {
	case opInfo:
		return n.infoResponse()
	case opAddVoter, opRemoveServer:
		return n.handleMembership(op, body)
	case opRemoved:
		if err := n.markRemoved(); err != nil {
			return errorStatus(statusError, err.Error())
		}
		return []byte{statusOK}
	case opLease:
		return n.leaseAnswer(body)
	case opEviction:
		return n.handleEviction(body)
	case opIndexes:
		select {
		case <-n.stop: // shutting down: not a node to hand leadership to
			return errorStatus(statusError, "node is shutting down")
		default:
		}
		if len(body) < 2 || int(binary.BigEndian.Uint16(body)) >= len(n.shards) {
			return errorStatus(statusError, "bad shard")
		}
		r := n.shards[binary.BigEndian.Uint16(body)].raft
		out := []byte{statusOK}
		out = binary.BigEndian.AppendUint64(out, r.AppliedIndex())
		out = binary.BigEndian.AppendUint64(out, r.CommitIndex())
		return binary.BigEndian.AppendUint64(out, r.LastIndex())
	case opPropose, opRead:
		if len(body) < 2 {
			return errorStatus(statusError, "short request")
		}
		shard := int(binary.BigEndian.Uint16(body))
		if shard >= len(n.shards) {
			return errorStatus(statusError, fmt.Sprintf("no shard %d", shard))
		}
		e, err := decodeEntry(body[2:])
		if err != nil {
			return errorStatus(statusError, err.Error())
		}
		ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
		defer cancel()
		s := n.shards[shard]
		if op == opPropose {
			replies, err := s.Propose(ctx, e.cmds)
			if err != nil {
				return statusOf(err)
			}
			return resp.AppendReplies([]byte{statusOK}, replies)
		}
		replies, err := s.ReadBatch(ctx, e.cmds, nil)
		if err != nil {
			return statusOf(err)
		}
		return resp.AppendReplies([]byte{statusOK}, replies)
	}
	return errorStatus(statusError, fmt.Sprintf("unknown op %d", op))
}

func errorStatus(status byte, msg string) []byte {
	return append([]byte{status}, msg...)
}

func statusOf(err error) []byte {
	var nl *NotLeaderError
	switch {
	case errors.As(err, &nl):
		return errorStatus(statusNotLeader, nl.LeaderID)
	case errors.Is(err, ErrUnknownOutcome):
		return errorStatus(statusUnknown, err.Error())
	}
	return errorStatus(statusError, err.Error())
}

// rpcClient multiplexes calls to one peer over one connection: each
// request carries an 8-byte id that its response echoes, so any number of
// calls are in flight at once and a slow one delays nobody.
type rpcClient struct {
	addr   string
	tls    *tlsconf.Reloader // nil: plain text
	mu     sync.Mutex
	conn   *muxConn
	closed bool
}

// frameWriter writes frames from many goroutines and flushes them in
// groups: a writer flushes only when no other is queued behind it, so a
// burst of calls (or answers) costs one write system call, not one each.
type frameWriter struct {
	queued atomic.Int32
	mu     sync.Mutex
	w      *bufio.Writer
	err    error
	// conn, when set, gets a write deadline rpcTimeout ahead, moved on
	// every half of it: a peer that stops reading fails the writes.
	conn     net.Conn
	deadline time.Time
}

func (fw *frameWriter) write(frame []byte) error {
	fw.queued.Add(1)
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if now := time.Now(); fw.conn != nil && fw.deadline.Sub(now) < rpcTimeout/2 {
		fw.deadline = now.Add(rpcTimeout)
		_ = fw.conn.SetWriteDeadline(fw.deadline)
	}
	if fw.err == nil {
		fw.err = writeFrame(fw.w, frame)
	}
	if fw.queued.Add(-1) == 0 && fw.err == nil {
		fw.err = fw.w.Flush()
	}
	return fw.err
}

// muxConn is one multiplexed connection. A reader goroutine delivers
// responses by id; when the connection breaks, every call still waiting
// fails.
type muxConn struct {
	c net.Conn
	w *frameWriter

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan rpcResult
	dead    error
}

type rpcResult struct {
	status byte
	body   []byte
	err    error
}

// errNotSent marks a call whose request never left this node.
var errNotSent = errors.New("request not sent")

// call sends one request and returns the response's status and body. An
// error wrapping errNotSent means the peer cannot have seen the request;
// any other error (a broken connection, ctx ending) leaves it unknown
// whether the peer acted on it.
func (c *rpcClient) call(ctx context.Context, req []byte) (byte, []byte, error) {
	mc, err := c.connect(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errNotSent, err)
	}
	id, ch, err := mc.register()
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errNotSent, err)
	}
	frame := make([]byte, 8, 8+len(req))
	binary.BigEndian.PutUint64(frame, id)
	frame = append(frame, req...)
	if err := mc.w.write(frame); err != nil {
		mc.fail(fmt.Errorf("rpc to %s: %w", c.addr, err))
	}
	timer := time.NewTimer(rpcTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.status, r.body, r.err
	case <-ctx.Done():
		mc.forget(id)
		return 0, nil, fmt.Errorf("rpc to %s abandoned: %w", c.addr, ctx.Err())
	case <-timer.C:
		mc.forget(id)
		return 0, nil, fmt.Errorf("rpc to %s: no answer within %v", c.addr, rpcTimeout)
	}
}

// connect returns the live connection, dialling one if needed.
func (c *rpcClient) connect(ctx context.Context) (*muxConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrShutdown
	}
	// A peer that dies closes its sockets; the reader goroutine sees that
	// at once and marks the connection dead, so only a call racing with
	// the death itself can be written to a dead connection (its outcome is
	// then reported unknown).
	if c.conn != nil && !c.conn.isDead() {
		return c.conn, nil
	}
	timeout := 3 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	nc, err := dialMux(c.addr, muxKey{kind: connKindRPC}, timeout, c.tls)
	if err != nil {
		return nil, err
	}
	mc := &muxConn{c: nc, w: &frameWriter{w: bufio.NewWriter(nc), conn: nc}, pending: make(map[uint64]chan rpcResult)}
	go mc.readLoop()
	c.conn = mc
	return mc, nil
}

func (mc *muxConn) isDead() bool {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.dead != nil
}

func (mc *muxConn) register() (uint64, chan rpcResult, error) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.dead != nil {
		return 0, nil, mc.dead
	}
	mc.nextID++
	ch := make(chan rpcResult, 1)
	mc.pending[mc.nextID] = ch
	return mc.nextID, ch, nil
}

func (mc *muxConn) forget(id uint64) {
	mc.mu.Lock()
	delete(mc.pending, id)
	mc.mu.Unlock()
}

// fail marks the connection dead and fails every waiting call.
func (mc *muxConn) fail(err error) {
	mc.mu.Lock()
	if mc.dead == nil {
		mc.dead = err
	}
	pending := mc.pending
	mc.pending = map[uint64]chan rpcResult{}
	mc.mu.Unlock()
	mc.c.Close()
	for _, ch := range pending {
		ch <- rpcResult{err: err}
	}
}

func (mc *muxConn) readLoop() {
	r := bufio.NewReader(mc.c)
	for {
		frame, err := readFrame(r)
		if err == nil && len(frame) < 9 {
			err = fmt.Errorf("%w: short response", errBadFrame)
		}
		if err != nil {
			mc.fail(fmt.Errorf("rpc connection to %s: %w", mc.c.RemoteAddr(), err))
			return
		}
		id := binary.BigEndian.Uint64(frame)
		mc.mu.Lock()
		ch := mc.pending[id]
		delete(mc.pending, id)
		mc.mu.Unlock()
		if ch != nil {
			ch <- rpcResult{status: frame[8], body: frame[9:]}
		}
	}
}

func (c *rpcClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn != nil {
		c.conn.fail(ErrShutdown)
	}
}

// rpcTo returns the client for a peer's cluster address.
func (n *Node) rpcTo(addr string) *rpcClient {
	n.rpcMu.Lock()
	defer n.rpcMu.Unlock()
	c := n.rpcClients[addr]
	if c == nil {
		c = &rpcClient{addr: addr, tls: n.cfg.TLS}
		n.rpcClients[addr] = c
	}
	return c
}

// forward sends a propose or read to the node at addr, which serves it
// only if it leads the shard. Errors follow Shard.Propose: a
// *NotLeaderError means nothing was proposed.
func (n *Node) forward(ctx context.Context, addr string, op byte, shard int, cmds [][][]byte) ([]byte, error) {
	req := []byte{op, 0, 0}
	binary.BigEndian.PutUint16(req[1:], uint16(shard))
	req = encodeEntry(req, 0, cmds)
	status, body, err := n.rpcTo(addr).call(ctx, req)
	if err != nil {
		if errors.Is(err, errNotSent) || op == opRead {
			n.log.Debug("forward failed", zap.String("to", addr), zap.Int("shard", shard), zap.Error(err))
			return nil, &NotLeaderError{Shard: shard}
		}
		n.log.Warn("forwarded write failed with its outcome unknown", zap.String("to", addr), zap.Int("shard", shard), zap.Error(err))
		return nil, fmt.Errorf("shard %d: %w: forwarded to %s: %w", shard, ErrUnknownOutcome, addr, err)
	}
	switch status {
	case statusOK:
		return body, nil
	case statusNotLeader:
		id := string(body)
		return nil, &NotLeaderError{Shard: shard, LeaderID: id, LeaderAddr: n.clientAddrOf(id)}
	case statusUnknown:
		return nil, fmt.Errorf("shard %d: %w: %s", shard, ErrUnknownOutcome, body)
	}
	return nil, fmt.Errorf("shard %d: forwarded to %s: %s", shard, addr, body)
}
