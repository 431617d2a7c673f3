package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// TLS on the client port. The TLS port's guardListener admits a
// connection as the plain port's does (maxclients, protected mode, the
// same count of open connections), then wraps it in a tls.Conn; the
// handshake runs on the connection's own goroutine, bounded by
// TLSHandshakeTimeout, so a client that sends garbage or stalls
// mid-handshake holds only its own goroutine and its maxclients slot, and
// only for that long. The tls.Config is the Reloader's: each handshake
// takes the certificates in force (CONFIG SET tls-*, SIGHUP). Go's TLS
// server never renegotiates: a client's renegotiation attempt gets an
// alert and the connection ends.

// defaultTLSHandshakeTimeout bounds a TLS handshake when the Config does
// not.
const defaultTLSHandshakeTimeout = 10 * time.Second

// handshake completes a TLS connection's handshake; a plain connection
// has none.
func (rc *respConn) handshake() error {
	tc, ok := rc.g.Conn.(*tls.Conn)
	if !ok {
		return nil
	}
	timeout := rc.s.cfg.TLSHandshakeTimeout
	if timeout <= 0 {
		timeout = defaultTLSHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(rc.s.ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		rc.s.stats.tlsHandshakeFailures.Add(1)
		rc.s.log.Debug("TLS handshake failed; closing the client connection",
			rc.g.logFields(zap.Duration("timeout", timeout), zap.Error(err))...)
		return fmt.Errorf("TLS handshake: %w", err)
	}
	return nil
}

// isTLS reports whether the client connected to the TLS port.
func (c *client) isTLS() bool {
	g, ok := c.netConn.(*guardConn)
	if !ok {
		return false
	}
	_, ok = g.Conn.(*tls.Conn)
	return ok
}

// clientPorts maps a node's advertised client port to the ports it
// serves: plain (0 when this node has no plain-text port) and TLS (0
// without TLS). Every node uses the same distance between its port and
// its tls-port, as Redis Cluster nodes do between port and bus port: the
// cluster knows each node's one advertised client address (--peers,
// CLUSTER MEET, --advertise), and a node with no plain-text port
// advertises its TLS address.
func (s *Server) clientPorts(advertised int) (plain, tlsPort int) {
	if s.tlsLn == nil {
		return advertised, 0
	}
	if s.ln == nil {
		return 0, advertised
	}
	return advertised, advertised + s.tlsPortOffset()
}

// tlsPortOffset is this node's tls-port minus its port.
func (s *Server) tlsPortOffset() int {
	_, p, _ := net.SplitHostPort(s.ln.Addr().String())
	_, t, _ := net.SplitHostPort(s.tlsLn.Addr().String())
	pn, _ := strconv.Atoi(p)
	tn, _ := strconv.Atoi(t)
	return tn - pn
}

// portFor is the port of a node's client address to give connection c:
// the TLS port to a TLS connection, the plain one to a plain one, as
// Redis gives them.
func (s *Server) portFor(c *client, advertised int) int {
	plain, tlsPort := s.clientPorts(advertised)
	if c != nil && c.isTLS() && tlsPort != 0 {
		return tlsPort
	}
	if plain == 0 {
		return advertised
	}
	return plain
}

// addrFor is addr (a node's advertised client address) as connection c
// should reach it.
func (s *Server) addrFor(c *client, addr string) string {
	if s.tlsLn == nil || addr == "" {
		return addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(s.portFor(c, n)))
}
