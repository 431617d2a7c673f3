package server

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/raftcache/raftcache/test/redisoracle"
)

func TestAuthWithGoRedis(t *testing.T) {
	const pw = "correct horse"
	s, _ := startGuarded(t, Config{RequirePass: pw})
	ctx := t.Context()
	for _, proto := range []int{2, 3} {
		// go-redis authenticates with HELLO proto AUTH default pw (RESP3)
		// or AUTH pw (RESP2).
		c := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Password: pw, Protocol: proto, MaxRetries: -1})
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatalf("RESP%d with the password: %v", proto, err)
		}
		c.Close()
		c = redis.NewClient(&redis.Options{Addr: s.Addr().String(), Password: "wrong", Protocol: proto, MaxRetries: -1})
		err := c.Ping(ctx).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS invalid username-password pair") {
			t.Fatalf("RESP%d with a wrong password: %v", proto, err)
		}
		c.Close()
		c = redis.NewClient(&redis.Options{Addr: s.Addr().String(), Protocol: proto, MaxRetries: -1})
		if err := c.Get(ctx, "k").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
			t.Fatalf("RESP%d without a password: %v", proto, err)
		}
		c.Close()
	}
}

func TestAuthRaw(t *testing.T) {
	s, _ := startGuarded(t, Config{RequirePass: "pw"})
	rc := dialRaw(t, s)
	steps := []struct{ send, want string }{
		{"GET k\r\n", "-NOAUTH Authentication required.\r\n"},
		{"GET\r\n", "-ERR wrong number of arguments for 'get' command\r\n"}, // arity comes first, as in Redis
		{"HELLO 3\r\n", "-" + "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time" + "\r\n"},
		{"AUTH nope\r\n", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"AUTH other pw\r\n", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"AUTH DEFAULT pw\r\n", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"AUTH a b c\r\n", "-ERR syntax error\r\n"},
		{"AUTH default pw\r\n", "+OK\r\n"},
		{"AUTH wrong\r\n", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"PING\r\n", "+PONG\r\n"}, // a failed AUTH does not log out
		{mbulk("ECHO", strings.Repeat("x", 20000)), "$20000\r\n" + strings.Repeat("x", 20000) + "\r\n"},
	}
	for _, st := range steps {
		rc.send(st.send)
		rc.expect(st.want)
	}
	// HELLO AUTH logs in and switches protocol at once.
	rc2 := dialRaw(t, s)
	rc2.send("HELLO 3 AUTH default pw\r\n")
	line, err := rc2.r.ReadString('\n')
	if err != nil || line != "%7\r\n" {
		t.Fatalf("HELLO 3 AUTH = %q, %v", line, err)
	}
}

func TestAuthWithoutPassword(t *testing.T) {
	s, _ := startGuarded(t, Config{})
	rc := dialRaw(t, s)
	rc.send("AUTH x\r\n")
	rc.expect("-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n")
	rc.send("AUTH default anything\r\nAUTH someone x\r\n")
	rc.expect("+OK\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n")
	rc.send("HELLO 2 AUTH someone x\r\n")
	rc.expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n")
}

// TestPasswordIsNeverShown drives a password-protected server through
// logins, failures, protocol errors and introspection, and checks that
// the password appears in no reply and no log line.
func TestPasswordIsNeverShown(t *testing.T) {
	const pw = "Sup3r-S3cret-Pa55"
	s, logs := startGuarded(t, Config{RequirePass: pw})
	if s.cfg.RequirePass != "" {
		t.Fatal("the server keeps the password in its Config")
	}
	rc := dialRaw(t, s)
	var replies strings.Builder
	do := func(cmd string) {
		rc.send(cmd)
		got, err := readOneReply(rc)
		if err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
		replies.WriteString(got)
	}
	do("AUTH " + pw[:5] + "\r\n")
	do("AUTH default " + pw + "x\r\n")
	do("HELLO 2 AUTH default " + pw + "\r\n")
	do("INFO everything\r\n")
	do("CONFIG GET *\r\n")
	do("CONFIG GET requirepass\r\n")
	do("CLIENT LIST\r\n")
	do("CLIENT INFO\r\n")
	do("AUTH " + pw + " extra\r\n")
	// Protocol errors and limits log; none of them may quote a password.
	exchange(t, s.Addr().String(), []byte("AUTH "+pw+"\r\n*1\r\n$x\r\n"), false)
	exchange(t, s.Addr().String(), []byte("AUTH \""+pw+"\r\n"), false)
	if strings.Contains(replies.String(), pw) {
		t.Fatal("a reply shows the password")
	}
	if !strings.Contains(replies.String(), "requirepass") {
		t.Fatalf("CONFIG GET did not answer requirepass: %q", replies.String())
	}
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		if strings.Contains(line, pw) {
			t.Fatalf("the log shows the password: %s", line)
		}
	}
}

// readOneReply reads one RESP2 reply, aggregates included, as raw text.
func readOneReply(rc *rawConn) (string, error) {
	b, err := redisoracle.ReadReply(rc.r)
	return string(b), err
}

// seenListener is a loopback listener as the guard sees it: its Addr is
// the address it claims to listen on, and while outside is set the
// connections it accepts claim to come from a non-loopback peer. So the
// protected-mode decisions are tested with all traffic on 127.0.0.1.
type seenListener struct {
	net.Listener
	addr    net.Addr
	outside atomic.Bool
}

func (l *seenListener) Addr() net.Addr { return l.addr }

func (l *seenListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || !l.outside.Load() {
		return c, err
	}
	return outsideConn{c}, nil
}

type outsideConn struct{ net.Conn }

func (outsideConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 50000} }

// startSeenAs runs a server with cfg on 127.0.0.1 whose listener claims to
// listen on claimed ("0.0.0.0" for every interface).
func startSeenAs(t *testing.T, cfg Config, claimed string) (*Server, *seenListener, string) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s := New(cfg, newFakeBackend(3), zaptest.NewLogger(t))
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	real := s.ln.(*guardListener).Listener
	port := real.Addr().(*net.TCPAddr).Port
	seen := &seenListener{Listener: real, addr: &net.TCPAddr{IP: net.ParseIP(claimed), Port: port}}
	s.ln = newGuardListener(seen, s)
	serveListening(t, s)
	return s, seen, real.Addr().String()
}

func TestProtectedMode(t *testing.T) {
	ping := func(seen *seenListener, addr string, outside bool) string {
		seen.outside.Store(outside)
		defer seen.outside.Store(false)
		return string(exchange(t, addr, []byte("PING\r\n"), true))
	}
	denied := "-" + "DENIED raftcache is running in protected mode because protected mode is enabled and no password is set for the default user."
	// Every interface, no password: only loopback clients.
	_, seen, addr := startSeenAs(t, Config{ProtectedMode: true}, "0.0.0.0")
	if got := ping(seen, addr, true); !strings.HasPrefix(got, denied) || !strings.Contains(got, "'--protected-mode no'") ||
		!strings.HasSuffix(got, "accepting connections from the outside.\r\n") || strings.Count(got, "\r\n") != 1 {
		t.Fatalf("from outside: %q", got)
	}
	if got := ping(seen, addr, false); got != "+PONG\r\n" {
		t.Fatalf("from loopback: %q", got)
	}
	// Turned off, with a password, or bound to one address: no denial.
	for _, c := range []struct {
		cfg     Config
		claimed string
		want    string
	}{
		{Config{ProtectedMode: false}, "0.0.0.0", "+PONG\r\n"},
		{Config{ProtectedMode: true, RequirePass: "pw"}, "0.0.0.0", "-NOAUTH Authentication required.\r\n"},
		{Config{ProtectedMode: true}, "::", "-DENIED"},
		{Config{ProtectedMode: true}, "10.1.2.3", "+PONG\r\n"},
	} {
		_, seen, addr := startSeenAs(t, c.cfg, c.claimed)
		if got := ping(seen, addr, true); !strings.HasPrefix(got, c.want) {
			t.Fatalf("%+v listening on %s: from outside: %q, want %q", c.cfg, c.claimed, got, c.want)
		}
	}
}

// TestMatchesRedis sends raw inputs to raftcache and to a real
// redis-server and compares every byte each sends back before closing.
func TestMatchesRedis(t *testing.T) {
	cases := []string{
		"*1\r\n$9223372036854775807\r\nxx\r\n",
		"*9000000000000000000\r\n",
		"*2147483648\r\n",
		"*1\r\n$536870913\r\n",
		"*1\r\n$-1\r\n",
		"*1\r\n$03\r\n",
		"*03\r\n",
		"*\r\n",
		"*1\r\n$ 4\r\n",
		"*2\r\n+k\r\n",
		"*1\r\n\r\n",
		"*1\r\n$4\r\nPINGab",
		"*1\rX$4\rXPING\r\n",
		"*0\r\n*-1\r\n*-7\r\n\r\n\r\n  \r\nPING\r\n",
		"PING\r\n*1\r\n$x\r\n",
		strings.Repeat("A", 100000),
		"*" + strings.Repeat("1", 100000),
		"*1\r\n$" + strings.Repeat("1", 100000),
		"*1\r\n" + strings.Repeat("x", 100000),
		"*1" + strings.Repeat("\n", 100000),
		"PING\x00\r\nPING\r\n" + strings.Repeat("A", 100000),
		"ECHO \"a b\"\r\n",
		"ECHO \"a\\x41\\x4g\\n\\q\\b\\a\\t\\r\"\r\n",
		"ECHO 'a\\'b\\n'\r\n",
		"ECHO a\"b c\"\r\n",
		"ECHO \"a\"b\r\n",
		"ECHO \"ab\r\n",
		"ECHO 'ab\r\n",
		"ECHO a\tb\r\n",
		"ECHO a\x0bb\r\n",
		"ECHO a\rb\r\n",
		"ECHO \"a\"\x0b\r\n",
		"ECHO \"\"\r\n",
		"ECHO \"\\\r\n",
		"ECHO \"a\rb\"\n",
		"ECHO '\\x41'\r\n",
		"ECHO \"\\xff\\x00\\xAb\"\r\n",
		"  \t PING  \r\n",
		"AUTH x\r\n",
		"AUTH default x\r\nAUTH foo x\r\nAUTH a b c\r\n",
		"QUIT\r\n",
	}
	authCases := []string{
		"*11\r\n",
		"*10\r\n",
		"*1\r\n$16385\r\n",
		"*1\r\n$16384\r\n",
		"PING\r\nFOO\r\nGET\r\nCLIENT NOPE\r\n",
		"AUTH\r\nAUTH a b c\r\n",
		"AUTH wrong\r\nPING\r\n",
		"AUTH s3cret\r\nPING\r\n",
		"AUTH default s3cret\r\nPING\r\n",
		"AUTH other s3cret\r\nPING\r\n",
		"AUTH DEFAULT s3cret\r\nPING\r\n",
		"AUTH s3cret\r\nAUTH wrong\r\nPING\r\n",
		"AUTH s3cret\r\n*11\r\n$4\r\nECHO\r\n",
		"HELLO\r\nHELLO 3\r\nHELLO 3 SETNAME a\r\n",
		"HELLO 3 AUTH default wrong\r\nHELLO 3 AUTH foo s3cret\r\nPING\r\n",
		"HELLO 2 AUTH default\r\nHELLO 4\r\nHELLO x\r\n",
		"HELLO 2 AUTH default s3cret BOGUS\r\nPING\r\n",
		"HELLO 2 SETNAME a\x01 AUTH default s3cret\r\nPING\r\n",
		"HELLO 2 AUTH default wrong AUTH default s3cret\r\nPING\r\n",
		"ping a a a a a a a a a a a a a a a a a a a a\r\n",
		"MULTI\r\n",
		"PING\r\n*11\r\n",
		"AUTH s3cret\r\nRESET\r\nPING\r\n",
		"RESET\r\n*11\r\n",
		"QUIT\r\n",
	}
	redisAddr := redisoracle.Start(t)
	// Start cannot wait for a server that wants a password: set it after.
	redisAuthAddr := redisoracle.Start(t)
	rc, err := redisoracle.Dial(redisAuthAddr)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := rc.Do("CONFIG", "SET", "requirepass", "s3cret"); err != nil || string(r) != "+OK\r\n" {
		t.Fatalf("CONFIG SET requirepass: %q, %v", r, err)
	}
	rc.Close()
	ours, _ := startGuarded(t, Config{})
	oursAuth, _ := startGuarded(t, Config{RequirePass: "s3cret"})
	compare := func(t *testing.T, redisAddr, ourAddr string, in string) {
		want := rawExchange(t, redisAddr, in)
		got := rawExchange(t, ourAddr, in)
		if got != want {
			t.Errorf("input %q:\nredis     %q\nraftcache %q", trim(in), want, got)
		}
	}
	for _, in := range cases {
		compare(t, redisAddr, ours.Addr().String(), in)
	}
	for _, in := range authCases {
		compare(t, redisAuthAddr, oursAuth.Addr().String(), in)
	}
}

// rawExchange sends in, ends the write side and returns everything the
// server sends until it closes the connection.
func rawExchange(t *testing.T, addr, in string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		if _, err := io.WriteString(c, in); err == nil {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}()
	b, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("%s: %v", addr, err)
	}
	return string(b)
}

func trim(s string) string {
	if len(s) > 60 {
		return s[:60] + "...(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}
