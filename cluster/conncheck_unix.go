//go:build unix

package cluster

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed reports whether the peer of an idle connection has closed it
// (or reset it, or sent bytes nobody asked for). It peeks at the socket
// without blocking: a deadline in the past would not do, since Go then
// fails the read without asking the kernel.
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = rc.Read(func(fd uintptr) bool {
		var buf [1]byte
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
			closed = true // unexpected data: the stream is out of step
		case n == 0 && rerr == nil:
			closed = true // orderly shutdown by the peer
		case rerr != nil && !errors.Is(rerr, syscall.EAGAIN) && !errors.Is(rerr, syscall.EWOULDBLOCK):
			closed = true
		}
		return true // never wait for readiness
	})
	return closed || err != nil
}
