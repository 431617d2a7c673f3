package tlsconf

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/internal/tlsconf/tlstest"
)

func TestParseProtocols(t *testing.T) {
	for _, c := range []struct {
		in     string
		lo, hi uint16
		err    string
	}{
		{"", tls.VersionTLS12, tls.VersionTLS13, ""},
		{"TLSv1.2 TLSv1.3", tls.VersionTLS12, tls.VersionTLS13, ""},
		{"tlsv1.3", tls.VersionTLS13, tls.VersionTLS13, ""},
		{"TLSv1.2", tls.VersionTLS12, tls.VersionTLS12, ""},
		{"TLSv1.1 TLSv1.2", 0, 0, "deprecated"},
		{"SSLv3", 0, 0, "unknown protocol"},
	} {
		lo, hi, err := ParseProtocols(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || lo != c.lo || hi != c.hi {
			t.Errorf("%q: %x %x %v", c.in, lo, hi, err)
		}
	}
}

func TestParseCiphers(t *testing.T) {
	got, err := ParseCiphers("ECDHE-RSA-AES256-GCM-SHA384:TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
	if err != nil || len(got) != 2 || got[0] != tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := ParseCiphers("DEFAULT"); got != nil || err != nil {
		t.Fatalf("DEFAULT: %v %v", got, err)
	}
	for _, bad := range []string{"HIGH:!aNULL", "RC4-SHA", "TLS_RSA_WITH_RC4_128_SHA"} {
		if _, err := ParseCiphers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := CheckCipherSuites("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"); err != nil {
		t.Fatal(err)
	}
	if err := CheckCipherSuites("TLS_AES_128_CCM_SHA256"); err == nil {
		t.Fatal("CCM accepted")
	}
}

func TestLoadAndReload(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "ca")
	f := tlstest.Write(t, dir, "a", ca, ca.Issue(t, "a"))
	o := Options{CertFile: f.Cert, KeyFile: f.Key, CAFile: f.CA}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	first := r.cur.Load()
	// A reload with a missing file fails and keeps what was in force.
	if err := r.Update(func(o *Options) { o.CertFile = filepath.Join(dir, "missing.crt") }); err == nil {
		t.Fatal("missing file accepted")
	}
	if r.cur.Load() != first {
		t.Fatal("a failed reload replaced the material")
	}
	// No CA while clients must be verified: refused.
	if _, err := New(Options{CertFile: f.Cert, KeyFile: f.Key}); err == nil || !strings.Contains(err.Error(), "tls-ca-cert") {
		t.Fatalf("no CA: %v", err)
	}
	if _, err := New(Options{CertFile: f.Cert, KeyFile: f.Key, AuthClients: "no"}); err != nil {
		t.Fatalf("no CA, no client auth: %v", err)
	}
	// A CA directory.
	caDir := filepath.Join(dir, "cas")
	if err := os.Mkdir(caDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(caDir, "README"), []byte("not a cert"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{CertFile: f.Cert, KeyFile: f.Key, CADir: caDir}); err == nil {
		t.Fatal("a CA dir without certificates accepted")
	}
	if err := os.WriteFile(filepath.Join(caDir, "ca.pem"), ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{CertFile: f.Cert, KeyFile: f.Key, CADir: caDir}); err != nil {
		t.Fatal(err)
	}
}

func TestEncryptedKeys(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "ca")
	leaf := ca.Issue(t, "a")
	f := tlstest.Write(t, dir, "a", ca, leaf)
	b, _ := pem.Decode(leaf.KeyPEM)
	//nolint:staticcheck // the legacy format is what is tested
	enc, err := x509.EncryptPEMBlock(rand.Reader, b.Type, b.Bytes, []byte("s3cret"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	encFile := filepath.Join(dir, "enc.key")
	if err := os.WriteFile(encFile, pem.EncodeToMemory(enc), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{CertFile: f.Cert, KeyFile: encFile, CAFile: f.CA}
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "tls-key-file-pass is not set") {
		t.Fatalf("no pass: %v", err)
	}
	o.KeyFilePass = "wrong"
	if _, err := New(o); err == nil {
		t.Fatal("wrong pass accepted")
	}
	o.KeyFilePass = "s3cret"
	if _, err := New(o); err != nil {
		t.Fatal(err)
	}
	pkcs8 := filepath.Join(dir, "pkcs8.key")
	if err := os.WriteFile(pkcs8, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}), 0o600); err != nil {
		t.Fatal(err)
	}
	o.KeyFile = pkcs8
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "PKCS#8") {
		t.Fatalf("PKCS#8: %v", err)
	}
}

// TestClusterPeerVerification: a node accepts a peer whose certificate the
// CA signed, whatever its host name, and refuses one from another CA.
func TestClusterPeerVerification(t *testing.T) {
	dir := t.TempDir()
	ca, other := tlstest.NewCA(t, "ca"), tlstest.NewCA(t, "other")
	fa := tlstest.Write(t, dir, "a", ca, ca.Issue(t, "a"))
	fx := tlstest.Write(t, dir, "x", other, other.Issue(t, "x"))
	a, err := New(Options{CertFile: fa.Cert, KeyFile: fa.Key, CAFile: fa.CA})
	if err != nil {
		t.Fatal(err)
	}
	x, err := New(Options{CertFile: fx.Cert, KeyFile: fx.Key, CAFile: fa.CA}) // trusts a's CA, but its own cert is foreign
	if err != nil {
		t.Fatal(err)
	}
	handshake := func(client, server *Reloader) error {
		c1, c2 := pipe(t)
		errc := make(chan error, 1)
		go func() { errc <- tls.Server(c2, server.ClusterServerConfig()).Handshake(); c2.Close() }()
		cerr := tls.Client(c1, client.ClusterClientConfig()).Handshake()
		c1.Close()
		serr := <-errc
		if serr != nil {
			return serr
		}
		return cerr
	}
	if err := handshake(a, a); err != nil {
		t.Fatalf("same CA: %v", err)
	}
	if err := handshake(x, a); err == nil || !strings.Contains(err.Error(), "not signed by the cluster's CA") {
		t.Fatalf("foreign client: %v", err)
	}
}
