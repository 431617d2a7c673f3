package server

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/raftcache/raftcache/resp"
)

// The guard keeps one client from harming the process or other clients.
// raftcache's listener admits connections (maxclients, protected mode) and
// wraps each in a guardConn: its requests are read only through the
// framer, which bounds everything it buffers and answers malformed input
// with Redis's errors; its Write bounds how long a reply may wait for a
// client that does not read; it counts itself against maxclients.

// guardListener admits connections: maxclients, protected mode, TCP
// keepalive (set by the listener it wraps), and a pause after accept
// errors such as EMFILE, which would otherwise be retried in a tight loop.
type guardListener struct {
	net.Listener
	s *Server
	// protect applies protected mode: it is on, no password is set, and
	// the listener takes connections on every interface.
	protect bool
	// active counts the open connections of every listener of the server
	// (the plain and the TLS port share maxclients).
	active *atomic.Int64
	// tls, when set, makes this the TLS port: each admitted connection is
	// a TLS server connection, its handshake run by the connection's own
	// goroutine under tlsHandshakeTimeout (respConn.serve).
	tls    *tls.Config
	done   chan struct{}
	closed atomic.Bool
}

func newGuardListener(ln net.Listener, s *Server) *guardListener {
	l := &guardListener{Listener: ln, s: s, active: &s.active, done: make(chan struct{})}
	if a, ok := ln.Addr().(*net.TCPAddr); ok && s.cfg.ProtectedMode && !s.users().AuthRequired() {
		l.protect = a.IP == nil || a.IP.IsUnspecified()
	}
	return l
}

// Accept returns the next admitted connection, wrapped in a guardConn.
func (l *guardListener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.s.log.Warn("accepting a client connection failed; retrying", zap.Error(err), zap.Duration("retry_in", backoff))
			select {
			case <-l.done:
				return nil, net.ErrClosed
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		switch {
		case l.active.Load() >= int64(l.s.limits.MaxClients):
			l.reject(nc, resp.ErrMaxClients, "max number of clients reached")
		case l.protect && !isLoopback(nc.RemoteAddr()):
			l.reject(nc, resp.ErrProtectedMode, "protected mode")
		default:
			l.active.Add(1)
			if l.tls != nil {
				nc = tls.Server(nc, l.tls)
			}
			return newGuardConn(nc, l), nil
		}
	}
}

// reject sends a refused connection its error and closes it. A new
// socket's send buffer is empty, so the write does not wait; the deadline
// only makes sure of it.
func (l *guardListener) reject(nc net.Conn, e *resp.Error, reason string) {
	l.s.stats.rejected.Add(1)
	l.s.log.Debug("client connection refused", zap.String("addr", nc.RemoteAddr().String()), zap.String("reason", reason))
	if l.tls != nil {
		// Plain text would be garbage to a TLS client: it sees the
		// connection close, as before a handshake failure.
		_ = nc.Close()
		return
	}
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write([]byte("-" + e.Error() + "\r\n"))
	_ = nc.Close()
}

// Close stops accepting.
func (l *guardListener) Close() error {
	if !l.closed.Swap(true) {
		close(l.done)
	}
	return l.Listener.Close()
}

// isLoopback reports whether a client connects from the loopback
// interface. Addresses other than TCP (a Unix socket, an in-memory pipe)
// are local.
func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return !ok || t.IP.IsLoopback()
}

// guardConn is one client's socket. readRequests and Write are called by
// the connection's goroutine only; Close may come from anywhere. Its Read
// is the socket's: requests are read with readRequests.
type guardConn struct {
	net.Conn
	ln  *guardListener
	s   *Server
	lim *Limits
	id  int64 // the client's id, set by Server.accept

	// authed is false until the client authenticates, when a password is
	// set. It is read and written by the connection's goroutine only: by
	// Read to bound unauthenticated requests, by AUTH, HELLO and RESET.
	authed bool

	f              framer
	in             []byte
	inPos, inEnd   int
	readErr        error
	readDL, wrDL   time.Time // deadlines last set on the socket
	closed         atomic.Bool
	panicNextRead  atomic.Bool // tests: make the next readRequests panic
	idleSlack      time.Duration
	writeSlack     time.Duration
	protocolFailed bool
}

// inBufSize is how much one socket read takes.
const inBufSize = 8 << 10

func newGuardConn(nc net.Conn, l *guardListener) *guardConn {
	s := l.s
	g := &guardConn{
		Conn:   nc,
		ln:     l,
		s:      s,
		lim:    &s.limits,
		authed: !s.users().AuthRequired(),
		f:      newFramer(s.limits),
		in:     make([]byte, inBufSize),
	}
	g.idleSlack = min(s.limits.IdleTimeout/8, time.Second)
	g.writeSlack = min(s.limits.WriteTimeout/8, time.Second)
	return g
}

var (
	errIdleTimeout    = &guardError{"idle timeout"}
	errWriteStalled   = &guardError{"client stopped reading its replies"}
	errProtocolClosed = &guardError{"protocol error"}
)

func (g *guardConn) logFields(more ...zap.Field) []zap.Field {
	return append([]zap.Field{zap.Int64("client", g.id), zap.String("addr", g.RemoteAddr().String())}, more...)
}

// unauthenticated reports whether requests must be bounded as Redis
// bounds them before AUTH.
func (g *guardConn) unauthenticated() bool { return !g.authed }

// readRequests frames what the client sent until at least one complete
// request waits in g.f, reading the socket when the input read before is
// used up; before each socket read it calls flush, so that every reply is
// on its way before the connection waits for its client. A protocol error
// is returned (after answering it, see fail) only once the requests before
// it are served.
func (g *guardConn) readRequests(flush func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			g.s.log.Error("panic while reading a client's request; closing its connection",
				g.logFields(zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))...)
			g.f.err = errFramerPanic
			err = errFramerPanic
		}
	}()
	if g.panicNextRead.Load() {
		panic("guard test: injected panic")
	}
	f := &g.f
	for len(f.reqs) == 0 {
		if f.err != nil {
			if err := flush(); err != nil {
				return err
			}
			return g.fail(f.err)
		}
		if g.inPos < g.inEnd {
			f.unauth = g.unauthenticated()
			g.inPos += f.feed(g.in[g.inPos:g.inEnd])
			if f.err != nil {
				f.dropPartial()
			}
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if g.readErr != nil {
			return g.readErr
		}
		m, rerr := g.readSocket()
		g.inPos, g.inEnd = 0, m
		g.readErr = rerr
	}
	return nil
}

// readSocket reads what the client sent, closing it after IdleTimeout
// without a byte.
func (g *guardConn) readSocket() (int, error) {
	if idle := g.lim.IdleTimeout; idle > 0 {
		now := time.Now()
		if g.readDL.Before(now.Add(idle)) {
			g.readDL = now.Add(idle + g.idleSlack)
			_ = g.Conn.SetReadDeadline(g.readDL)
		}
	}
	n, err := g.Conn.Read(g.in)
	g.s.stats.netIn.Add(int64(n))
	if err != nil && g.lim.IdleTimeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		g.s.log.Debug("closing idle client", g.logFields(zap.Duration("timeout", g.lim.IdleTimeout))...)
		err = errIdleTimeout
	}
	return n, err
}

// fail reports the framer's error: a protocol error is answered, and the
// connection closes after the answer, as Redis closes it.
func (g *guardConn) fail(err error) error {
	var re *resp.Error
	switch {
	case errors.As(err, &re):
		if !g.protocolFailed {
			g.protocolFailed = true
			g.s.log.Debug("protocol error from client; closing its connection", g.logFields(zap.String("error", re.Error()))...)
			_, _ = g.Write([]byte("-" + re.Error() + "\r\n"))
			g.lingerClose()
		}
		return errProtocolClosed
	case err == errQueryBufferLimit:
		g.s.log.Warn("closing client that reached the query buffer limit",
			g.logFields(zap.Int64("limit", g.lim.QueryBufferLimit))...)
	}
	return err
}

// lingerClose ends the connection's write side after a protocol error
// reply and reads, for a moment, what the client still sends, so that
// closing a socket with unread input (which sends RST) does not destroy
// the reply before the client reads it.
func (g *guardConn) lingerClose() {
	tc, ok := g.Conn.(interface{ CloseWrite() error })
	if !ok || tc.CloseWrite() != nil {
		return
	}
	_ = g.Conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
	for budget := 256 << 10; budget > 0; {
		n, err := g.Conn.Read(g.in)
		if err != nil {
			return
		}
		budget -= n
	}
}

// Write writes a flush of replies. A client that accepts none of them for
// WriteTimeout is closed; one that reads slowly keeps its connection.
func (g *guardConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if g.closed.Load() {
		return 0, net.ErrClosed
	}
	written := 0
	force := false
	for {
		now := time.Now()
		if force || g.wrDL.Before(now.Add(g.lim.WriteTimeout)) {
			g.wrDL = now.Add(g.lim.WriteTimeout + g.writeSlack)
			_ = g.Conn.SetWriteDeadline(g.wrDL)
		}
		n, err := g.Conn.Write(b[written:])
		written += n
		g.s.stats.netOut.Add(int64(n))
		if err == nil {
			return written, nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return written, err
		}
		if n == 0 {
			g.s.log.Warn("closing client that stopped reading its replies",
				g.logFields(zap.Duration("timeout", g.lim.WriteTimeout), zap.Int("unsent", len(b)-written))...)
			return written, errWriteStalled
		}
		force = true // it reads, slowly: give it another WriteTimeout
	}
}

// Close closes the connection once and frees its maxclients slot.
func (g *guardConn) Close() error {
	if g.closed.Swap(true) {
		return nil
	}
	if a := g.ln.active; a != nil { // nil only for listeners tests make by hand
		a.Add(-1)
	}
	return g.Conn.Close()
}

// flushAt is how many reply bytes one pipeline may pile up before they
// are written to the socket, mid-pipeline; otherwise replies are written
// once the requests read are served.
const flushAt = 256 << 10

// queueReply encodes one reply onto the connection's queue, keeping what
// the server holds for the client under OutputBufferLimit: replies are
// written once flushAt bytes pile up (a client that does not read then
// blocks only its own goroutine, until WriteTimeout), and a reply that
// takes the pile past the limit closes the connection instead, unsent,
// running nothing more of its pipeline.
func (s *Server) queueReply(rc *respConn, c *client, r *resp.Reply) {
	queued := len(rc.out)
	rc.out = resp.AppendReply(rc.out, r, c.proto)
	if int64(len(rc.out)) > s.limits.OutputBufferLimit {
		s.log.Warn("closing client that reached the output buffer limit",
			rc.g.logFields(zap.Int64("limit", s.limits.OutputBufferLimit), zap.Int("reply_bytes", len(rc.out)-queued),
				zap.Int("queued_bytes", queued))...)
		c.aborted = true
		rc.abort()
		return
	}
	if len(rc.out) >= flushAt && rc.flush() != nil {
		c.aborted = true
		rc.abort()
	}
}

// authenticated reports whether the client may run commands other than
// AUTH, HELLO and QUIT. A connection without a guard (benchmarks only) is.
func (c *client) authenticated() bool {
	g, _ := c.netConn.(*guardConn)
	return g == nil || g.authed
}

// setAuthenticated records a successful AUTH or HELLO AUTH.
func (c *client) setAuthenticated() {
	if g, _ := c.netConn.(*guardConn); g != nil {
		g.authed = true
	}
}
