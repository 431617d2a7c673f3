package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/tidwall/redcon"
)

// raftcache reads its clients itself; redcon remains its vocabulary. Each
// connection's goroutine reads the socket into the guard's buffer, the
// framer parses what arrived once, straight into arguments, and the
// complete requests are served as one batch (the pipeline) through the
// server's redcon handler. The arguments alias the framer's buffer and the
// commands and argument slices are the connection's, reused from batch to
// batch: reading a command allocates nothing. Replies collect in one
// buffer, written with one call once the batch is served (or once flushAt
// bytes pile up), before the connection next waits for its client.

// respConn is one client connection as the server's handlers see it: a
// redcon.Conn over a guardConn. Its methods are for the connection's own
// goroutine; other goroutines close the connection through its guardConn
// (client.kill).
type respConn struct {
	s    *Server
	g    *guardConn
	addr string
	ctx  any

	// out holds replies not yet written.
	out []byte
	// cmds is the batch being served and rest what is left of it after
	// the command being served (PeekPipeline, ReadPipeline); argv holds
	// their arguments.
	cmds []redcon.Command
	rest []redcon.Command
	argv [][]byte
	// closed is set by Close; nothing more is served.
	closed bool
}

// Past these capacities a connection lets go of its reply buffer and
// command slices after use (see also keepData and keepArgs).
const (
	keepOut  = 16 << 10
	keepCmds = 256
)

// Serve accepts clients until Close. It returns nil after Close.
func (s *Server) Serve() error {
	if s.ln == nil && s.tlsLn == nil {
		return errors.New("serve clients: not listening (call Listen first)")
	}
	if s.ln != nil {
		if _, ok := s.ln.(*guardListener); !ok {
			s.ln = newGuardListener(s.ln, s)
		}
	}
	go s.closeDeletedUsers()
	if s.tlsLn == nil {
		return s.acceptLoop(s.ln)
	}
	if s.ln == nil {
		return s.acceptLoop(s.tlsLn)
	}
	tlsErr := make(chan error, 1)
	go func() { tlsErr <- s.acceptLoop(s.tlsLn) }()
	err := s.acceptLoop(s.ln)
	if err != nil {
		_ = s.tlsLn.Close()
		<-tlsErr
		return err
	}
	return <-tlsErr
}

// acceptLoop accepts clients on one port until it closes.
func (s *Server) acceptLoop(ln net.Listener) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("serve clients: %w", err)
		}
		rc := &respConn{s: s, g: nc.(*guardConn), addr: nc.RemoteAddr().String()}
		if !s.accept(rc) {
			_ = rc.g.Close()
			continue
		}
		if s.ctx.Err() != nil {
			// Close ran meanwhile and may have missed this client.
			_ = rc.g.Close()
		}
		go rc.serve()
	}
}

// serve runs the connection until it ends, then forgets its client.
func (rc *respConn) serve() {
	err := rc.handshake()
	if err == nil {
		err = rc.run()
	}
	_ = rc.g.Close()
	if errors.Is(err, io.EOF) {
		err = nil
	}
	rc.s.closed(rc, err)
}

// run serves batch after batch of requests, and returns why it stopped:
// nil when a handler closed the connection (QUIT).
func (rc *respConn) run() error {
	f := &rc.g.f
	for {
		if err := rc.g.readRequests(rc.flush); err != nil {
			if errors.Is(err, errFramerPanic) {
				_ = rc.flush() // the replies to the commands that ran
			}
			return err
		}
		rc.cmds, rc.argv = f.requests(rc.cmds[:0], rc.argv)
		rc.rest = rc.cmds
		for len(rc.rest) > 0 && !rc.closed && !rc.g.closed.Load() {
			cmd := rc.rest[0]
			rc.rest = rc.rest[1:]
			rc.s.handle(rc, cmd)
		}
		rc.release()
		f.consume()
		switch {
		case rc.closed:
			return nil
		case rc.g.closed.Load(): // killed, or aborted by its handler
			return net.ErrClosed
		}
	}
}

// release drops the served batch's references to the framer's buffer.
func (rc *respConn) release() {
	clear(rc.cmds)
	clear(rc.argv)
	rc.rest = nil
	if cap(rc.cmds) > keepCmds {
		rc.cmds = nil
	}
	if cap(rc.argv) > keepArgs {
		rc.argv = nil
	}
}

// flush writes the replies queued.
func (rc *respConn) flush() error {
	if len(rc.out) == 0 {
		return nil
	}
	_, err := rc.g.Write(rc.out)
	if cap(rc.out) > keepOut {
		rc.out = nil
	} else {
		rc.out = rc.out[:0]
	}
	if err != nil {
		return fmt.Errorf("write replies: %w", err)
	}
	return nil
}

// abort closes the connection from inside its handler without writing
// the replies queued, and drops the rest of the batch.
func (rc *respConn) abort() {
	rc.rest = nil
	rc.out = rc.out[:0]
	_ = rc.g.Close()
}

// Close writes the replies queued and closes the connection; nothing more
// of the batch is served.
func (rc *respConn) Close() error {
	if rc.closed {
		return nil
	}
	rc.closed = true
	_ = rc.flush()
	return rc.g.Close()
}

func (rc *respConn) RemoteAddr() string          { return rc.addr }
func (rc *respConn) NetConn() net.Conn           { return rc.g }
func (rc *respConn) Context() any                { return rc.ctx }
func (rc *respConn) SetContext(v any)            { rc.ctx = v }
func (rc *respConn) SetReadBuffer(int)           {}
func (rc *respConn) WriteError(msg string)       { rc.out = redcon.AppendError(rc.out, msg) }
func (rc *respConn) WriteString(str string)      { rc.out = redcon.AppendString(rc.out, str) }
func (rc *respConn) WriteBulk(bulk []byte)       { rc.out = redcon.AppendBulk(rc.out, bulk) }
func (rc *respConn) WriteBulkString(bulk string) { rc.out = redcon.AppendBulkString(rc.out, bulk) }
func (rc *respConn) WriteInt(num int)            { rc.out = redcon.AppendInt(rc.out, int64(num)) }
func (rc *respConn) WriteInt64(num int64)        { rc.out = redcon.AppendInt(rc.out, num) }
func (rc *respConn) WriteUint64(num uint64)      { rc.out = redcon.AppendUint(rc.out, num) }
func (rc *respConn) WriteArray(count int)        { rc.out = redcon.AppendArray(rc.out, count) }
func (rc *respConn) WriteNull()                  { rc.out = redcon.AppendNull(rc.out) }
func (rc *respConn) WriteRaw(data []byte)        { rc.out = append(rc.out, data...) }
func (rc *respConn) WriteAny(v any)              { rc.out = redcon.AppendAny(rc.out, v) }

// WriteBulkFrom writes a bulk string of n bytes read from rb.
func (rc *respConn) WriteBulkFrom(n int64, rb io.Reader) {
	rc.out = append(strconv.AppendInt(append(rc.out, '$'), n, 10), '\r', '\n')
	b := bytes.NewBuffer(rc.out)
	_, _ = io.CopyN(b, rb, n)
	rc.out = append(b.Bytes(), '\r', '\n')
}

// ReadPipeline takes the rest of the batch: its commands are then the
// caller's to serve.
func (rc *respConn) ReadPipeline() []redcon.Command {
	cmds := rc.rest
	rc.rest = nil
	return cmds
}

// PeekPipeline returns the rest of the batch, which stays to be served.
func (rc *respConn) PeekPipeline() []redcon.Command { return rc.rest }

// errDetach is what a detached connection reports.
var errDetach = errors.New("raftcache connections cannot be detached")

// Detach is not supported: no raftcache command takes its connection over
// (there is no SUBSCRIBE or MONITOR). It closes the connection and
// returns a DetachedConn that reports errDetach.
func (rc *respConn) Detach() redcon.DetachedConn {
	_ = rc.Close()
	return detachedConn{rc}
}

type detachedConn struct{ *respConn }

func (detachedConn) ReadCommand() (redcon.Command, error) { return redcon.Command{}, errDetach }
func (detachedConn) Flush() error                         { return errDetach }

var _ redcon.Conn = (*respConn)(nil)
