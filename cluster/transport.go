package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
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

// layer returns the raft.StreamLayer for one shard's Raft traffic.
// advertise is the address other nodes dial to reach this node.
func (m *mux) layer(kind byte, shard int, advertise net.Addr) *streamLayer {
	l := &streamLayer{
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
	c, err := dialMux(string(addr), l.key, timeout)
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

func dialMux(addr string, key muxKey, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
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
