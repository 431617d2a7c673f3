package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/raftcache/raftcache/internal/tlsconf"
	"github.com/raftcache/raftcache/internal/tlsconf/tlstest"
)

// TestTLSCluster: three nodes whose cluster port speaks mutual TLS elect
// leaders and replicate; a peer with a certificate from another CA, and
// one in plain text, are refused with a warning that says why.
func TestTLSCluster(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "cluster-ca")
	files := tlstest.Write(t, dir, "node", ca, ca.Issue(t, "node"))
	r, err := tlsconf.New(tlsconf.Options{CertFile: files.Cert, KeyFile: files.Key, CAFile: files.CA})
	if err != nil {
		t.Fatal(err)
	}
	ns := newNodeSet(t, 3, 2, func(c *Config) { c.TLS = r })
	// A write on shard 0 reaches every replica.
	leader := ns.leader(0)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := leader.shards[0].Propose(ctx, [][][]byte{{[]byte("SET"), []byte("k"), []byte("v")}}); err != nil {
		t.Fatal(err)
	}

	// A node of its own CA: its dial is refused, and the refusing node
	// says why.
	other := tlstest.NewCA(t, "foreign-ca")
	ff := tlstest.Write(t, dir, "foreign", other, other.Issue(t, "foreign"))
	foreign, err := tlsconf.New(tlsconf.Options{CertFile: ff.Cert, KeyFile: ff.Key, CAFile: files.CA})
	if err != nil {
		t.Fatal(err)
	}
	// A node of its own whose warnings the test reads.
	core, logs := observer.New(zapcore.WarnLevel)
	cfg := testConfig(t, t.TempDir(), 1)
	cfg.TLS = r
	watched, err := Open(cfg, zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeNode(t, watched) })
	target := cfg.ClusterAddr
	c, err := dialMux(target, muxKey{kind: connKindRPC}, 2*time.Second, foreign)
	if err == nil {
		// TLS 1.3: the client finishes before the server checks its
		// certificate; the refusal shows on the first read.
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err = c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a node with a foreign certificate was served")
		}
		c.Close()
	}
	waitUntil(t, "the refusal logged", 5*time.Second, func() bool {
		for _, e := range logs.All() {
			if strings.Contains(e.Message, "cluster connection refused") &&
				strings.Contains(e.ContextMap()["error"].(string), "not signed by the cluster's CA") {
				return true
			}
		}
		return false
	})
	// The dialling side refuses a node whose certificate is foreign, too.
	if _, err := dialMux(target, muxKey{kind: connKindRPC}, 2*time.Second, mustReloader(t, ff.Cert, ff.Key, ff.CA)); err == nil ||
		!strings.Contains(err.Error(), "not signed by the cluster's CA") {
		t.Fatalf("dialling a node of another CA: %v", err)
	}
	// Plain text on the TLS cluster port: refused.
	if c, err := dialMux(target, muxKey{kind: connKindRPC}, 2*time.Second, nil); err == nil {
		_ = c.SetReadDeadline(time.Now().Add(headerTimeout + 2*time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a plain-text peer was served")
		}
		c.Close()
	}
	// The cluster still works.
	if _, err := leader.shards[0].Propose(ctx, [][][]byte{{[]byte("SET"), []byte("k"), []byte("w")}}); err != nil {
		t.Fatal(err)
	}
}

func mustReloader(t *testing.T, cert, key, ca string) *tlsconf.Reloader {
	t.Helper()
	r, err := tlsconf.New(tlsconf.Options{CertFile: cert, KeyFile: key, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTLSClusterNeedsCA(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "ca")
	f := tlstest.Write(t, dir, "n", ca, ca.Issue(t, "n"))
	r, err := tlsconf.New(tlsconf.Options{CertFile: f.Cert, KeyFile: f.Key, AuthClients: "no"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, t.TempDir(), 1)
	cfg.TLS = r
	if _, err := Open(cfg, zaptest.NewLogger(t)); err == nil || !strings.Contains(err.Error(), "needs a CA") {
		t.Fatalf("TLS without a CA: %v", err)
	}
}
