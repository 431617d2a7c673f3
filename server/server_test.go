package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startServer runs a server on 127.0.0.1:0 over a fake backend and stops
// it when the test ends.
func startServer(t *testing.T) (*Server, *fakeBackend) {
	t.Helper()
	b := newFakeBackend(3)
	s := New(Config{Addr: "127.0.0.1:0", Version: "test"}, b, zaptest.NewLogger(t))
	serveInTest(t, s)
	return s, b
}

func newClient(t *testing.T, s *Server, proto int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Protocol: proto, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGoRedisBasics(t *testing.T) {
	s, _ := startServer(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx := t.Context()
			c := newClient(t, s, proto)
			key := func(k string) string { return fmt.Sprintf("p%d:%s", proto, k) }
			if err := c.Ping(ctx).Err(); err != nil {
				t.Fatalf("PING: %v", err)
			}
			if err := c.Set(ctx, key("s"), "v", 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
			if v, err := c.Get(ctx, key("s")).Result(); err != nil || v != "v" {
				t.Fatalf("GET = %q, %v", v, err)
			}
			if _, err := c.Get(ctx, key("missing")).Result(); !errors.Is(err, redis.Nil) {
				t.Fatalf("GET missing: %v, want redis.Nil", err)
			}
			if ok, err := c.SetNX(ctx, key("s"), "other", 0).Result(); err != nil || ok {
				t.Fatalf("SETNX on existing = %v, %v", ok, err)
			}
			if n, err := c.HSet(ctx, key("h"), "a", "1", "b", "2").Result(); err != nil || n != 2 {
				t.Fatalf("HSET = %d, %v", n, err)
			}
			m, err := c.HGetAll(ctx, key("h")).Result()
			if err != nil || len(m) != 2 || m["a"] != "1" || m["b"] != "2" {
				t.Fatalf("HGETALL = %v, %v", m, err)
			}
			if n, err := c.Incr(ctx, key("n")).Result(); err != nil || n != 1 {
				t.Fatalf("INCR = %d, %v", n, err)
			}
			if ok, err := c.Expire(ctx, key("n"), time.Hour).Result(); err != nil || !ok {
				t.Fatalf("EXPIRE = %v, %v", ok, err)
			}
			if d, err := c.TTL(ctx, key("n")).Result(); err != nil || d != time.Hour {
				t.Fatalf("TTL = %v, %v", d, err)
			}
			err = c.Get(ctx, key("h")).Err()
			if err == nil || err.Error() != "WRONGTYPE Operation against a key holding the wrong kind of value" {
				t.Fatalf("GET on a hash: %v", err)
			}
			err = c.Do(ctx, "GET").Err()
			if err == nil || err.Error() != "ERR wrong number of arguments for 'get' command" {
				t.Fatalf("GET without key: %v", err)
			}
			err = c.Do(ctx, "FOO", "a", "b").Err()
			if err == nil || err.Error() != "ERR unknown command 'FOO', with args beginning with: 'a' 'b' " {
				t.Fatalf("unknown command: %v", err)
			}
			if n, err := c.Del(ctx, key("s"), key("h"), key("n"), key("missing")).Result(); err != nil || n != 3 {
				t.Fatalf("DEL across shards = %d, %v", n, err)
			}
		})
	}
}

func TestHelloAndClient(t *testing.T) {
	s, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, s, 2)
	hello, err := c.Do(ctx, "HELLO", "3", "SETNAME", "tester").Result()
	if err != nil {
		t.Fatalf("HELLO 3: %v", err)
	}
	m, ok := hello.(map[interface{}]interface{})
	if !ok {
		t.Fatalf("HELLO 3 reply is %T, want a map", hello)
	}
	if m["proto"] != int64(3) || m["server"] != "redis" {
		t.Fatalf("HELLO 3 = %v", m)
	}
	if name, err := c.Do(ctx, "CLIENT", "GETNAME").Result(); err != nil || name != "tester" {
		t.Fatalf("CLIENT GETNAME = %v, %v", name, err)
	}
	if err := c.Do(ctx, "HELLO", "4").Err(); err == nil || err.Error() != "NOPROTO unsupported protocol version" {
		t.Fatalf("HELLO 4: %v", err)
	}
	if err := c.Do(ctx, "CLIENT", "SETNAME", "a b").Err(); err == nil ||
		err.Error() != "ERR Client names cannot contain spaces, newlines or special characters." {
		t.Fatalf("CLIENT SETNAME with a space: %v", err)
	}
	if err := c.Do(ctx, "CLIENT", "NOPE").Err(); err == nil ||
		err.Error() != "ERR unknown subcommand 'NOPE'. Try CLIENT HELP." {
		t.Fatalf("CLIENT NOPE: %v", err)
	}
	if err := c.Do(ctx, "SELECT", "0").Err(); err != nil {
		t.Fatalf("SELECT 0: %v", err)
	}
	if err := c.Do(ctx, "SELECT", "1").Err(); err == nil || err.Error() != "ERR SELECT is not allowed in cluster mode" {
		t.Fatalf("SELECT 1: %v", err)
	}
	if err := c.Do(ctx, "SWAPDB", "0", "1").Err(); err == nil || err.Error() != "ERR SWAPDB is not allowed in cluster mode" {
		t.Fatalf("SWAPDB 0 1: %v", err)
	}
	// The fake backend's node leads every shard and is the only peer: a
	// master without replicas.
	if role, err := c.Do(ctx, "ROLE").Slice(); err != nil || len(role) != 3 || role[0] != "master" ||
		role[1] != int64(0) || len(role[2].([]any)) != 0 {
		t.Fatalf("ROLE = %v, %v", role, err)
	}
	info, err := c.Info(ctx).Result()
	if err != nil || !strings.Contains(info, "# Server\r\nredis_version:") || !strings.Contains(info, "# Keyspace\r\n") {
		t.Fatalf("INFO = %q, %v", info, err)
	}
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	info, err = c.Info(ctx, "keyspace").Result()
	if err != nil || info != "# Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0\r\n" {
		t.Fatalf("INFO keyspace = %q, %v", info, err)
	}
	ci, err := c.ClusterInfo(ctx).Result()
	if err != nil || !strings.HasPrefix(ci, "cluster_state:ok\r\n") {
		t.Fatalf("CLUSTER INFO = %q, %v", ci, err)
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 1 {
		t.Fatalf("DBSIZE = %d, %v", n, err)
	}
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("DBSIZE after FLUSHALL = %d, %v", n, err)
	}
}

// rawConn is a raw RESP connection for byte-exact checks.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, s *Server) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// expect reads exactly len(want) bytes and compares them.
func (r *rawConn) expect(want string) {
	r.t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r.r, got); err != nil {
		r.t.Fatalf("read (want %q): %v; got %q", want, err, got)
	}
	if string(got) != want {
		r.t.Fatalf("got %q, want %q", got, want)
	}
}

func (r *rawConn) expectClosed() {
	r.t.Helper()
	b, err := r.r.ReadByte()
	if err == nil {
		r.t.Fatalf("connection still open: read %q", b)
	}
}

func TestRawPipelineOf100(t *testing.T) {
	s, _ := startServer(t)
	rc := dialRaw(t, s)
	var req, want strings.Builder
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("key%d", i)
		v := fmt.Sprintf("v\r\n%d", i)
		fmt.Fprintf(&req, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
		want.WriteString("+OK\r\n")
	}
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("key%d", i)
		v := fmt.Sprintf("v\r\n%d", i)
		fmt.Fprintf(&req, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k)
		fmt.Fprintf(&want, "$%d\r\n%s\r\n", len(v), v)
	}
	rc.send(req.String()) // 100 commands in one write
	rc.expect(want.String())
}

func TestRawInlineAndErrors(t *testing.T) {
	s, _ := startServer(t)
	rc := dialRaw(t, s)
	rc.send("PING\r\n")
	rc.expect("+PONG\r\n")
	rc.send("SET inline value\r\nGET inline\r\n")
	rc.expect("+OK\r\n$5\r\nvalue\r\n")
	rc.send("*2\r\n$3\r\nGET\r\n$0\r\n\r\n")
	rc.expect("$-1\r\n")
	rc.send("*1\r\n$4\r\nINCR\r\n")
	rc.expect("-ERR wrong number of arguments for 'incr' command\r\n")
	rc.send("SET n abc\r\nINCR n\r\n")
	rc.expect("+OK\r\n-ERR value is not an integer or out of range\r\n")
	rc.send("SET k v EX 10 PX 10\r\n")
	rc.expect("-ERR syntax error\r\n")
	rc.send("ECHO \"a b\"\r\n")
	rc.expect("$3\r\na b\r\n")
	rc.send("HELLO 3\r\n")
	// The HELLO reply is a map; after it, nulls are RESP3 nulls.
	line, err := rc.r.ReadString('\n')
	if err != nil || line != "%7\r\n" {
		t.Fatalf("HELLO 3 header = %q, %v", line, err)
	}
	for i := 0; i < 14; i++ { // skip the map's 7 pairs
		skipReply(t, rc.r)
	}
	rc.send("GET missing\r\n")
	rc.expect("_\r\n")
}

// skipReply reads one simple reply (no aggregates nested beyond one level
// of array) and discards it.
func skipReply(t *testing.T, r *bufio.Reader) {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	switch line[0] {
	case '$':
		var n int
		fmt.Sscanf(line[1:], "%d", &n)
		if n >= 0 {
			if _, err := io.ReadFull(r, make([]byte, n+2)); err != nil {
				t.Fatal(err)
			}
		}
	case '*':
		var n int
		fmt.Sscanf(line[1:], "%d", &n)
		for i := 0; i < n; i++ {
			skipReply(t, r)
		}
	}
}

func TestMalformedFrameClosesOnlyThatConnection(t *testing.T) {
	s, _ := startServer(t)
	good := dialRaw(t, s)
	good.send("SET k v\r\n")
	good.expect("+OK\r\n")

	bad := dialRaw(t, s)
	bad.send("*1\r\n$x\r\nPING\r\n")
	bad.expect("-ERR Protocol error: invalid bulk length\r\n")
	bad.expectClosed()

	bad2 := dialRaw(t, s)
	bad2.send("*2\r\n$3\r\nGET\r\n+k\r\n")
	line, err := bad2.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "-ERR Protocol error") {
		t.Fatalf("wrong frame type reply = %q, %v", line, err)
	}
	bad2.expectClosed()

	good.send("GET k\r\n")
	good.expect("$1\r\nv\r\n")
}

func TestQuitClosesConnection(t *testing.T) {
	s, _ := startServer(t)
	rc := dialRaw(t, s)
	rc.send("QUIT\r\n")
	rc.expect("+OK\r\n")
	rc.expectClosed()
}
