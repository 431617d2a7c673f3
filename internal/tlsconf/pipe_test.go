package tlsconf

import (
	"net"
	"testing"
)

// pipe returns both ends of a loopback TCP connection (net.Pipe does not
// buffer, which a TLS handshake's alerts need).
func pipe(t *testing.T) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c1, c2
}
