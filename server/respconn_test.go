package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftcache/raftcache/resp"
)

// pipeExchange sends the pieces on a new in-memory connection, each with a
// write of its own (net.Pipe hands the server each write apart: a piece
// ends a read), and returns the first n bytes the server answers, or
// everything until it closes the connection when n < 0.
func pipeExchange(t *testing.T, p *pipeServer, pieces [][]byte, n int) []byte {
	t.Helper()
	c, err := p.ln.dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	got := make(chan []byte, 1)
	go func() {
		if n < 0 {
			b, _ := io.ReadAll(c)
			got <- b
			return
		}
		b := make([]byte, n)
		k, _ := io.ReadFull(c, b)
		got <- b[:k]
	}()
	for _, piece := range pieces {
		if _, err := c.Write(piece); err != nil {
			if n < 0 && (errors.Is(err, io.ErrClosedPipe) || errors.Is(err, io.EOF)) {
				break // the server closed the connection, as expected
			}
			t.Fatalf("write: %v", err)
		}
	}
	return <-got
}

// readerPipeline mixes every kind of request the reader handles: multibulk
// and inline, binary, empty and quoted arguments, ignored empty requests,
// a bulk of 20 KiB (more than one socket read), an error reply; it ends by
// deleting its keys. readerReplies are its replies.
var readerPipeline = strings.Join([]string{
	mbulk("SET", "k", "v\r\n\x00"),
	"GET k\r\n",
	mbulk("ECHO", ""),
	"*0\r\n", "\r\n", "*-1\r\n", "  \n",
	"SET 'q' \"x\\ty\"\n",
	"INCR n\r\nINCR n\r\nINCR k\r\n",
	mbulk("SET", "big", strings.Repeat("b", 20<<10)),
	"STRLEN big\r\n",
	mbulk("MGET", "k", "n", "q", "nokey"),
	"PING\r\n",
	"DEL k n q big\r\n",
}, "")

var readerReplies = "+OK\r\n" + "$4\r\nv\r\n\x00\r\n" + "$0\r\n\r\n" + "+OK\r\n" +
	":1\r\n:2\r\n-ERR value is not an integer or out of range\r\n" + "+OK\r\n" + ":20480\r\n" +
	"*4\r\n$4\r\nv\r\n\x00\r\n$1\r\n2\r\n$3\r\nx\ty\r\n$-1\r\n" + "+PONG\r\n" + ":4\r\n"

// TestReaderPipelineCutAnywhere sends one pipeline whole, cut in two at
// every byte, and byte by byte: the server must answer the same each time.
func TestReaderPipelineCutAnywhere(t *testing.T) {
	p := startPipeServer(t, Config{})
	in := []byte(readerPipeline)
	check := func(how string, pieces [][]byte) {
		t.Helper()
		if got := pipeExchange(t, p, pieces, len(readerReplies)); string(got) != readerReplies {
			t.Fatalf("%s: got %q, want %q", how, got, readerReplies)
		}
	}
	check("whole", [][]byte{in})
	for cut := 1; cut < len(in); cut++ {
		if cut > 400 && cut < len(in)-400 && cut%997 != 0 {
			continue // inside the large bulk, a few cuts suffice
		}
		check("cut at "+strconv.Itoa(cut), [][]byte{in[:cut], in[cut:]})
	}
	var bytewise [][]byte
	for i := range in {
		bytewise = append(bytewise, in[i:i+1])
	}
	check("byte by byte", bytewise)
}

// TestReaderProtocolErrorMidPipeline checks that a protocol error in the
// middle of a pipeline, wherever the stream is cut, is answered after the
// replies to the requests before it, that those ran and the ones after it
// did not, and that the connection is closed.
func TestReaderProtocolErrorMidPipeline(t *testing.T) {
	p := startPipeServer(t, Config{})
	in := []byte("SET a 1\r\n" + mbulk("INCR", "a") + "*2\r\n$4\r\nINCR\r\n$x\r\nSET b 1\r\n")
	want := "+OK\r\n:2\r\n-ERR Protocol error: invalid bulk length\r\n"
	for cut := 0; cut < len(in); cut++ {
		got := pipeExchange(t, p, [][]byte{in[:cut], in[cut:]}, -1)
		if string(got) != want {
			t.Fatalf("cut at %d: got %q, want %q", cut, got, want)
		}
		for shard, st := range p.b.shards {
			r := st.Read(0, [][]byte{[]byte("MGET"), []byte("a"), []byte("b")})
			if r.Kind == resp.KindArray && r.Elems[1].Kind != resp.KindNull {
				t.Fatalf("cut at %d: the SET after the error ran (shard %d)", cut, shard)
			}
		}
		pipeExchange(t, p, [][]byte{[]byte("DEL a\r\n")}, len(":1\r\n"))
	}
}

// TestReaderLargeBatches sends more requests in one write than one batch
// takes (maxBatch): they are all served, in order.
func TestReaderLargeBatches(t *testing.T) {
	p := startPipeServer(t, Config{})
	const n = 3*maxBatch + 7
	var in, want strings.Builder
	for i := 0; i < n; i++ {
		in.WriteString("INCR c\n")
		want.WriteString(":" + strconv.Itoa(i+1) + "\r\n")
	}
	in.WriteString("DEL c\r\n")
	want.WriteString(":1\r\n")
	if got := pipeExchange(t, p, [][]byte{[]byte(in.String())}, want.Len()); string(got) != want.String() {
		t.Fatalf("got %d bytes of replies, want %d: %q...", len(got), want.Len(), got[:min(len(got), 80)])
	}
}

// TestReaderBigBulks sends bulks around the reader's buffer sizes, in
// pieces of several sizes, each followed by a request in the same write.
func TestReaderBigBulks(t *testing.T) {
	p := startPipeServer(t, Config{})
	for _, size := range []int{inBufSize - 1, inBufSize, keepData, keepData + 1, 1 << 20} {
		value := strings.Repeat("v", size-1) + "e"
		in := []byte(mbulk("SET", "big", value) + "STRLEN big\r\n" + mbulk("GET", "big") + "DEL big\r\n")
		want := "+OK\r\n:" + strconv.Itoa(size) + "\r\n$" + strconv.Itoa(size) + "\r\n" + value + "\r\n:1\r\n"
		for _, piece := range []int{len(in), 1000, 4097} {
			var pieces [][]byte
			for rest := in; len(rest) > 0; rest = rest[min(piece, len(rest)):] {
				pieces = append(pieces, rest[:min(piece, len(rest))])
			}
			if got := pipeExchange(t, p, pieces, len(want)); !bytes.Equal(got, []byte(want)) {
				t.Fatalf("%d-byte value in pieces of %d: got %d bytes of replies, want %d", size, piece, len(got), len(want))
			}
		}
	}
}

// TestDetachIsRefused checks that a connection cannot be detached: the
// connection closes and the detached end reports an error.
func TestDetachIsRefused(t *testing.T) {
	s, _ := startServer(t)
	client, server := net.Pipe()
	defer client.Close()
	g := newGuardConn(server, &guardListener{s: s})
	rc := &respConn{s: s, g: g}
	d := rc.Detach()
	if _, err := d.ReadCommand(); !errors.Is(err, errDetach) {
		t.Fatalf("ReadCommand after Detach: %v", err)
	}
	if !g.closed.Load() {
		t.Fatal("Detach left the connection open")
	}
}
