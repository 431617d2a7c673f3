package server

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/raftcache/raftcache/resp"
)

// startGuarded runs a server with cfg on 127.0.0.1:0 over a fake backend
// and stops it when the test ends. Its logs go to the test log and to the
// returned observer.
func startGuarded(t *testing.T, cfg Config) (*Server, *observer.ObservedLogs) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
	s := New(cfg, newFakeBackend(3), log)
	serveInTest(t, s)
	return s, logs
}

// numClients is how many client connections the server holds.
func (s *Server) numClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// waitUntil polls cond until it holds, failing the test after 10 seconds.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exchange sends input on a new connection (from another goroutine, so
// that a server that stops reading cannot block the test) and returns
// everything the server sends until it closes the connection.
func exchange(t *testing.T, addr string, input []byte, closeWrite bool) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if _, err := c.Write(input); err == nil && closeWrite {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}()
	got, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("reading the reply: %v (got %q)", err, got)
	}
	<-sent
	return got
}

func isReset(err error) bool {
	return errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset")
}

// mbulk encodes a request as a multibulk.
func mbulk(args ...string) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.String()
}

// pingPong checks that a connection is still served.
func pingPong(t *testing.T, rc *rawConn) {
	t.Helper()
	rc.send("PING\r\n")
	rc.expect("+PONG\r\n")
}

type hostileCase struct {
	name string
	cfg  Config
	// before runs after the good client connected; it may open more
	// connections (closed by the test's cleanup).
	before func(t *testing.T, s *Server)
	input  string
	// closeWrite half-closes the hostile connection after the input: a
	// client that gives up mid-request.
	closeWrite bool
	// want is everything the server must send before closing.
	want string
	// maxAlloc bounds the bytes the whole process allocates meanwhile.
	maxAlloc uint64
	// log is a message the server must log.
	log string
}

func hostileCases() []hostileCase {
	const mib = 1 << 20
	return []hostileCase{
		{name: "bulk length overflowing int64", input: "*1\r\n$9223372036854775807\r\nxx\r\n",
			want: "-ERR Protocol error: invalid bulk length\r\n"},
		{name: "multibulk count overflowing int64", input: "*9000000000000000000\r\n",
			want: "-ERR Protocol error: invalid multibulk length\r\n"},
		{name: "multibulk count above the limit", input: "*1048577\r\n",
			want: "-ERR Protocol error: invalid multibulk length\r\n"},
		{name: "multibulk count INT_MAX", input: "*2147483647\r\n$1\r\n",
			want: "-ERR Protocol error: invalid multibulk length\r\n"},
		{name: "bulk above proto-max-bulk-len", input: "*1\r\n$536870913\r\n",
			want: "-ERR Protocol error: invalid bulk length\r\n"},
		{name: "bulk above a small proto-max-bulk-len", cfg: Config{Limits: Limits{ProtoMaxBulkLen: 1024}},
			input: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n", want: "-ERR Protocol error: invalid bulk length\r\n"},
		{name: "negative bulk length", input: "*1\r\n$-1\r\n", want: "-ERR Protocol error: invalid bulk length\r\n"},
		{name: "non-numeric bulk length", input: "*1\r\n$4x\r\nPING\r\n", want: "-ERR Protocol error: invalid bulk length\r\n"},
		{name: "element that is not a bulk", input: "*2\r\n$3\r\nGET\r\n:1\r\n",
			want: "-ERR Protocol error: expected '$', got ':'\r\n"},
		{name: "inline line without end", input: strings.Repeat("A", 70000),
			want: "-ERR Protocol error: too big inline request\r\n"},
		{name: "multibulk count without end", input: "*" + strings.Repeat("1", 70000),
			want: "-ERR Protocol error: too big mbulk count string\r\n"},
		{name: "bulk length without end", input: "*1\r\n$" + strings.Repeat("1", 70000),
			want: "-ERR Protocol error: too big bulk count string\r\n"},
		{name: "unbalanced quotes", input: "SET \"k v\r\n",
			want: "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{name: "good commands first, then garbage", input: "PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n",
			want: "+PONG\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"},
		{name: "empty requests are ignored", input: "*0\r\n*-1\r\n\r\n  \r\nPING\r\n", closeWrite: true,
			want: "+PONG\r\n"},
		{name: "request cut short", input: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\nabc", closeWrite: true},
		{name: "query buffer limit", cfg: Config{Limits: Limits{QueryBufferLimit: mib}},
			input:    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n" + strings.Repeat("v", 3000000) + "\r\n",
			maxAlloc: 24 * mib, log: "closing client that reached the query buffer limit"},
		{name: "unauthenticated multibulk", cfg: Config{RequirePass: "pw"}, input: "*11\r\n",
			want: "-ERR Protocol error: unauthenticated multibulk length\r\n"},
		{name: "unauthenticated bulk", cfg: Config{RequirePass: "pw"}, input: "*1\r\n$16385\r\n",
			want: "-ERR Protocol error: unauthenticated bulk length\r\n"},
		{name: "unauthenticated command", cfg: Config{RequirePass: "pw"}, input: "GET k\r\nAUTH pw\r\n*11\r\n", closeWrite: true,
			want: "-NOAUTH Authentication required.\r\n+OK\r\n"},
		{name: "one client too many", cfg: Config{Limits: Limits{MaxClients: 2}},
			before: func(t *testing.T, s *Server) { pingPong(t, dialRaw(t, s)) },
			want:   "-ERR max number of clients reached\r\n"},
		{name: "idle client", cfg: Config{Limits: Limits{IdleTimeout: 200 * time.Millisecond}},
			log: "closing idle client"},
	}
}

// TestHostileInputs sends each hostile input to a real listener and checks
// the exact reply, that the connection is closed, that another client is
// still served, that the process allocated little meanwhile and that no
// goroutine is left behind.
func TestHostileInputs(t *testing.T) {
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := startGuarded(t, tc.cfg)
			good := dialRaw(t, s)
			if tc.cfg.RequirePass != "" {
				good.send("AUTH " + tc.cfg.RequirePass + "\r\n")
				good.expect("+OK\r\n")
			}
			pingPong(t, good)
			if tc.before != nil {
				tc.before(t, s)
			}
			baseline := s.numClients()
			ignore := goleak.IgnoreCurrent()
			input := []byte(tc.input)
			maxAlloc := tc.maxAlloc
			if maxAlloc == 0 {
				maxAlloc = 4 << 20
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			got := exchange(t, s.Addr().String(), input, tc.closeWrite)

			runtime.ReadMemStats(&after)
			if string(got) != tc.want {
				t.Fatalf("server sent %q, want %q", got, tc.want)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > maxAlloc {
				t.Errorf("the process allocated %d bytes, want at most %d", grew, maxAlloc)
			}
			// Another client is still served. With an idle timeout the
			// first one is gone by now: ask a new one.
			if tc.cfg.Limits.IdleTimeout > 0 {
				good = dialRaw(t, s)
				defer good.c.Close()
			}
			pingPong(t, good)
			if tc.cfg.Limits.IdleTimeout > 0 {
				good.c.Close()
			}
			waitUntil(t, "the server to drop the connections", func() bool { return s.numClients() <= baseline })
			goleak.VerifyNone(t, ignore)
			if tc.log != "" && logs.FilterMessage(tc.log).Len() == 0 {
				t.Errorf("no %q in the log", tc.log)
			}
		})
	}
}

// TestNonReadingClientIsBounded pipelines GETs of large values from a
// client that never reads: the server must neither hold more than the
// output limit for it nor keep its goroutine, and other clients must be
// served meanwhile.
func TestNonReadingClientIsBounded(t *testing.T) {
	const valueLen = 1 << 20
	s, logs := startGuarded(t, Config{Limits: Limits{OutputBufferLimit: 8 << 20, WriteTimeout: 300 * time.Millisecond}})
	good := dialRaw(t, s)
	value := strings.Repeat("v", valueLen)
	for _, k := range []string{"a", "b", "c", "d"} {
		good.send("*3\r\n$3\r\nSET\r\n$1\r\n" + k + "\r\n$1048576\r\n" + value + "\r\n")
		good.expect("+OK\r\n")
	}
	value = ""
	ignore := goleak.IgnoreCurrent()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// 7 KiB of GETs ask for about 1 GiB of replies.
	var pipeline strings.Builder
	for pipeline.Len() < 7<<10 {
		pipeline.WriteString("GET a\r\nGET b\r\nGET c\r\nGET d\r\n")
	}
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := c.Write([]byte(pipeline.String())); err != nil {
		t.Fatal(err)
	}
	peak := sampleHeap(func() {
		waitUntil(t, "the server to close the stalled client", func() bool {
			return logs.FilterMessage("closing client that stopped reading its replies").Len() > 0
		})
		pingPong(t, good)
	})
	if grew := int64(peak) - int64(before.HeapAlloc); grew > 40<<20 {
		t.Errorf("heap grew by %d MiB while the client did not read; want it bounded near the 8 MiB output limit", grew>>20)
	} else {
		t.Logf("heap grew by at most %.1f MiB for a client that asked for ~1 GiB of replies it never read", float64(grew)/(1<<20))
	}
	c.Close()
	waitUntil(t, "the connection to go", func() bool { return s.numClients() == 1 })
	goleak.VerifyNone(t, ignore)
}

// sampleHeap runs f and returns the largest HeapAlloc seen meanwhile.
func sampleHeap(f func()) uint64 {
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var max uint64
		var ms runtime.MemStats
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > max {
				max = ms.HeapAlloc
			}
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	return <-peak
}

// TestReplyAboveOutputLimit checks that one reply larger than the output
// limit closes the connection (logged) instead of being buffered, and that
// the rest of the pipeline does not run.
func TestReplyAboveOutputLimit(t *testing.T) {
	s, logs := startGuarded(t, Config{Limits: Limits{OutputBufferLimit: 64 << 10}})
	good := dialRaw(t, s)
	good.send(mbulk("SET", "big", strings.Repeat("x", 100<<10)))
	good.expect("+OK\r\n")
	// The connection closes without flushing what waited for it: a client
	// past its limit is not owed the rest.
	got := exchange(t, s.Addr().String(), []byte("GET big\r\nSET after 1\r\n"), false)
	if len(got) != 0 {
		t.Fatalf("server sent %q, want nothing before closing", got)
	}
	if logs.FilterMessage("closing client that reached the output buffer limit").Len() != 1 {
		t.Fatal("the output limit was not logged")
	}
	good.send("EXISTS after\r\n")
	good.expect(":0\r\n")
}

// TestLargeRepliesForAReadingClient checks that a client that reads gets
// a pipeline of replies far larger than the output limit: the limit bounds
// what waits, not what passes.
func TestLargeRepliesForAReadingClient(t *testing.T) {
	s, _ := startGuarded(t, Config{Limits: Limits{OutputBufferLimit: 1 << 20}})
	rc := dialRaw(t, s)
	value := strings.Repeat("y", 300<<10)
	rc.send(mbulk("SET", "v", value))
	rc.expect("+OK\r\n")
	rc.send(strings.Repeat("GET v\r\n", 40)) // 12 MiB of replies
	for i := 0; i < 40; i++ {
		rc.expect("$307200\r\n" + value + "\r\n")
	}
}

// TestPanicInReaderClosesOnlyThatConnection injects a panic into one
// connection's read path: it is logged with its stack and closes only that
// connection.
func TestPanicInReaderClosesOnlyThatConnection(t *testing.T) {
	s, logs := startGuarded(t, Config{})
	good := dialRaw(t, s)
	pingPong(t, good)
	bad := dialRaw(t, s)
	pingPong(t, bad)
	s.mu.Lock()
	for _, c := range s.clients {
		if c.netConn.RemoteAddr().String() == bad.c.LocalAddr().String() {
			c.netConn.(*guardConn).panicNextRead.Store(true)
		}
	}
	s.mu.Unlock()
	bad.send("PING\r\n") // the reader is waiting for this; its next Read panics
	bad.expect("+PONG\r\n")
	bad.expectClosed()
	entries := logs.FilterMessage("panic while reading a client's request; closing its connection").All()
	if len(entries) != 1 || !strings.Contains(entries[0].ContextMap()["stack"].(string), "guardConn") {
		t.Fatalf("panic log = %v", entries)
	}
	pingPong(t, good)
}

// TestPanicInHandlerClosesOnlyThatConnection makes the backend panic for
// one command.
func TestPanicInHandlerClosesOnlyThatConnection(t *testing.T) {
	core, logs := observer.New(zapcore.ErrorLevel)
	s := New(Config{Addr: "127.0.0.1:0"}, &panickyBackend{newFakeBackend(1)}, zap.New(core))
	serveInTest(t, s)
	good := dialRaw(t, s)
	bad := dialRaw(t, s)
	bad.send("GET panic\r\n")
	bad.expectClosed()
	good.send("GET fine\r\n")
	good.expect("$-1\r\n")
	if logs.Len() != 1 {
		t.Fatalf("logged %d errors, want the panic once", logs.Len())
	}
}

type panickyBackend struct{ *fakeBackend }

func (b *panickyBackend) Read(ctx context.Context, shard int, args [][]byte) (resp.Reply, error) {
	if len(args) > 1 && string(args[1]) == "panic" {
		panic("backend test: injected panic")
	}
	return b.fakeBackend.Read(ctx, shard, args)
}

// TestWriteTimeoutCountsNoProgress checks that the write timeout is time
// without progress: a client that reads, however slowly, keeps its
// connection; one that reads nothing for WriteTimeout loses it.
func TestWriteTimeoutCountsNoProgress(t *testing.T) {
	s := New(Config{Addr: "127.0.0.1:0"}, newFakeBackend(1), zaptest.NewLogger(t))
	ln := &guardListener{s: s}
	reply := make([]byte, 1000)

	slow := &stallConn{accept: []int{100, 100, 100, -1}}
	g := newGuardConn(slow, ln)
	if n, err := g.Write(reply); n != len(reply) || err != nil {
		t.Fatalf("slow reader: wrote %d, %v", n, err)
	}
	if slow.deadlines < 4 {
		t.Fatalf("the deadline was set %d times, want it renewed after each partial write", slow.deadlines)
	}

	stalled := &stallConn{accept: []int{100, 0}}
	g = newGuardConn(stalled, ln)
	if n, err := g.Write(reply); n != 100 || !errors.Is(err, errWriteStalled) {
		t.Fatalf("stalled reader: wrote %d, %v; want 100, %v", n, err, errWriteStalled)
	}
}

// stallConn accepts accept[i] bytes on its i-th write and then reports a
// write deadline (-1: all of them, no error).
type stallConn struct {
	net.Conn
	accept    []int
	calls     int
	deadlines int
}

func (c *stallConn) Write(b []byte) (int, error) {
	n := c.accept[min(c.calls, len(c.accept)-1)]
	c.calls++
	if n < 0 || n >= len(b) {
		return len(b), nil
	}
	return n, os.ErrDeadlineExceeded
}

func (c *stallConn) SetWriteDeadline(time.Time) error { c.deadlines++; return nil }
func (c *stallConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// TestLargeRequestDoesNotPinMemory checks that after a large request the
// connection, now idle, holds no buffer of that size (a reader that keeps
// what it grew would hold up to twice the request's size for the
// connection's life).
func TestLargeRequestDoesNotPinMemory(t *testing.T) {
	const size = 32 << 20
	s, _ := startGuarded(t, Config{})
	rc := dialRaw(t, s)
	req := mbulk("SET", "big", strings.Repeat("v", size))
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	rc.send(req)
	rc.expect("+OK\r\n")
	pingPong(t, rc) // served after the SET's batch let go of its buffers
	req = ""
	grew := int64(heap()) - int64(before)
	// The store holds the 32 MiB value; a kept read buffer would add up to 64 MiB.
	if grew > size+16<<20 {
		t.Fatalf("after a %d MiB request the heap holds %d MiB more", size>>20, grew>>20)
	}
	t.Logf("after a %d MiB SET the heap holds %.1f MiB more (the value itself is %d MiB)", size>>20, float64(grew)/(1<<20), size>>20)
}

// TestMaxClientsFreesSlots checks that a closed connection gives its
// place back.
func TestMaxClientsFreesSlots(t *testing.T) {
	s, _ := startGuarded(t, Config{Limits: Limits{MaxClients: 2}})
	a := dialRaw(t, s)
	pingPong(t, a)
	b := dialRaw(t, s)
	pingPong(t, b)
	c := dialRaw(t, s)
	c.expect("-ERR max number of clients reached\r\n")
	c.expectClosed()
	b.c.Close()
	waitUntil(t, "the closed client's slot", func() bool { return s.numClients() == 1 })
	pingPong(t, dialRaw(t, s))
}
