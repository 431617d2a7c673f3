package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestPortsAreFreshBindableAndBelowEphemeral: ports never repeat in a
// process, can be bound, and lie below the kernel's ephemeral range
// (where outgoing connections cannot take them) when it is known.
func TestPortsAreFreshBindableAndBelowEphemeral(t *testing.T) {
	lo := ephemeralLow()
	seen := map[int]bool{}
	for range 50 {
		p := MustPort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if lo > lowest+1000 && (p < lowest || p >= lo) {
			t.Fatalf("port %d outside [%d, %d)", p, lowest, lo)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d cannot be bound: %v", p, err)
		}
		ln.Close()
	}
	if a := MustAddr(t); a[:10] != "127.0.0.1:" {
		t.Fatalf("MustAddr = %q", a)
	}
}
