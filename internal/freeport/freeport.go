// Package freeport picks loopback TCP ports for tests and the benchmark
// harness to hand to servers they start.
//
// A port found by listening on 127.0.0.1:0 and closing the listener comes
// from the kernel's ephemeral range, the range every outgoing connection
// (redis-benchmark's fifty clients, raft's dials) also takes its local port
// from: on a busy machine another process can take it before the server we
// start binds it. Ports are therefore picked below that range, where only
// an explicit bind takes them, at random so that test binaries running side
// by side rarely try the same one, and never twice in one process.
package freeport

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowest is the first port picked from; below it sit well-known services.
const lowest = 10000

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Port returns a port on 127.0.0.1 that was free a moment ago and that no
// earlier call in this process returned.
func Port() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	hi := ephemeralLow()
	for range 200 {
		port := 0
		if hi > lowest+1000 {
			port = lowest + rand.IntN(hi-lowest)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // taken: try another
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !given[port] {
			given[port] = true
			return port, nil
		}
	}
	return 0, errors.New("find a free port: no unused port after 200 tries")
}

// Addr returns "127.0.0.1:port" for a port as Port picks it.
func Addr() (string, error) {
	p, err := Port()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// ephemeralLow is the first port of the kernel's ephemeral range, or 0
// when it cannot be read (then ports come from the kernel as :0 gives).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo > 65535 {
		return 0
	}
	return lo
}

// MustPort is Port for tests: it ends the test on failure.
func MustPort(t interface {
	Helper()
	Fatal(...any)
}) int {
	t.Helper()
	p, err := Port()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// MustAddr is Addr for tests: it ends the test on failure.
func MustAddr(t interface {
	Helper()
	Fatal(...any)
}) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(MustPort(t))
}
