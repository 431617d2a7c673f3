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
	"time"

	"go.uber.org/zap"
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

	statusOK        = 0 // replies follow
	statusNotLeader = 1 // leader id follows (may be empty); nothing was proposed
	statusUnknown   = 2 // message follows; a write may or may not have applied
	statusError     = 3 // message follows

	maxFrame       = 1 << 30
	rpcTimeout     = 30 * time.Second
	maxIdlePerPeer = 16
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
	w := bufio.NewWriter(c)
	for {
		req, err := readFrame(r)
		if err != nil {
			return
		}
		resp := n.handleRPC(req)
		if err := writeFrame(w, resp); err != nil {
			return
		}
		if err := w.Flush(); err != nil {
			return
		}
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
	case opIndexes:
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
			return appendReplies([]byte{statusOK}, replies)
		}
		replies, err := s.ReadBatch(ctx, e.cmds)
		if err != nil {
			return statusOf(err)
		}
		return appendReplies([]byte{statusOK}, replies)
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

// rpcClient keeps idle connections to one peer's cluster port.
type rpcClient struct {
	addr string
	mu   sync.Mutex
	idle []net.Conn
}

type rpcConn struct {
	net.Conn
	r *bufio.Reader
}

// errNotSent marks a call whose request never left this node.
var errNotSent = errors.New("request not sent")

// call sends one request and returns the response's status and body. An
// error wrapping errNotSent means the peer cannot have seen the request.
func (c *rpcClient) call(ctx context.Context, req []byte) (byte, []byte, error) {
	conn, err := c.get(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errNotSent, err)
	}
	deadline := time.Now().Add(rpcTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	// Cancelling ctx abandons the call: the connection is closed, which
	// unblocks the read below.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := writeFrame(conn, req); err != nil {
		conn.Close()
		return 0, nil, fmt.Errorf("rpc to %s: %w", c.addr, err)
	}
	resp, err := readFrame(conn.r)
	if err != nil {
		conn.Close()
		return 0, nil, fmt.Errorf("rpc to %s: %w", c.addr, err)
	}
	if len(resp) == 0 {
		conn.Close()
		return 0, nil, fmt.Errorf("rpc to %s: %w: empty response", c.addr, errBadFrame)
	}
	if !stop() {
		// ctx ended just as the response arrived; the connection is closed.
		return resp[0], resp[1:], nil
	}
	_ = conn.SetDeadline(time.Time{})
	c.put(conn)
	return resp[0], resp[1:], nil
}

func (c *rpcClient) get(ctx context.Context) (*rpcConn, error) {
	for {
		c.mu.Lock()
		k := len(c.idle)
		if k == 0 {
			c.mu.Unlock()
			break
		}
		conn := c.idle[k-1].(*rpcConn)
		c.idle = c.idle[:k-1]
		c.mu.Unlock()
		if conn.alive() {
			return conn, nil
		}
		conn.Close()
	}
	timeout := 3 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	nc, err := dialMux(c.addr, muxKey{kind: connKindRPC}, timeout)
	if err != nil {
		return nil, err
	}
	return &rpcConn{Conn: nc, r: bufio.NewReader(nc)}, nil
}

// alive reports whether an idle connection is still usable. A request
// written to a dead pooled connection could not be told apart from one the
// peer received, so dead ones are dropped before use.
func (c *rpcConn) alive() bool {
	return c.r.Buffered() == 0 && !peerClosed(c.Conn)
}

func (c *rpcClient) put(conn *rpcConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.idle) >= maxIdlePerPeer {
		conn.Close()
		return
	}
	c.idle = append(c.idle, conn)
}

func (c *rpcClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.idle {
		conn.Close()
	}
	c.idle = nil
}

// rpcTo returns the client for a peer's cluster address.
func (n *Node) rpcTo(addr string) *rpcClient {
	n.rpcMu.Lock()
	defer n.rpcMu.Unlock()
	c := n.rpcClients[addr]
	if c == nil {
		c = &rpcClient{addr: addr}
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
