package test

import (
	"bufio"
	binenc "encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftcache/raftcache/test/redisoracle"
)

// netProxy stands in front of every node's cluster port so that a test
// can cut, half-cut or slow the links between nodes, as iptables and tc
// do for Jepsen. Each node listens on its real cluster port
// (--cluster-addr) while --peers names the proxy's listener for it, so
// every Raft and forwarding connection between nodes passes through here.
//
// Rules are per directed link (from, to): bytes the node "from" sends to
// "to" on any connection. A connection is attributed to the node that
// dialed it by finding its socket in /proc (the dialer's ephemeral port →
// socket inode → the process holding it), once, when it is accepted; the
// rules are then checked for every chunk copied, so a new rule applies to
// open connections at once. A blocked link holds its bytes (as a
// partition that drops packets makes TCP retransmit) and delivers them
// once healed, unless an endpoint gave up and closed the connection
// first; a delay holds each chunk until it has been in flight that long,
// which adds latency without throttling the stream.
type netProxy struct {
	t     testing.TB
	owner func() map[int]string // pid → node ID of the running nodes

	mu      sync.Mutex
	blocked map[link]bool
	delay   map[link]time.Duration
	changed chan struct{} // closed and replaced when the rules change
	lns     []net.Listener
	conns   map[*proxyConn]struct{}
	closed  bool

	wg       sync.WaitGroup
	accepted atomic.Int64
	unknown  atomic.Int64 // connections whose dialer was not found
}

// link is a direction between two nodes.
type link struct{ from, to string }

func newNetProxy(t testing.TB, owner func() map[int]string) *netProxy {
	p := &netProxy{t: t, owner: owner, blocked: map[link]bool{}, delay: map[link]time.Duration{},
		changed: make(chan struct{}), conns: map[*proxyConn]struct{}{}}
	t.Cleanup(p.close)
	return p
}

// front listens on a free port for connections to the node to, whose
// real cluster port is target, and returns the port.
func (p *netProxy) front(to, target string) int {
	p.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.lns = append(p.lns, ln)
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c, to, target) })
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// proxyConn is one proxied connection: the dialer's side and the node's.
type proxyConn struct {
	a, b net.Conn
	once sync.Once
	done chan struct{}
}

func (c *proxyConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.a.Close()
		c.b.Close()
	})
}

func (p *netProxy) serve(c net.Conn, to, target string) {
	p.accepted.Add(1)
	from := p.dialerOf(c)
	if from == "" {
		p.unknown.Add(1)
	}
	up, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil { // the node is down: as a refused connection
		c.Close()
		return
	}
	pc := &proxyConn{a: c, b: up, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pc.close()
		return
	}
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(pc, up, c, link{from, to}) })
	wg.Go(func() { p.pipe(pc, c, up, link{to, from}) })
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}

// chunk is bytes read from one side, stamped with when they arrived.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst under the rules of l until either side fails.
func (p *netProxy) pipe(pc *proxyConn, dst, src net.Conn, l link) {
	defer pc.close()
	chunks := make(chan chunk, 64)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case chunks <- chunk{buf[:n], time.Now()}:
				case <-pc.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range chunks {
		if !p.pass(l, ch.at, pc.done) {
			return
		}
		if _, err := dst.Write(ch.b); err != nil {
			return
		}
	}
}

// pass waits until a chunk that arrived at 'at' may cross l: the link is
// not blocked and the chunk has been delayed as long as the link says.
// It returns false if the connection closed meanwhile.
func (p *netProxy) pass(l link, at time.Time, done <-chan struct{}) bool {
	for {
		p.mu.Lock()
		blocked, d, changed := p.blocked[l], p.delay[l], p.changed
		p.mu.Unlock()
		if blocked {
			select {
			case <-changed:
				continue
			case <-done:
				return false
			}
		}
		wait := time.Until(at.Add(d))
		if wait <= 0 {
			return true
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
			return true
		case <-changed:
			timer.Stop()
		case <-done:
			timer.Stop()
			return false
		}
	}
}

// update changes the rules under the lock and wakes every waiting copy.
func (p *netProxy) update(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
	close(p.changed)
	p.changed = make(chan struct{})
}

// partition cuts every link between nodes of different groups, in both
// directions; links inside a group keep their rules.
func (p *netProxy) partition(groups ...[]string) {
	p.update(func() {
		for i, g := range groups {
			for j, h := range groups {
				if i == j {
					continue
				}
				for _, a := range g {
					for _, b := range h {
						p.blocked[link{a, b}] = true
					}
				}
			}
		}
	})
}

// block cuts the one direction from → to.
func (p *netProxy) block(from, to string) {
	p.update(func() { p.blocked[link{from, to}] = true })
}

// slow delays every chunk on from → to by d.
func (p *netProxy) slow(from, to string, d time.Duration) {
	p.update(func() { p.delay[link{from, to}] = d })
}

// heal removes every rule.
func (p *netProxy) heal() {
	p.update(func() {
		clear(p.blocked)
		clear(p.delay)
	})
}

func (p *netProxy) close() {
	p.mu.Lock()
	p.closed = true
	for _, ln := range p.lns {
		ln.Close()
	}
	for pc := range p.conns {
		pc.close()
	}
	p.mu.Unlock()
	p.heal()
	p.wg.Wait()
}

// dialerOf returns the ID of the node whose process dialed c, or "".
func (p *netProxy) dialerOf(c net.Conn) string {
	remote, ok1 := c.RemoteAddr().(*net.TCPAddr)
	local, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return ""
	}
	// The dialer's socket has the accepted connection's addresses swapped.
	inode := socketInode(procAddr(remote), procAddr(local))
	if inode == "" {
		return ""
	}
	want := "socket:[" + inode + "]"
	for pid, id := range p.owner() {
		fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name()); err == nil && l == want {
				return id
			}
		}
	}
	return ""
}

// procAddr formats an IPv4 address as /proc/net/tcp does: the address as
// a host-order 32-bit hex number, the port in hex.
func procAddr(a *net.TCPAddr) string {
	ip := a.IP.To4()
	if ip == nil {
		return ""
	}
	return fmt.Sprintf("%08X:%04X", binenc.NativeEndian.Uint32(ip), a.Port)
}

// socketInode finds the inode of the TCP socket with the given local and
// remote addresses in /proc/net/tcp.
func socketInode(local, remote string) string {
	if local == "" || remote == "" {
		return ""
	}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 9 && fields[1] == local && fields[2] == remote {
			return fields[9]
		}
	}
	return ""
}

// requireProcNet skips (or, under CI, fails) a test that needs
// /proc/net/tcp to attribute proxied connections to nodes.
func requireProcNet(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		redisoracle.Missing(t, fmt.Sprintf("network faults need /proc/net/tcp: %v", err), "run on Linux")
	}
}

// TestNetProxy checks the proxy on its own: it attributes connections to
// the process that dialed them, and blocks, delays and heals links.
func TestNetProxy(t *testing.T) {
	requireProcNet(t)
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	// This test process is "me"; the echo server is "echo".
	px := newNetProxy(t, func() map[int]string { return map[int]string{os.Getpid(): "me"} })
	port := px.front("echo", echo.Addr().String())
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip := func(timeout time.Duration) (time.Duration, error) {
		start := time.Now()
		_ = c.SetDeadline(start.Add(timeout))
		if _, err := c.Write([]byte("ping")); err != nil {
			return 0, err
		}
		buf := make([]byte, 4)
		if _, err := c.Read(buf); err != nil {
			return 0, err
		}
		if string(buf) != "ping" {
			return 0, fmt.Errorf("echo = %q", buf)
		}
		return time.Since(start), nil
	}
	if _, err := roundTrip(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if px.unknown.Load() != 0 {
		t.Fatal("the proxy did not find the process that dialed it")
	}

	px.block("echo", "me") // replies held: the request gets through, the answer does not
	if _, err := roundTrip(300 * time.Millisecond); err == nil {
		t.Fatal("a reply crossed a blocked link")
	}
	px.heal() // the held reply arrives
	buf := make([]byte, 4)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("held reply after heal: %q, %v", buf, err)
	}

	px.slow("me", "echo", 200*time.Millisecond)
	if took, err := roundTrip(5 * time.Second); err != nil || took < 200*time.Millisecond {
		t.Fatalf("round trip over a slowed link took %v (%v), want at least 200ms", took, err)
	}
	px.partition([]string{"me"}, []string{"echo"})
	if _, err := roundTrip(300 * time.Millisecond); err == nil {
		t.Fatal("a request crossed a partition")
	}
}
