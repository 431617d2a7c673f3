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

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/internal/tlsconf"
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

	// Limits bound what one client can make the server do; zero fields
	// take their defaults.
	Limits Limits
	// RequirePass, when set, is given to the default user of the
	// backend's ACL users by New (a password hash only; New clears it
	// from the Config it stores). cmd/raftcache sets it on the users
	// before the node starts instead, so that the replicated users,
	// restored from shard 0's log, come after it (see cluster/acl.go).
	RequirePass string
	// ACLFile is the aclfile of ACL SAVE and ACL LOAD; empty: none.
	ACLFile string
	// ProtectedMode refuses clients from non-loopback addresses while no
	// password is set and the server listens on every interface, as
	// Redis's protected-mode (cmd/raftcache turns it on by default).
	ProtectedMode bool

	// Params are runtime parameters (slowlog-log-slower-than, ...) set at
	// start as CONFIG SET would set them; Listen refuses bad ones.
	Params []Param
	// LogLevel, if set, is the level CONFIG SET log-level changes.
	LogLevel *zap.AtomicLevel
	// ConfigFile is the configuration file the node was started with
	// (INFO's config_file; CONFIG REWRITE writes to it); empty: none.
	ConfigFile string

	// TLS, when set, is the TLS material of the client port (and of the
	// cluster port when TLSCluster): CONFIG SET of the tls-* options
	// reloads it. TLSAddr is where TLS clients connect (Redis's tls-port);
	// empty: no TLS port. With TLS, Addr may be empty: no plain-text port
	// (Redis's port 0).
	TLS     *tlsconf.Reloader
	TLSAddr string
	// TLSCluster says the cluster port speaks TLS (CONFIG GET tls-cluster).
	TLSCluster bool
	// TLSHandshakeTimeout bounds a client's TLS handshake (0: 10 s).
	TLSHandshakeTimeout time.Duration
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
	ln      net.Listener
	tlsLn   *guardListener // nil without a TLS port
	// active counts the open client connections of both ports.
	active  atomic.Int64
	started time.Time
	// ctx is cancelled by Close; backend calls run under it.
	ctx    context.Context
	cancel context.CancelFunc

	nextClientID atomic.Int64
	mu           sync.Mutex
	clients      map[int64]*client

	stats    stats
	lastSave atomic.Int64 // Unix seconds of the last SAVE

	// startupMemory is the memory in use when the server was made, and
	// peakMemory the highest seen since (INFO memory, MEMORY STATS).
	startupMemory int64
	peakMemory    atomic.Int64

	// ranges holds each shard's first and last slot (see shardRange).
	rangesOnce sync.Once
	ranges     [][2]int

	pause pauseState
	conf  runtimeConfig

	slowlog slowlog
	latency latencyMonitor

	// limits are cfg.Limits with the defaults filled in.
	limits Limits
	// aclLog is the node's ACL LOG (acl.go).
	aclLog *acl.Log
	// xtx coordinates cross-shard transactions (xtx.go).
	xtx *xcoord
}

type stats struct {
	connections atomic.Int64
	commands    atomic.Int64
	rejected    atomic.Int64
	errors      atomic.Int64 // error replies sent
	saves       atomic.Int64 // SAVE and BGSAVE done
	netIn       atomic.Int64 // bytes read from clients
	netOut      atomic.Int64 // bytes written to clients
	// tlsHandshakeFailures counts TLS handshakes that failed or timed out.
	tlsHandshakeFailures atomic.Int64
	perCommand           sync.Map // full command name → *commandStats
	perError             sync.Map // error code → *atomic.Int64
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
		limits:  cfg.Limits.withDefaults(),
		aclLog:  acl.NewLog(acl.DefaultLogMaxLen),
	}
	if cfg.RequirePass != "" {
		backend.ACL().SetRequirePass([]byte(cfg.RequirePass))
	}
	s.cfg.RequirePass = ""
	s.xtx = newXCoord(s.log)
	s.lastSave.Store(s.started.Unix())
	s.startupMemory = s.memoryReport().used
	s.initConfig()
	return s
}

// Listen binds the client address. Connections are admitted by the guard
// (guard.go) and served by Serve (respconn.go).
func (s *Server) Listen() error {
	if err := s.limits.Validate(); err != nil {
		return err
	}
	if err := s.setParams(s.cfg.Params); err != nil {
		return err
	}
	if s.cfg.Addr == "" && s.cfg.TLSAddr == "" {
		return errors.New("no client port: set an address, a TLS address, or both")
	}
	if s.cfg.TLSAddr != "" && s.cfg.TLS == nil {
		return errors.New("a TLS port needs the TLS certificate and key")
	}
	lc := net.ListenConfig{KeepAlive: -1}
	if ka := s.limits.TCPKeepAlive; ka > 0 {
		lc.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: ka, Interval: max(ka/3, time.Second), Count: 3}
	}
	if s.cfg.Addr != "" {
		ln, err := lc.Listen(context.Background(), "tcp", s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
		}
		s.ln = newGuardListener(ln, s)
	}
	if s.cfg.TLSAddr != "" {
		ln, err := lc.Listen(context.Background(), "tcp", s.cfg.TLSAddr)
		if err != nil {
			if s.ln != nil {
				_ = s.ln.Close()
			}
			return fmt.Errorf("listen for TLS on %s: %w", s.cfg.TLSAddr, err)
		}
		s.tlsLn = newGuardListener(ln, s)
		s.tlsLn.tls = s.cfg.TLS.ServerConfig()
	}
	return nil
}

// Addr returns the bound plain-text address, or the TLS one when there is
// no plain-text port; valid after Listen.
func (s *Server) Addr() net.Addr {
	if s.ln == nil && s.tlsLn != nil {
		return s.tlsLn.Addr()
	}
	return s.ln.Addr()
}

// TLSAddr returns the bound TLS address, or nil without a TLS port.
func (s *Server) TLSAddr() net.Addr {
	if s.tlsLn == nil {
		return nil
	}
	return s.tlsLn.Addr()
}

// Close stops accepting clients and closes every connection.
func (s *Server) Close(ctx context.Context) error {
	s.cancel()
	s.unpauseClients()
	var err error
	if s.ln != nil {
		if cerr := s.ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("close the client listener: %w", cerr)
		}
	}
	if s.tlsLn != nil {
		if cerr := s.tlsLn.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
			err = fmt.Errorf("close the TLS client listener: %w", cerr)
		}
	}
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
		created: time.Now(),
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	c.setProto(resp.RESP2)
	c.shared.multi.Store(-1)
	c.lastCmd.Store(&noCommand)
	s.startUser(c)
	if nc := conn.NetConn(); nc != nil {
		c.laddr = nc.LocalAddr().String()
	}
	if g, ok := conn.NetConn().(*guardConn); ok {
		g.id = c.id
	}
	conn.SetContext(c)
	s.mu.Lock()
	s.clients[c.id] = c
	s.mu.Unlock()
	s.stats.connections.Add(1)
	return true
}

// noCommand is CLIENT LIST's cmd before a connection's first command.
var noCommand = "NULL"

func (s *Server) closed(conn redcon.Conn, err error) {
	c, _ := conn.Context().(*client)
	if c == nil {
		return
	}
	c.cancel()
	s.mu.Lock()
	delete(s.clients, c.id)
	s.mu.Unlock()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("client connection ended", zap.Int64("client", c.id), zap.String("addr", c.addr), zap.Error(err))
	}
}

// handle serves one command from one connection. A panic while serving it
// is logged with its stack and closes only that connection.
func (s *Server) handle(conn redcon.Conn, cmd redcon.Command) {
	c, _ := conn.Context().(*client)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic while serving a client; closing its connection",
				zap.Int64("client", c.id), zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			conn.Close()
		}
	}()
	if s.servePipeline(conn, c, cmd) {
		return
	}
	s.serveOne(conn, c, cmd)
}

// serveOne serves one command and writes its reply.
func (s *Server) serveOne(conn redcon.Conn, c *client, cmd redcon.Command) {
	s.stats.commands.Add(1)
	start := time.Now()
	c.cur, c.ran, c.curCmd = "", false, nil
	r := s.dispatch(conn, c, cmd.Args)
	took := time.Since(start)
	s.record(c.cur, c.ran, &r, took)
	if c.ran {
		s.observeCommand(c, c.curCmd, cmd.Args, took)
	}
	if c.multi != nil && r.IsError() && len(cmd.Args) > 0 && !runsInMulti(cmd.Args[0]) {
		// A command refused while a transaction is open (unknown, wrong
		// arity, not allowed, CROSSSLOT, NOAUTH, ...) dooms the
		// transaction: EXEC will answer EXECABORT, as Redis does.
		c.multi.dirty = true
	}
	// CLIENT REPLY OFF and SKIP suppress replies, errors included: nothing
	// is sent that is not written.
	silent := c.replyOff || c.replySkip
	c.replySkip = c.replySkipNext
	c.replySkipNext = false
	if !silent {
		s.write(conn, c, &r)
	}
	if c.quit {
		// Commands pipelined after QUIT are not served.
		conn.ReadPipeline()
		conn.Close()
	}
}

// write encodes r for the client's protocol and queues it on the
// connection, which writes its replies once the pipeline it read is
// served.
func (s *Server) write(conn redcon.Conn, c *client, r *resp.Reply) {
	if s.ctx.Err() != nil {
		// The server is closing, and the commands still running were
		// cut short by it ("context canceled"): the client sees its
		// connection close, as when a Redis goes down, not an error it
		// could take for the command's answer.
		conn.Close()
		return
	}
	rc, ok := conn.(*respConn)
	if ok && c.ctx.Err() != nil {
		// CLIENT KILL ended the connection while the command ran (it
		// cancels the client's context, then closes the socket): a
		// killed client gets no more replies.
		c.aborted = true
		rc.abort()
		return
	}
	if !ok {
		conn.WriteRaw(resp.AppendReply(nil, r, c.proto))
		return
	}
	s.queueReply(rc, c, r)
}
