package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
	"go.uber.org/zap"

	"github.com/raftcache/raftcache/resp"
)

// Config configures the client-facing server.
type Config struct {
	// Addr is the address to listen on for RESP clients.
	Addr string
	// Version is raftcache's version, reported by INFO.
	Version string
	// DataDir is reported by INFO and CONFIG GET dir.
	DataDir string
}

// RedisVersion is the Redis version raftcache is compatible with and
// reports to clients, which pick features by it.
const RedisVersion = "7.2.5"

// Server serves RESP clients. Create it with New, start it with Listen
// and Serve, stop it with Close.
type Server struct {
	cfg     Config
	log     *zap.Logger
	backend Backend
	rs      *redcon.Server
	ln      net.Listener
	started time.Time
	// ctx is cancelled by Close; backend calls run under it.
	ctx    context.Context
	cancel context.CancelFunc

	nextClientID atomic.Int64
	mu           sync.Mutex
	clients      map[int64]*client

	stats    stats
	lastSave atomic.Int64 // Unix seconds of the last SAVE
}

type stats struct {
	connections atomic.Int64
	commands    atomic.Int64
	rejected    atomic.Int64
}

// New returns a server for backend. It does not listen yet.
func New(cfg Config, backend Backend, log *zap.Logger) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:     cfg,
		log:     log.Named("server").With(zap.String("node", backend.NodeID())),
		backend: backend,
		started: time.Now(),
		ctx:     ctx,
		cancel:  cancel,
		clients: make(map[int64]*client),
	}
	s.lastSave.Store(s.started.Unix())
	s.rs = redcon.NewServerNetwork("tcp", cfg.Addr, s.handle, s.accept, s.closed)
	return s
}

// Listen binds the client address.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address; valid after Listen.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts clients until Close. It returns nil after Close.
func (s *Server) Serve() error {
	if err := s.rs.Serve(s.ln); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve clients: %w", err)
	}
	return nil
}

// Close stops accepting clients and closes every connection.
func (s *Server) Close(ctx context.Context) error {
	s.cancel()
	err := s.rs.Close()
	s.mu.Lock()
	for _, c := range s.clients {
		c.netConn.Close()
	}
	s.mu.Unlock()
	// Wait for the connection goroutines to see their sockets close.
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := len(s.clients)
		s.mu.Unlock()
		if n == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("close server: %d connections still open: %w", n, ctx.Err())
		case <-t.C:
		}
	}
}

func (s *Server) accept(conn redcon.Conn) bool {
	c := &client{
		id:      s.nextClientID.Add(1),
		addr:    conn.RemoteAddr(),
		netConn: conn.NetConn(),
		proto:   resp.RESP2,
		created: time.Now(),
	}
	c.lastCmd.Store("NULL")
	if nc := conn.NetConn(); nc != nil {
		c.laddr = nc.LocalAddr().String()
	}
	conn.SetContext(c)
	s.mu.Lock()
	s.clients[c.id] = c
	s.mu.Unlock()
	s.stats.connections.Add(1)
	return true
}

func (s *Server) closed(conn redcon.Conn, err error) {
	c, _ := conn.Context().(*client)
	if c == nil {
		return
	}
	s.mu.Lock()
	delete(s.clients, c.id)
	s.mu.Unlock()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("client connection ended", zap.Int64("client", c.id), zap.String("addr", c.addr), zap.Error(err))
	}
}

// handle is redcon's handler: one command from one connection. A panic
// while serving it is logged with its stack and closes only that
// connection.
func (s *Server) handle(conn redcon.Conn, cmd redcon.Command) {
	c, _ := conn.Context().(*client)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic while serving a client; closing its connection",
				zap.Int64("client", c.id), zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			conn.Close()
		}
	}()
	s.stats.commands.Add(1)
	r := s.dispatch(conn, c, cmd.Args)
	if c.quit {
		s.write(conn, c, &r)
		conn.Close()
		return
	}
	s.write(conn, c, &r)
}

// write encodes r for the client's protocol and queues it on the
// connection; redcon flushes after the pipeline it read is served.
func (s *Server) write(conn redcon.Conn, c *client, r *resp.Reply) {
	c.buf = resp.AppendReply(c.buf[:0], r, c.proto)
	conn.WriteRaw(c.buf)
	if cap(c.buf) > 64<<10 {
		c.buf = nil // do not pin a large reply's buffer for the connection's life
	}
}
