package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/internal/tlsconf/tlstest"
	"github.com/raftcache/raftcache/test/redisoracle"
)

// tlsCluster is three nodes with TLS on both ports: each serves plain
// text on its port and TLS on port+offset, and the cluster port speaks
// mutual TLS.
type tlsCluster struct {
	*testCluster
	offset int
	ca     *tlstest.CA
	client tlstest.Files // a client certificate the CA signed
	dir    string
}

// tlsPort is p's TLS client port.
func (c *tlsCluster) tlsPort(p *proc) int { return p.port + c.offset }

func (c *tlsCluster) tlsAddr(p *proc) string { return "127.0.0.1:" + strconv.Itoa(c.tlsPort(p)) }

// clientTLS trusts the cluster's CA and presents the client certificate.
func (c *tlsCluster) clientTLS(t *testing.T) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(c.client.Cert, c.client.Key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: c.ca.Pool(), Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1"}
}

// freeOffset finds a distance d such that every node's port + d is free,
// so that every node can use the same distance between port and tls-port.
func freeOffset(t *testing.T, procs []*proc) int {
	t.Helper()
	for d := 1000; d < 30000; d += 997 {
		ok := true
		for _, p := range procs {
			if p.port+d > 65535 {
				ok = false
				break
			}
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p.port+d))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return d
		}
	}
	t.Fatal("no free port distance for the TLS ports")
	return 0
}

func startTLSCluster(t *testing.T) *tlsCluster {
	t.Helper()
	c := &tlsCluster{testCluster: &testCluster{t: t, shards: 3}, dir: t.TempDir(), ca: tlstest.NewCA(t, "raftcache-test-ca")}
	c.client = tlstest.Write(t, c.dir, "client", c.ca, c.ca.Issue(t, "client"))
	var peers []string
	for i := 1; i <= 3; i++ {
		p := newProc(t, "n"+strconv.Itoa(i))
		c.procs = append(c.procs, p)
		peers = append(peers, fmt.Sprintf("%s=127.0.0.1:%d@%d", p.id, p.port, p.clusterPort))
	}
	c.offset = freeOffset(t, c.procs)
	for _, p := range c.procs {
		f := tlstest.Write(t, c.dir, p.id, c.ca, c.ca.Issue(t, p.id))
		p.extra = []string{"--shards", "3", "--peers", strings.Join(peers, ","),
			"--tls-port", strconv.Itoa(c.tlsPort(p)), "--tls-cluster", "yes",
			"--tls-cert-file", f.Cert, "--tls-key-file", f.Key, "--tls-ca-cert-file", f.CA}
		p.start()
	}
	for _, p := range c.procs {
		waitClusterOK(t, p.addr(), 60*time.Second)
	}
	return c
}

// requireTLSCLI returns redis-cli if it speaks TLS.
func requireTLSCLI(t *testing.T) string {
	t.Helper()
	path := requireTool(t, "redis-cli")
	out, _ := exec.Command(path, "--help").CombinedOutput()
	if !strings.Contains(string(out), "--tls") {
		redisoracle.Missing(t, "redis-cli was built without TLS", "install a redis-cli with TLS (Debian's redis-tools has it)")
	}
	return path
}

// tlsCLI runs redis-cli over TLS against addr.
func (c *tlsCluster) tlsCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	full := append([]string{"--tls", "--cacert", c.client.CA, "--cert", c.client.Cert, "--key", c.client.Key,
		"-h", host, "-p", port}, args...)
	out, err := exec.CommandContext(ctx, requireTLSCLI(t), full...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

// TestTLSClusterEndToEnd: three processes with TLS on the client and the
// cluster port. redis-cli --tls and go-redis's ClusterClient are served
// and sent to TLS ports (MOVED, CLUSTER SLOTS/NODES); a plain-text client
// on the TLS port is refused; a node whose certificate another CA signed
// cannot reach the cluster, and the nodes say why; SIGHUP reloads a
// rotated certificate.
func TestTLSClusterEndToEnd(t *testing.T) {
	requireTLSCLI(t)
	c := startTLSCluster(t)
	ctx := t.Context()
	n1 := c.procs[0]

	// redis-cli over TLS.
	if got := c.tlsCLI(t, c.tlsAddr(n1), "PING"); got != "PONG" {
		t.Fatalf("redis-cli --tls PING: %q", got)
	}
	// redis-cli -c follows MOVED to TLS ports: a key of every shard, from
	// one node.
	for shard := range 3 {
		k := c.keyInShard(shard, "tls")
		if got := c.tlsCLI(t, c.tlsAddr(n1), "-c", "SET", k, "v"+strconv.Itoa(shard)); got != "OK" {
			t.Fatalf("redis-cli -c --tls SET %s: %q", k, got)
		}
		if got := c.tlsCLI(t, c.tlsAddr(n1), "-c", "GET", k); got != "v"+strconv.Itoa(shard) {
			t.Fatalf("redis-cli -c --tls GET %s: %q", k, got)
		}
	}
	// CLUSTER NODES over TLS gives TLS ports, in plain text plain ports.
	nodes := c.tlsCLI(t, c.tlsAddr(n1), "CLUSTER", "NODES")
	for _, p := range c.procs {
		if !strings.Contains(nodes, fmt.Sprintf(" 127.0.0.1:%d@%d ", c.tlsPort(p), p.clusterPort)) {
			t.Fatalf("CLUSTER NODES over TLS lacks %s's TLS port:\n%s", p.id, nodes)
		}
	}
	if out := c.tlsCLI(t, c.tlsAddr(n1), "--cluster", "check", c.tlsAddr(n1)); !strings.Contains(out, "[OK] All 16384 slots covered") {
		t.Fatalf("redis-cli --tls --cluster check:\n%s", out)
	}
	if plain := cli(t, n1.addr(), "CLUSTER", "NODES"); !strings.Contains(plain, fmt.Sprintf(" 127.0.0.1:%d@", n1.port)) {
		t.Fatalf("CLUSTER NODES in plain text:\n%s", plain)
	}

	// redis-py over TLS: RedisCluster (routing by slot, following the TLS
	// ports CLUSTER SLOTS gives) and a plain Redis client on one node.
	py := requirePythonRedis(t)
	script := filepath.Join(t.TempDir(), "tls.py")
	if err := os.WriteFile(script, []byte(redisPyTLSScript), 0o644); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(c.tlsAddr(c.procs[1]))
	if out, err := runTool(t, 60*time.Second, "", py, script, host, port, c.client.CA, c.client.Cert, c.client.Key); err != nil ||
		!strings.HasSuffix(strings.TrimSpace(out), "ok") {
		t.Fatalf("redis-py over TLS: %v\n%s", err, out)
	}

	// A cluster-aware TLS connection gets MOVED with the leader's TLS port.
	for shard := range 3 {
		leader := c.leaderOf(shard, c.procs)
		var other *proc
		for _, p := range c.procs {
			if p != leader {
				other = p
				break
			}
		}
		rc := redis.NewClient(&redis.Options{Addr: c.tlsAddr(other), TLSConfig: c.clientTLS(t), MaxRetries: -1})
		if err := rc.Do(ctx, "READONLY").Err(); err != nil {
			t.Fatal(err)
		}
		err := rc.Set(ctx, c.keyInShard(shard, "moved"), "x", 0).Err()
		rc.Close()
		want := " " + c.tlsAddr(leader)
		if err == nil || !strings.HasPrefix(err.Error(), "MOVED ") || !strings.HasSuffix(err.Error(), want) {
			if leader2 := c.leaderOf(shard, c.procs); leader2 == leader { // not a leadership move meanwhile
				t.Fatalf("SET over TLS on %s for shard %d led by %s: %v, want MOVED to %s", other.id, shard, leader.id, err, want)
			}
		}
	}

	// go-redis's ClusterClient over TLS, first given a wrong slot map
	// (every slot on n1) so that it must follow MOVED to the TLS ports,
	// then with the map CLUSTER SLOTS gives.
	wrong := func(context.Context) ([]redis.ClusterSlot, error) {
		return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: []redis.ClusterNode{{Addr: c.tlsAddr(n1)}}}}, nil
	}
	for _, slots := range []func(context.Context) ([]redis.ClusterSlot, error){wrong, nil} {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{c.tlsAddr(n1)}, TLSConfig: c.clientTLS(t),
			ClusterSlots: slots, MaxRedirects: 3})
		for i := range 30 {
			k := fmt.Sprintf("cc:%d", i)
			if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
				t.Fatalf("ClusterClient SET %s: %v", k, err)
			}
			if v, err := cc.Get(ctx, k).Int(); err != nil || v != i {
				t.Fatalf("ClusterClient GET %s: %d %v", k, v, err)
			}
		}
		if slots == nil {
			got, err := cc.ClusterSlots(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range got {
				_, port, _ := net.SplitHostPort(s.Nodes[0].Addr)
				if n, _ := strconv.Atoi(port); n-c.offset < 0 || !isNodePort(c, n-c.offset) {
					t.Fatalf("CLUSTER SLOTS over TLS gives %s, not a TLS port", s.Nodes[0].Addr)
				}
			}
		}
		cc.Close()
	}

	// A plain-text client on the TLS port is refused.
	raw, err := net.DialTimeout("tcp", c.tlsAddr(n1), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = raw.Write([]byte("PING\r\n"))
	_ = raw.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, err := io.ReadAll(raw)
	raw.Close()
	if err != nil || strings.Contains(string(got), "PONG") {
		t.Fatalf("plain text on the TLS port: %q %v", got, err)
	}
	// And a TLS client without a certificate (tls-auth-clients yes).
	anon := redis.NewClient(&redis.Options{Addr: c.tlsAddr(n1), TLSConfig: &tls.Config{RootCAs: c.ca.Pool(), ServerName: "127.0.0.1"},
		MaxRetries: -1})
	if err := anon.Ping(ctx).Err(); err == nil {
		t.Fatal("a TLS client without a certificate was served")
	}
	anon.Close()

	// A node with a certificate from another CA (it trusts the cluster's
	// CA, so it gets as far as presenting its certificate): it dials the
	// cluster's nodes, which refuse it and log why.
	foreignCA := tlstest.NewCA(t, "foreign-ca")
	ff := tlstest.Write(t, c.dir, "n4", foreignCA, foreignCA.Issue(t, "n4"))
	n4 := newProc(t, "n4")
	var peers []string
	for _, p := range append(append([]*proc(nil), c.procs...), n4) {
		peers = append(peers, fmt.Sprintf("%s=127.0.0.1:%d@%d", p.id, p.port, p.clusterPort))
	}
	n4.extra = []string{"--shards", "3", "--peers", strings.Join(peers, ","), "--tls-cluster", "yes",
		"--tls-cert-file", ff.Cert, "--tls-key-file", ff.Key, "--tls-ca-cert-file", c.client.CA}
	n4.start()
	waitFor(t, "a node to log the foreign certificate it refused", 30*time.Second, func() bool {
		for _, p := range c.procs {
			logs := p.allLogs.String()
			if strings.Contains(logs, "cluster connection refused") && strings.Contains(logs, `certificate of \"n4\" not signed by the cluster's CA`) {
				return true
			}
		}
		return false
	})
	for _, p := range c.procs {
		if info := cli(t, p.addr(), "CLUSTER", "INFO"); !strings.Contains(info, "cluster_state:ok") {
			t.Fatalf("%s after the foreign node knocked:\n%s", p.id, info)
		}
	}
	n4.kill()

	// SIGHUP reloads a rotated certificate: n1 presents the new one to
	// new connections.
	rotated := c.ca.Issue(t, "n1-rotated")
	tlstest.Write(t, c.dir, "n1", c.ca, rotated)
	n1.signal(syscall.SIGHUP)
	waitFor(t, "n1 to present its rotated certificate", 10*time.Second, func() bool {
		conn, err := tls.Dial("tcp", c.tlsAddr(n1), c.clientTLS(t))
		if err != nil {
			return false
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName == "n1-rotated"
	})
	// The cluster port took it too: the cluster still replicates.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{c.tlsAddr(n1)}, TLSConfig: c.clientTLS(t)})
	defer cc.Close()
	if err := cc.Set(ctx, "after-rotation", "ok", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.waitConverged(c.procs, 30*time.Second)
}

// isNodePort reports whether port is one of the cluster's plain ports.
func isNodePort(c *tlsCluster, port int) bool {
	for _, p := range c.procs {
		if p.port == port {
			return true
		}
	}
	return false
}

// redisPyTLSScript drives the cluster's TLS ports with redis-py.
const redisPyTLSScript = `
import sys
import redis
from redis.cluster import RedisCluster

host, port, ca, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
tls = dict(ssl=True, ssl_ca_certs=ca, ssl_certfile=cert, ssl_keyfile=key, ssl_check_hostname=False)
rc = RedisCluster(host=host, port=port, **tls)
for i in range(100):
    assert rc.set("pytls:%d" % i, "v%d" % i)
for i in range(100):
    got = rc.get("pytls:%d" % i)
    assert got == ("v%d" % i).encode(), (i, got)
rc.close()
r = redis.Redis(host=host, port=port, **tls)
assert r.set("pytlsplain", "x") and r.get("pytlsplain") == b"x"
assert r.mget("pytls:1", "pytls:99", "nope") == [b"v1", b"v99", None]
r.close()
print("ok")
`
