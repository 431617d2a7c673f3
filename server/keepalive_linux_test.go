package server

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// TestTCPKeepAlive checks the keepalive options of an accepted client
// socket: Redis's tcp-keepalive sets the idle time, a third of it between
// probes, and three probes.
func TestTCPKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		keepAlive               time.Duration
		on                      bool
		idle, interval, retries int
	}{
		{0, true, 300, 100, 3}, // the default
		{60 * time.Second, true, 60, 20, 3},
		{-1, false, 0, 0, 0},
	} {
		s, _ := startGuarded(t, Config{Limits: Limits{TCPKeepAlive: tc.keepAlive}})
		pingPong(t, dialRaw(t, s))
		var tcp *net.TCPConn
		s.mu.Lock()
		for _, c := range s.clients {
			tcp = c.netConn.(*guardConn).Conn.(*net.TCPConn)
		}
		s.mu.Unlock()
		raw, err := tcp.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var on, idle, interval, retries int
		_ = raw.Control(func(fd uintptr) {
			on, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
			idle, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
			interval, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
			retries, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
		})
		if (on != 0) != tc.on || (tc.on && (idle != tc.idle || interval != tc.interval || retries != tc.retries)) {
			t.Errorf("TCPKeepAlive %v: keepalive %d, idle %d, interval %d, probes %d", tc.keepAlive, on, idle, interval, retries)
		}
	}
}
