package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestClientKill closes other connections by each filter and the caller
// itself only after its reply.
func TestClientKill(t *testing.T) {
	srv, _ := startServer(t)
	admin := dialRaw(t, srv)
	victim := dialRaw(t, srv)
	victim.send("CLIENT ID\r\n")
	id := strings.TrimSpace(strings.TrimPrefix(readLine(t, victim), ":"))

	admin.send("CLIENT KILL ID " + id + "\r\n")
	admin.expect(integer(1))
	victim.expectClosed()

	// The old form names the peer address.
	v2 := dialRaw(t, srv)
	v2.send("PING\r\n") // the server has registered it once it answers
	v2.expect("+PONG\r\n")
	admin.send("CLIENT KILL " + v2.c.LocalAddr().String() + "\r\n")
	admin.expect(ok)
	v2.expectClosed()

	// LADDR and TYPE match every other connection; SKIPME yes (the
	// default) spares the caller.
	v3, v4 := dialRaw(t, srv), dialRaw(t, srv)
	v3.send("PING\r\n")
	v3.expect("+PONG\r\n")
	v4.send("PING\r\n")
	v4.expect("+PONG\r\n")
	admin.send("CLIENT KILL LADDR " + srv.Addr().String() + " TYPE normal\r\n")
	admin.expect(integer(2))
	v3.expectClosed()
	v4.expectClosed()
	admin.send("PING\r\n")
	admin.expect("+PONG\r\n")

	// MAXAGE 0 matches every connection; SKIPME no includes the caller,
	// which still gets its reply before it is closed.
	admin.send("CLIENT KILL MAXAGE 0 SKIPME no\r\n")
	admin.expect(integer(1))
	admin.expectClosed()
}

// TestClientKillReleasesBlockedCommand kills a connection whose command
// waits (WAIT 1 0 blocks until a replica acknowledges, never on the
// fake): the kill must end the wait, not just the socket.
func TestClientKillReleasesBlockedCommand(t *testing.T) {
	b := newFakeBackend(3)
	b.waitBlocks = true
	srv := startServerWith(t, b)
	victim := dialRaw(t, srv)
	victim.send("CLIENT ID\r\n")
	id := strings.TrimSpace(strings.TrimPrefix(readLine(t, victim), ":"))
	victim.send("WAIT 1 0\r\n")
	admin := dialRaw(t, srv)
	admin.send("CLIENT KILL ID " + id + "\r\n")
	admin.expect(integer(1))
	victim.expectClosed()
	waitFor(t, "the killed connection to be gone", func() bool {
		return !strings.Contains(clientList(t, admin), "id="+id+" ")
	})
}

func TestClientListAndInfo(t *testing.T) {
	srv, _ := startServer(t)
	c := newClient(t, srv, 3)
	ctx := t.Context()
	if err := c.Do(ctx, "CLIENT", "SETNAME", "lister").Err(); err != nil {
		t.Fatal(err)
	}
	id, err := c.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.ClientInfo(ctx).Result()
	if err != nil || info.ID != id || info.Name != "lister" || info.Resp != 3 || info.LastCmd != "client|info" {
		t.Fatalf("CLIENT INFO = %+v, %v", info, err)
	}
	list, err := c.Do(ctx, "CLIENT", "LIST", "ID", fmt.Sprint(id)).Text()
	if err != nil || !strings.HasPrefix(list, fmt.Sprintf("id=%d addr=", id)) || strings.Count(list, "\n") != 1 ||
		!strings.Contains(list, " name=lister ") || !strings.Contains(list, " flags=N ") || !strings.Contains(list, " multi=-1 ") {
		t.Fatalf("CLIENT LIST ID = %q, %v", list, err)
	}
	raw := dialRaw(t, srv)
	raw.send("MULTI\r\nPING\r\n")
	raw.expect(ok + queued)
	list, err = c.Do(ctx, "CLIENT", "LIST", "TYPE", "normal").Text()
	if err != nil || strings.Count(list, "\n") != 2 || !strings.Contains(list, " flags=x ") || !strings.Contains(list, " multi=1 ") {
		t.Fatalf("CLIENT LIST TYPE normal = %q, %v", list, err)
	}
}

// TestClientPause holds writes (WRITE) or every keyspace command (ALL)
// until UNPAUSE, while connection commands keep answering.
func TestClientPause(t *testing.T) {
	srv, _ := startServer(t)
	admin := newClient(t, srv, 2)
	writer := newClient(t, srv, 2)
	ctx := t.Context()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "60000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- writer.Set(context.Background(), "p", "v", 0).Err() }()
	if err := writer.Get(ctx, "p").Err(); err == nil {
		// GET may run on another pooled connection: it must not wait.
		t.Fatal("GET saw a value the paused SET cannot have written")
	}
	select {
	case err := <-done:
		t.Fatalf("SET ran during a WRITE pause: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := admin.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING during the pause: %v", err)
	}
	if err := admin.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("SET after UNPAUSE: %v", err)
	}
	// A short ALL pause ends by itself and holds reads too.
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "200", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if v, err := writer.Get(ctx, "p").Result(); err != nil || v != "v" {
		t.Fatalf("GET after the pause = %q, %v", v, err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("GET answered after %v during an ALL pause of 200ms", d)
	}
}

// TestResetLogsOut checks RESET on a server with a password: the
// connection must authenticate again, as in Redis.
func TestResetLogsOut(t *testing.T) {
	b := newFakeBackend(1)
	srv := New(Config{Addr: "127.0.0.1:0", RequirePass: "secret"}, b, zaptest.NewLogger(t))
	serveInTest(t, srv)
	rc := dialRaw(t, srv)
	rc.send("AUTH secret\r\nHELLO 3\r\n")
	rc.expect(ok)
	readReply(t, rc)
	rc.send("RESET\r\nGET k\r\n")
	rc.expect(simple("RESET") + errReply("NOAUTH Authentication required."))
}

func readLine(t *testing.T, r *rawConn) string {
	t.Helper()
	line, err := r.r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func readReply(t *testing.T, r *rawConn) string {
	t.Helper()
	b, err := redisoracleReadReply(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func clientList(t *testing.T, r *rawConn) string {
	t.Helper()
	r.send("CLIENT LIST\r\n")
	return readReply(t, r)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestShutdownClosesRunningCommands: a command still running when the
// server closes is cut short; its client sees the connection close, not
// an answer made of the cancellation.
func TestShutdownClosesRunningCommands(t *testing.T) {
	b := newFakeBackend(3)
	b.waitBlocks = true
	b.waiting = make(chan struct{}, 1)
	srv := New(Config{Addr: "127.0.0.1:0", Version: "test"}, b, zaptest.NewLogger(t))
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	c := dialRaw(t, srv)
	c.send("WAIT 1 0\r\n")
	select {
	case <-b.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("WAIT never started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	c.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
