package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/redcon"
	"go.uber.org/zap"
)

// fuzzLimits are small, so that fuzzed inputs reach every limit.
var fuzzLimits = Limits{
	ProtoMaxBulkLen:   4 << 10,
	MaxMultibulkLen:   64,
	QueryBufferLimit:  32 << 10,
	OutputBufferLimit: 512 << 10,
	WriteTimeout:      5 * time.Second,
}

// FuzzConnInput feeds raw bytes to a client connection. It checks the
// framer on its own (the same requests and error however the input is
// cut, no request without arguments, bounded buffers) and then sends the
// bytes through the whole server (guard, framer, dispatch, a fake
// backend) over an in-memory connection, which must end promptly once the
// client hangs up, with no crash.
func FuzzConnInput(f *testing.F) {
	for _, tc := range hostileCases() {
		in := tc.input
		if len(in) > 2048 {
			in = in[:2048]
		}
		f.Add([]byte(in))
	}
	for _, in := range []string{
		"PING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"SET k \"a\\x41\\n\" EX 10\r\nGET k\nINCR n\r\n",
		"ECHO 'it\\'s' \"q\\\"\"\r\n",
		"AUTH pw\r\nHELLO 3 AUTH default pw SETNAME x\r\nGET k\r\n",
		"*1\r\n$4\r\nPINGab*1\rX$4\rXPING\r\n",
		"*0\r\n*-1\r\n\r\n\n",
		"MULTI\r\nSET a 1\r\nINCR a\r\nEXEC\r\n",
		"HSET h f v\r\nHGETALL h\r\nDEL h\r\nQUIT\r\nPING\r\n",
		"PING\x00\r\n",
		"*2\r\n$4\r\nECHO\r\n$4096\r\n" + strings.Repeat("x", 4096) + "\r\n",
	} {
		f.Add([]byte(in))
	}
	plain := startPipeServer(f, Config{Limits: fuzzLimits})
	authed := startPipeServer(f, Config{Limits: fuzzLimits, RequirePass: "pw"})
	f.Fuzz(func(t *testing.T, in []byte) {
		safe := checkFramer(t, in)
		if !safe {
			return
		}
		srv := plain
		if len(in) > 0 && in[0]&1 == 1 {
			srv = authed
		}
		srv.run(t, in)
	})
}

// checkFramer checks the framer's properties on in and reports whether
// every command in it is safe to run against the shared fuzz servers
// (none that pauses clients or waits).
func checkFramer(t *testing.T, in []byte) bool {
	whole, errWhole := frameAll(t, fuzzLimits, in, 0, false)
	for _, chunk := range []int{1, 3, 8 << 10} {
		got, err := frameAll(t, fuzzLimits, in, chunk, false)
		if !bytes.Equal(got, whole) || !sameError(err, errWhole) {
			t.Fatalf("in pieces of %d: %q, %v; at once: %q, %v", chunk, got, err, whole, errWhole)
		}
	}
	if _, err := frameAll(t, fuzzLimits, in, 8<<10, true); err == nil && errWhole != nil &&
		!errors.Is(errWhole, errQueryBufferLimit) {
		// Before AUTH the limits only tighten.
		t.Fatalf("unauthenticated framing accepts what authenticated framing refuses: %v", errWhole)
	}
	if peak := framerPeak(in); peak > 1<<20 {
		t.Fatalf("the framer's buffers reached %d bytes", peak)
	}
	reqs, _ := frameRequests(t, fuzzLimits, in, 0, false)
	for _, args := range reqs {
		if len(args) == 0 {
			t.Fatalf("the framer handed on a request without arguments from %q", in)
		}
		switch strings.ToLower(string(args[0])) {
		case "client", "wait", "waitaof", "debug":
			return false
		}
	}
	return true
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// framerPeak feeds in as the guard does, 8 KiB at a time, and returns the
// largest capacity its buffers reached.
func framerPeak(in []byte) int {
	f := newFramer(fuzzLimits.withDefaults())
	var cmds []redcon.Command
	var argv [][]byte
	peak := 0
	for len(in) > 0 && f.err == nil {
		piece := in[:min(len(in), inBufSize)]
		for len(piece) > 0 && f.err == nil {
			n := f.feed(piece)
			piece, in = piece[n:], in[n:]
			cmds, argv = f.requests(cmds[:0], argv)
			peak = max(peak, cap(f.data)+cap(f.inline)+8*cap(f.ends)+8*cap(f.reqs)+48*cap(cmds)+24*cap(argv))
			f.consume()
		}
	}
	return peak
}

// pipeServer is a server whose clients connect over net.Pipe.
type pipeServer struct {
	s       *Server
	b       *fakeBackend
	ln      *pipeListener
	flushMu sync.Mutex
}

func startPipeServer(tb testing.TB, cfg Config) *pipeServer {
	b := newFakeBackend(2)
	s := New(cfg, b, zap.NewNop())
	pl := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	s.ln = newGuardListener(pl, s)
	serveListening(tb, s)
	return &pipeServer{s: s, b: b, ln: pl}
}

// run sends in on a new connection while reading every reply, hangs up,
// and fails if the server does not let the connection go.
func (p *pipeServer) run(t *testing.T, in []byte) {
	p.flushMu.Lock() // one connection at a time: the keyspace is emptied after each
	defer p.flushMu.Unlock()
	c, err := p.ln.dial()
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, c)
		read <- err
	}()
	if _, err := c.Write(in); err != nil && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, io.EOF) {
		t.Fatalf("the server stopped reading: %v", err)
	}
	c.Close()
	<-read
	deadline := time.Now().Add(10 * time.Second)
	for p.s.numClients() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server kept the connection after the client hung up")
		}
		time.Sleep(time.Millisecond)
	}
	for shard := range p.b.shards {
		if _, err := p.b.Propose(context.Background(), shard, [][][]byte{{[]byte("FLUSHALL")}}); err != nil {
			t.Fatal(err)
		}
	}
}

// pipeListener accepts in-memory connections.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) dial() (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
