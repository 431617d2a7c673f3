package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/internal/tlsconf"
	"github.com/raftcache/raftcache/internal/tlsconf/tlstest"
	"github.com/raftcache/raftcache/store"
	"github.com/raftcache/raftcache/test/redisoracle"
)

// tlsFixture is a server with a plain and a TLS port over a fake backend,
// its CA and files, and a client certificate the CA signed.
type tlsFixture struct {
	s      *Server
	b      *fakeBackend
	ca     *tlstest.CA
	files  tlstest.Files
	client *tlstest.Leaf
	dir    string
}

func startTLS(t *testing.T, edit func(cfg *Config, o *tlsconf.Options)) *tlsFixture {
	t.Helper()
	f := &tlsFixture{dir: t.TempDir(), ca: tlstest.NewCA(t, "test-ca")}
	f.files = tlstest.Write(t, f.dir, "server", f.ca, f.ca.Issue(t, "server"))
	f.client = f.ca.Issue(t, "client")
	o := tlsconf.Options{CertFile: f.files.Cert, KeyFile: f.files.Key, CAFile: f.files.CA}
	cfg := Config{Addr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", Version: "test", TLSHandshakeTimeout: 300 * time.Millisecond}
	if edit != nil {
		edit(&cfg, &o)
	}
	r, err := tlsconf.New(o)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = r
	f.b = newFakeBackend(3)
	f.s = New(cfg, f.b, zaptest.NewLogger(t))
	serveInTest(t, f.s)
	return f
}

// clientTLS is a go-redis TLS configuration trusting the fixture's CA,
// presenting cert if not nil.
func (f *tlsFixture) clientTLS(cert *tlstest.Leaf) *tls.Config {
	c := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "server"}
	if cert != nil {
		// Presented whatever CAs the server names (a Go client would
		// otherwise keep a foreign certificate to itself).
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
	}
	return c
}

func (f *tlsFixture) redis(t *testing.T, cert *tlstest.Leaf) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: f.s.TLSAddr().String(), TLSConfig: f.clientTLS(cert),
		MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTLSClientsWithGoRedis(t *testing.T) {
	f := startTLS(t, nil)
	ctx := t.Context()
	c := f.redis(t, f.client)
	if err := c.Set(ctx, "k", "over tls", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "over tls" {
		t.Fatalf("GET: %q %v", v, err)
	}
	// The plain port serves the same keyspace.
	plain := redis.NewClient(&redis.Options{Addr: f.s.Addr().String()})
	defer plain.Close()
	if v, err := plain.Get(ctx, "k").Result(); err != nil || v != "over tls" {
		t.Fatalf("plain GET: %q %v", v, err)
	}
	// tls-auth-clients yes (the default): no certificate, no service.
	if err := f.redis(t, nil).Ping(ctx).Err(); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	// A certificate from another CA is refused.
	other := tlstest.NewCA(t, "other-ca")
	if err := f.redis(t, other.Issue(t, "intruder")).Ping(ctx).Err(); err == nil {
		t.Fatal("a client certificate from another CA was accepted")
	}
	// CONFIG GET shows the options; the pass never.
	got, err := c.ConfigGet(ctx, "tls-*").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, tlsPort, _ := net.SplitHostPort(f.s.TLSAddr().String())
	for k, want := range map[string]string{"tls-port": tlsPort, "tls-cert-file": f.files.Cert, "tls-auth-clients": "yes",
		"tls-key-file-pass": "", "tls-cluster": "no", "tls-prefer-server-ciphers": "no"} {
		if got[k] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", k, got[k], want)
		}
	}
}

func TestTLSAuthClientsOptionalAndNo(t *testing.T) {
	ctx := t.Context()
	for _, mode := range []string{"optional", "no"} {
		f := startTLS(t, func(_ *Config, o *tlsconf.Options) { o.AuthClients = mode })
		if err := f.redis(t, nil).Ping(ctx).Err(); err != nil {
			t.Fatalf("%s: without a certificate: %v", mode, err)
		}
		other := tlstest.NewCA(t, "other-ca")
		err := f.redis(t, other.Issue(t, "intruder")).Ping(ctx).Err()
		if mode == "optional" && err == nil {
			t.Fatal("optional: a certificate from another CA was accepted")
		}
	}
}

func TestTLSOnlyPort(t *testing.T) {
	f := startTLS(t, func(cfg *Config, _ *tlsconf.Options) { cfg.Addr = "" })
	c := f.redis(t, f.client)
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	if port := c.ConfigGet(t.Context(), "port").Val()["port"]; port != "0" {
		t.Fatalf("CONFIG GET port = %q without a plain-text port", port)
	}
}

// TestTLSRedirectsGiveTLSPorts: MOVED and CLUSTER SLOTS/SHARDS/NODES give
// a TLS connection each node's TLS port (its port plus this node's
// tls-port − port), a plain one the plain port.
func TestTLSRedirectsGiveTLSPorts(t *testing.T) {
	f := startTLS(t, nil)
	f.b.setCluster([]cluster.Peer{
		{ID: "fake", Addr: f.s.Addr().String(), ClusterAddr: "127.0.0.1:17000", Self: true},
		{ID: "n2", Addr: "127.0.0.1:7002", ClusterAddr: "127.0.0.1:17002"},
	}, []string{"n2", "fake", "fake"})
	off := f.s.tlsPortOffset()
	tls2 := strconv.Itoa(7002 + off)
	ctx := t.Context()
	key := keyInShard(f.b, 0, "k")

	c := f.redis(t, f.client)
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := slots[0].Nodes[0].Addr; got != "127.0.0.1:"+tls2 {
		t.Fatalf("CLUSTER SLOTS over TLS: shard 0's master at %s, want port %s", got, tls2)
	}
	if err := c.Get(ctx, key).Err(); err == nil || err.Error() != "MOVED "+strconv.Itoa(slotOf(key))+" 127.0.0.1:"+tls2 {
		t.Fatalf("GET over TLS: %v", err)
	}
	if nodes := c.ClusterNodes(ctx).Val(); !strings.Contains(nodes, " 127.0.0.1:"+tls2+"@17002 ") {
		t.Fatalf("CLUSTER NODES over TLS:\n%s", nodes)
	}
	shards, err := c.ClusterShards(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := shards[0].Nodes[0]
	if n.Port != 7002 || n.TLSPort != int64(7002+off) {
		t.Fatalf("CLUSTER SHARDS: port %d tls-port %d", n.Port, n.TLSPort)
	}

	plain := redis.NewClient(&redis.Options{Addr: f.s.Addr().String(), MaxRetries: -1})
	defer plain.Close()
	if got := plain.ClusterSlots(ctx).Val()[0].Nodes[0].Addr; got != "127.0.0.1:7002" {
		t.Fatalf("CLUSTER SLOTS in plain text: %s", got)
	}
	if err := plain.Get(ctx, key).Err(); err == nil || !strings.HasSuffix(err.Error(), " 127.0.0.1:7002") {
		t.Fatalf("GET in plain text: %v", err)
	}
}

func slotOf(key string) int { return store.SlotOf([]byte(key)) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestTLSHostileHandshakes: garbage, a stalled handshake, a plain-text
// client on the TLS port and a certificate from another CA each end only
// their own connection, within the handshake timeout, and count against
// maxclients while they last.
func TestTLSHostileHandshakes(t *testing.T) {
	f := startTLS(t, func(cfg *Config, _ *tlsconf.Options) { cfg.Limits.MaxClients = 3 })
	addr := f.s.TLSAddr().String()
	closedWithin := func(name string, c net.Conn, within time.Duration) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(within))
		start := time.Now()
		_, err := io.Copy(io.Discard, c)
		if err != nil {
			t.Fatalf("%s: not closed by the server within %v: %v", name, within, err)
		}
		t.Logf("%s: closed after %v", name, time.Since(start).Round(time.Millisecond))
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// Garbage instead of a ClientHello.
	g := dial()
	_, _ = g.Write([]byte("\x16\x03\x01\xff\xff garbage garbage garbage\r\n"))
	closedWithin("garbage", g, 2*time.Second)
	// A plain-text RESP client.
	p := dial()
	_, _ = p.Write([]byte("*1\r\n$4\r\nPING\r\n"))
	closedWithin("plain text", p, 2*time.Second)

	// Stalled handshakes hold maxclients slots until the timeout: with
	// three stalled, a fourth client (on either port) is refused.
	var stalled []net.Conn
	for range 3 {
		c := dial()
		_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x40}) // a record header, then nothing
		stalled = append(stalled, c)
	}
	waitFor(t, "three stalled handshakes counted", func() bool { return f.s.active.Load() == 3 })
	fourth, err := net.Dial("tcp", f.s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	_ = fourth.SetReadDeadline(time.Now().Add(2 * time.Second))
	if refusal, _ := io.ReadAll(fourth); !strings.Contains(string(refusal), "max number of clients") {
		t.Fatalf("a fourth client while three handshakes stall: %q", refusal)
	}
	for i, c := range stalled {
		closedWithin("stalled "+strconv.Itoa(i), c, 2*time.Second)
	}
	waitFor(t, "every hostile connection closed", func() bool { return f.s.active.Load() == 0 })
	if n := f.s.stats.tlsHandshakeFailures.Load(); n < 5 {
		t.Fatalf("%d handshake failures counted", n)
	}
	stats := f.redis(t, f.client).Info(t.Context(), "stats").Val()
	if !strings.Contains(stats, "raftcache_tls_handshake_failures:") || strings.Contains(stats, "raftcache_tls_handshake_failures:0\r") {
		t.Fatalf("INFO stats:\n%s", stats)
	}
	// The server still serves.
	if err := f.redis(t, f.client).Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestTLSNoRenegotiation: Go's TLS server never renegotiates; a client
// that asks (openssl s_client's "R" over TLS 1.2) loses its connection,
// and the server keeps serving everyone else.
func TestTLSNoRenegotiation(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		redisoracle.Missing(t, "openssl not found in PATH", "apt-get install openssl")
	}
	f := startTLS(t, func(_ *Config, o *tlsconf.Options) { o.AuthClients = "no" })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", f.s.TLSAddr().String(), "-tls1_2",
		"-CAfile", f.files.CA, "-servername", "server")
	stdin, _ := cmd.StdinPipe()
	out := &redisoracle.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "openssl connected", func() bool { return strings.Contains(out.String(), "Verify return code: 0") })
	_, _ = io.WriteString(stdin, "PING\n")
	waitFor(t, "PONG", func() bool { return strings.Contains(out.String(), "+PONG") })
	_, _ = io.WriteString(stdin, "R\n")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_, _ = io.WriteString(stdin, "PING\n")
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("connection still open after a renegotiation request:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "RENEGOTIATING") {
		t.Fatalf("openssl did not try to renegotiate:\n%s", out.String())
	}
	if strings.Count(out.String(), "+PONG") != 1 {
		t.Fatalf("served after the renegotiation request:\n%s", out.String())
	}
	t.Logf("openssl s_client:\n%s", lastLines(out.String(), 6))
	if err := f.redis(t, nil).Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestTLSReload: CONFIG SET of the files and tls-auth-clients takes effect
// for new handshakes without a restart; a bad file is refused and
// changes nothing; a certificate and its key change together.
func TestTLSReload(t *testing.T) {
	f := startTLS(t, nil)
	ctx := t.Context()
	c := f.redis(t, f.client)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// A new CA and server certificate: clients that trust only the new CA
	// can connect once both are set, and the open connection lives on.
	ca2 := tlstest.NewCA(t, "rotated-ca")
	f2 := tlstest.Write(t, f.dir, "rotated", ca2, ca2.Issue(t, "server"))
	err := c.ConfigSet(ctx, "tls-cert-file", f2.Cert).Err()
	if err == nil || !strings.Contains(err.Error(), "tls-cert-file") {
		t.Fatalf("a certificate without its key: %v", err)
	}
	if err := c.Do(ctx, "CONFIG", "SET", "tls-cert-file", f2.Cert, "tls-key-file", f2.Key, "tls-ca-cert-file", f2.CA).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the open connection after a reload: %v", err)
	}
	newClient := redis.NewClient(&redis.Options{Addr: f.s.TLSAddr().String(), MaxRetries: -1,
		TLSConfig: &tls.Config{RootCAs: ca2.Pool(), ServerName: "server", Certificates: []tls.Certificate{ca2.Issue(t, "c2").TLS}}})
	defer newClient.Close()
	if err := newClient.Ping(ctx).Err(); err != nil {
		t.Fatalf("a client of the new CA: %v", err)
	}
	if err := f.redis(t, f.client).Ping(ctx).Err(); err == nil {
		t.Fatal("a client of the old CA is still accepted")
	}
	// A missing file is refused, and what is in force stays.
	if err := c.ConfigSet(ctx, "tls-ca-cert-file", filepath.Join(f.dir, "missing")).Err(); err == nil {
		t.Fatal("a missing CA file accepted")
	}
	if got := c.ConfigGet(ctx, "tls-ca-cert-file").Val()["tls-ca-cert-file"]; got != f2.CA {
		t.Fatalf("tls-ca-cert-file = %q after a refused CONFIG SET", got)
	}
	// tls-auth-clients no: clients without certificates are served.
	if err := c.ConfigSet(ctx, "tls-auth-clients", "no").Err(); err != nil {
		t.Fatal(err)
	}
	anon := redis.NewClient(&redis.Options{Addr: f.s.TLSAddr().String(), MaxRetries: -1,
		TLSConfig: &tls.Config{RootCAs: ca2.Pool(), ServerName: "server"}})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err != nil {
		t.Fatalf("tls-auth-clients no: %v", err)
	}
	if err := c.ConfigSet(ctx, "tls-protocols", "TLSv1.1").Err(); err == nil {
		t.Fatal("TLSv1.1 accepted")
	}
	// Files rewritten in place are read again (as SIGHUP does).
	f3 := tlstest.Write(t, f.dir, "rotated", ca2, ca2.Issue(t, "server"))
	before, _ := os.ReadFile(f3.Cert)
	if err := f.s.cfg.TLS.Update(func(*tlsconf.Options) {}); err != nil {
		t.Fatal(err)
	}
	var seen []byte
	conn, err := tls.Dial("tcp", f.s.TLSAddr().String(), &tls.Config{RootCAs: ca2.Pool(), ServerName: "server"})
	if err != nil {
		t.Fatal(err)
	}
	seen = conn.ConnectionState().PeerCertificates[0].Raw
	conn.Close()
	if !strings.Contains(string(before), "CERTIFICATE") || string(seen) == "" {
		t.Fatal("no certificate")
	}
	blk := tlstest.DER(t, before)
	if string(blk) != string(seen) {
		t.Fatal("the reloaded server still presents the old certificate")
	}
}

// BenchmarkTLSConnect measures a new connection and one PING, in plain
// text and over TLS (a full TLS 1.3 handshake with ECDSA P-256 keys and a
// client certificate, no session resumption).
func BenchmarkTLSConnect(b *testing.B) {
	dir := b.TempDir()
	ca := tlstest.NewCA(b, "bench-ca")
	files := tlstest.Write(b, dir, "server", ca, ca.Issue(b, "server"))
	client := ca.Issue(b, "client")
	r, err := tlsconf.New(tlsconf.Options{CertFile: files.Cert, KeyFile: files.Key, CAFile: files.CA})
	if err != nil {
		b.Fatal(err)
	}
	s := New(Config{Addr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", TLS: r}, newFakeBackend(1), zap.NewNop())
	if err := s.Listen(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	defer s.Close(context.Background())
	ping := func(c net.Conn) {
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 16)
		if _, err := io.ReadAtLeast(c, buf, 7); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			ping(c)
		}
	})
	cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "server", Certificates: []tls.Certificate{client.TLS}}
	b.Run("tls", func(b *testing.B) {
		for b.Loop() {
			c, err := tls.Dial("tcp", s.TLSAddr().String(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			ping(c)
		}
	})
}

// TestTLSReloadEndsResumption: a session ticket from before a reload is
// not honoured after it, so a client the new material would refuse cannot
// come back by resuming.
func TestTLSReloadEndsResumption(t *testing.T) {
	f := startTLS(t, nil)
	cfg := f.clientTLS(f.client)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	dial := func() bool {
		c, err := tls.Dial("tcp", f.s.TLSAddr().String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// TLS 1.3 tickets arrive after the handshake: read a reply.
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAtLeast(c, make([]byte, 7), 7); err != nil {
			t.Fatal(err)
		}
		return c.ConnectionState().DidResume
	}
	dial()
	if !dial() {
		t.Fatal("the second connection did not resume (the test shows nothing)")
	}
	if err := f.s.cfg.TLS.Update(func(*tlsconf.Options) {}); err != nil {
		t.Fatal(err)
	}
	if dial() {
		t.Fatal("a session from before the reload was resumed")
	}
}

// TestTLSGuardAfterHandshake: once the handshake is done, the guard's
// framer judges a TLS client's bytes as a plain one's.
func TestTLSGuardAfterHandshake(t *testing.T) {
	f := startTLS(t, nil)
	c, err := tls.Dial("tcp", f.s.TLSAddr().String(), f.clientTLS(f.client))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("PING\r\n*1\r\n$abc\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if want := "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestTLSConfigRewrite: CONFIG REWRITE writes the tls-* options changed
// at run time back into the file, never the key's passphrase.
func TestTLSConfigRewrite(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "raftcache.conf")
	if err := os.WriteFile(conf, []byte("# test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := startTLS(t, func(cfg *Config, o *tlsconf.Options) { cfg.ConfigFile = conf; o.KeyFilePass = "never written" })
	c := f.redis(t, f.client)
	ctx := t.Context()
	if err := c.Do(ctx, "CONFIG", "SET", "tls-auth-clients", "optional", "tls-protocols", "TLSv1.3").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigRewrite(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(conf)
	for _, want := range []string{"tls-auth-clients optional\n", "tls-protocols TLSv1.3\n", "tls-cert-file " + f.files.Cert + "\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("rewritten file lacks %q:\n%s", want, data)
		}
	}
	if strings.Contains(string(data), "never written") || strings.Contains(string(data), "tls-key-file-pass") {
		t.Fatalf("the passphrase was written:\n%s", data)
	}
}
