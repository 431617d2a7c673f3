package cluster

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/raftcache/raftcache/internal/tlsconf"
)

// Every connection to a node's cluster port starts with an 8-byte header:
//
//	"RCMX" version(1) kind(1) shard(2, big endian)
//
// The mux reads it and hands the connection to the listener registered for
// that kind and shard, so all of a node's Raft groups (and any internal
// RPC) share one port.
const (
	muxMagic   = "RCMX"
	muxVersion = 1
	headerLen  = 8

	// connKindRaft carries one shard's hashicorp/raft NetworkTransport.
	connKindRaft = 1

	headerTimeout = 5 * time.Second
)

type muxKey struct {
	kind  byte
	shard uint16
}

// mux accepts connections on the cluster port and routes them by header.
type mux struct {
	ln     net.Listener
	log    *zap.Logger
	mu     sync.Mutex
	routes map[muxKey]*streamLayer
	closed chan struct{}
	wg     sync.WaitGroup

	// tls, when set, is the cluster's TLS material: ln is a TLS listener
	// and the layers dial with it.
	tls *tlsconf.Reloader
	// refusedAt rate-limits the warning about refused peers, per host.
	refusedMu sync.Mutex
	refusedAt map[string]time.Time
}

func newMux(ln net.Listener, log *zap.Logger) *mux {
	m := &mux{ln: ln, log: log, routes: make(map[muxKey]*streamLayer), closed: make(chan struct{})}
	m.wg.Add(1)
	go m.serve()
	return m
}

func (m *mux) serve() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			m.log.Warn("cluster port accept failed", zap.Error(err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.route(c)
		}()
	}
}

func (m *mux) route(c net.Conn) {
	var hdr [headerLen]byte
	if tc, ok := c.(*tls.Conn); ok {
		_ = c.SetDeadline(time.Now().Add(headerTimeout))
		if err := tc.Handshake(); err != nil {
			m.refused(c.RemoteAddr(), err)
			c.Close()
			return
		}
		_ = c.SetDeadline(time.Time{})
	}
	_ = c.SetReadDeadline(time.Now().Add(headerTimeout))
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		m.log.Debug("cluster connection without header", zap.String("remote", c.RemoteAddr().String()), zap.Error(err))
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if string(hdr[:4]) != muxMagic || hdr[4] != muxVersion {
		m.log.Warn("cluster connection with bad header", zap.String("remote", c.RemoteAddr().String()))
		c.Close()
		return
	}
	key := muxKey{kind: hdr[5], shard: binary.BigEndian.Uint16(hdr[6:8])}
	m.mu.Lock()
	l := m.routes[key]
	m.mu.Unlock()
	if l == nil {
		m.log.Warn("cluster connection for unknown route", zap.Uint8("kind", key.kind), zap.Uint16("shard", key.shard))
		c.Close()
		return
	}
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	case <-m.closed:
		c.Close()
	}
}

// refusedLogEvery bounds how often a refused peer is logged, per host: a
// node with a foreign certificate retries many times a second.
const refusedLogEvery = 10 * time.Second

// refused logs a cluster connection whose TLS handshake failed: most
// often a node whose certificate the cluster's CA did not sign, or a
// node that does not speak TLS.
func (m *mux) refused(remote net.Addr, err error) {
	host, _, _ := net.SplitHostPort(remote.String())
	now := time.Now()
	m.refusedMu.Lock()
	if m.refusedAt == nil || len(m.refusedAt) > 1024 { // bounded, whoever knocks
		m.refusedAt = map[string]time.Time{}
	}
	last, seen := m.refusedAt[host]
	if seen && now.Sub(last) < refusedLogEvery {
		m.refusedMu.Unlock()
		return
	}
	m.refusedAt[host] = now
	m.refusedMu.Unlock()
	m.log.Warn("cluster connection refused: TLS handshake with a peer failed (a certificate the cluster's CA did not sign, or no TLS)",
		zap.String("remote", remote.String()), zap.Error(err))
}

// layer returns the raft.StreamLayer for one shard's Raft traffic.
// advertise is the address other nodes dial to reach this node.
func (m *mux) layer(kind byte, shard int, advertise net.Addr) *streamLayer {
	l := &streamLayer{
		tls:       m.tls,
		key:       muxKey{kind: kind, shard: uint16(shard)},
		advertise: advertise,
		conns:     make(chan net.Conn),
		closed:    make(chan struct{}),
	}
	m.mu.Lock()
	m.routes[l.key] = l
	m.mu.Unlock()
	return l
}

func (m *mux) Close() error {
	close(m.closed)
	m.mu.Lock()
	for _, l := range m.routes {
		l.Close()
	}
	m.mu.Unlock()
	err := m.ln.Close()
	m.wg.Wait()
	return err
}

// streamLayer implements raft.StreamLayer over the mux: Accept yields the
// connections routed to it, Dial writes its header on new connections.
type streamLayer struct {
	tls       *tlsconf.Reloader // nil: plain text
	key       muxKey
	advertise net.Addr
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once

	// dialled are the open connections this layer dialled, so that a
	// shutting-down shard can cut RPCs that wait on a dead peer (up to
	// the transport's timeout) instead of waiting for them.
	mu      sync.Mutex
	dialled map[*dialledConn]struct{}
	aborted bool
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func (l *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *streamLayer) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *streamLayer) Addr() net.Addr { return l.advertise }

func (l *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := dialMux(string(addr), l.key, timeout, l.tls)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.aborted {
		c.Close()
		return nil, net.ErrClosed
	}
	if l.dialled == nil {
		l.dialled = map[*dialledConn]struct{}{}
	}
	dc := &dialledConn{Conn: c, l: l}
	l.dialled[dc] = struct{}{}
	return dc, nil
}

// abort closes every connection the layer dialled, and every one it
// dials from now on: RPCs in flight fail at once.
func (l *streamLayer) abort() {
	l.mu.Lock()
	l.aborted = true
	conns := make([]*dialledConn, 0, len(l.dialled))
	for c := range l.dialled {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// dialledConn is a connection a streamLayer dialled; it leaves the
// layer's set when it closes.
type dialledConn struct {
	net.Conn
	l    *streamLayer
	once sync.Once
}

func (c *dialledConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.dialled, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// dialMux connects to a node's cluster port for key's route: over TLS
// with r's material in force now when r is set (the handshake checks the
// peer's certificate against the CA, see tlsconf.verifyPeer).
func dialMux(addr string, key muxKey, timeout time.Duration, r *tlsconf.Reloader) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if r != nil {
		tc := tls.Client(c, r.ClusterClientConfig())
		_ = tc.SetDeadline(time.Now().Add(timeout))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake with the node at %s: %w", addr, err)
		}
		_ = tc.SetDeadline(time.Time{})
		c = tc
	}
	var hdr [headerLen]byte
	copy(hdr[:], muxMagic)
	hdr[4] = muxVersion
	hdr[5] = key.kind
	binary.BigEndian.PutUint16(hdr[6:], key.shard)
	_ = c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write(hdr[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("write cluster header to %s: %w", addr, err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// tcpAddr is a net.Addr for an advertised host:port string.
type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }
