package tlsconf

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Options are Redis's TLS options, valued as redis.conf writes them.
type Options struct {
	CertFile    string // tls-cert-file: PEM certificate chain
	KeyFile     string // tls-key-file: PEM private key
	KeyFilePass string // tls-key-file-pass: the key's passphrase, if encrypted
	CAFile      string // tls-ca-cert-file: PEM CA bundle
	CADir       string // tls-ca-cert-dir: a directory of PEM CA certificates
	// AuthClients is tls-auth-clients: "yes" (a client must present a
	// certificate the CA signed; Redis's default), "optional" (verified if
	// presented) or "no".
	AuthClients string
	// Protocols is tls-protocols: TLS versions separated by spaces,
	// "TLSv1.2", "TLSv1.3" (empty: both).
	Protocols string
	// Ciphers is tls-ciphers: the TLS 1.2 cipher suites, OpenSSL's or Go's
	// names separated by ':' (empty or DEFAULT: Go's defaults).
	Ciphers string
	// CipherSuites is tls-ciphersuites: TLS 1.3 suite names. Go does not
	// let a program choose TLS 1.3 suites (all three are always offered,
	// each secure); the names are checked and otherwise ignored.
	CipherSuites string
	// PreferServerCiphers is tls-prefer-server-ciphers. Go chooses the
	// order itself (by what the hardware accelerates), so it is accepted
	// and has no effect.
	PreferServerCiphers bool
}

// Auth modes of tls-auth-clients.
const (
	AuthYes      = "yes"
	AuthNo       = "no"
	AuthOptional = "optional"
)

// settings are the options that need no file, parsed.
type settings struct {
	minVersion, maxVersion uint16
	ciphers                []uint16
	clientAuth             tls.ClientAuthType
}

// Check parses the options that need no file (auth mode, protocols,
// ciphers); Load checks the rest.
func (o Options) Check() error {
	_, err := o.settings()
	return err
}

func (o Options) settings() (settings, error) {
	var s settings
	switch strings.ToLower(o.AuthClients) {
	case AuthYes, "":
		s.clientAuth = tls.RequireAndVerifyClientCert
	case AuthOptional:
		s.clientAuth = tls.VerifyClientCertIfGiven
	case AuthNo:
		s.clientAuth = tls.NoClientCert
	default:
		return s, fmt.Errorf("tls-auth-clients must be yes, no or optional, not %q", o.AuthClients)
	}
	var err error
	if s.minVersion, s.maxVersion, err = ParseProtocols(o.Protocols); err != nil {
		return s, err
	}
	if s.ciphers, err = ParseCiphers(o.Ciphers); err != nil {
		return s, err
	}
	if err := CheckCipherSuites(o.CipherSuites); err != nil {
		return s, err
	}
	return s, nil
}

// ParseProtocols reads tls-protocols into the versions allowed. Go allows
// a range, so the versions named must be adjacent. TLSv1 and TLSv1.1 are
// refused: both are deprecated (RFC 8996).
func ParseProtocols(v string) (lo, hi uint16, err error) {
	if strings.TrimSpace(v) == "" {
		return tls.VersionTLS12, tls.VersionTLS13, nil
	}
	for _, p := range strings.Fields(v) {
		var ver uint16
		switch strings.ToLower(p) {
		case "tlsv1.2":
			ver = tls.VersionTLS12
		case "tlsv1.3":
			ver = tls.VersionTLS13
		case "tlsv1", "tlsv1.1":
			return 0, 0, fmt.Errorf("tls-protocols: %s is refused: deprecated and insecure (RFC 8996); use TLSv1.2 and TLSv1.3", p)
		default:
			return 0, 0, fmt.Errorf("tls-protocols: unknown protocol %q (want TLSv1.2 and/or TLSv1.3)", p)
		}
		if lo == 0 || ver < lo {
			lo = ver
		}
		hi = max(hi, ver)
	}
	return lo, hi, nil
}

// openSSLNames maps OpenSSL's names of the TLS 1.2 suites Go offers to
// Go's IDs (Go's own names are accepted too).
var openSSLNames = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
}

// ParseCiphers reads tls-ciphers: TLS 1.2 suites by OpenSSL's or Go's
// name, separated by ':' (or ',' or spaces). Empty or DEFAULT: Go's
// defaults (nil). Insecure suites and OpenSSL's cipher-string keywords
// (HIGH, !aNULL, ...) are refused with the list of names known.
func ParseCiphers(v string) ([]uint16, error) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ',' || r == ' ' })
	if len(fields) == 0 || len(fields) == 1 && strings.EqualFold(fields[0], "DEFAULT") {
		return nil, nil
	}
	byGoName := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
			byGoName[cs.Name] = cs.ID
		}
	}
	var out []uint16
	for _, f := range fields {
		id, ok := openSSLNames[strings.ToUpper(f)]
		if !ok {
			id, ok = byGoName[strings.ToUpper(f)]
		}
		if !ok {
			known := make([]string, 0, len(openSSLNames))
			for n := range openSSLNames {
				known = append(known, n)
			}
			slices.Sort(known)
			return nil, fmt.Errorf("tls-ciphers: unknown or insecure TLS 1.2 cipher %q (known: %s)", f, strings.Join(known, ":"))
		}
		out = append(out, id)
	}
	return out, nil
}

// tls13Suites are the TLS 1.3 suites Go implements (and always offers).
var tls13Suites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// CheckCipherSuites checks tls-ciphersuites' names; Go always offers its
// three TLS 1.3 suites, whatever is named.
func CheckCipherSuites(v string) error {
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		if !slices.Contains(tls13Suites, strings.ToUpper(f)) {
			return fmt.Errorf("tls-ciphersuites: unknown TLS 1.3 suite %q (known: %s)", f, strings.Join(tls13Suites, ":"))
		}
	}
	return nil
}

// material is one loaded generation of certificates and settings.
type material struct {
	opts Options
	cert *tls.Certificate
	pool *x509.CertPool // nil without a CA
	set  settings

	server        *tls.Config // client port
	clusterServer *tls.Config // cluster port: a peer must present a CA-signed certificate
}

// load reads the files of o.
func load(o Options) (*material, error) {
	set, err := o.settings()
	if err != nil {
		return nil, err
	}
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("TLS needs tls-cert-file and tls-key-file")
	}
	cert, err := loadKeyPair(o.CertFile, o.KeyFile, o.KeyFilePass)
	if err != nil {
		return nil, err
	}
	pool, err := loadCAs(o.CAFile, o.CADir)
	if err != nil {
		return nil, err
	}
	if pool == nil && set.clientAuth != tls.NoClientCert {
		return nil, errors.New("tls-ca-cert-file or tls-ca-cert-dir is needed to verify clients (tls-auth-clients yes or optional); " +
			"set one, or tls-auth-clients no")
	}
	m := &material{opts: o, cert: cert, pool: pool, set: set}
	base := func() *tls.Config {
		return &tls.Config{
			Certificates: []tls.Certificate{*cert},
			MinVersion:   set.minVersion,
			MaxVersion:   set.maxVersion,
			CipherSuites: set.ciphers,
			ClientCAs:    pool,
		}
	}
	m.server = base()
	m.server.ClientAuth = set.clientAuth
	// Session tickets are sealed with keys of this generation: after a
	// reload (a new CA, say) no client resumes a session the old material
	// admitted, as Redis starts a new SSL_CTX on reload.
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("session ticket key: %w", err)
	}
	m.server.SetSessionTicketKeys([][32]byte{key})
	m.clusterServer = base()
	m.clusterServer.ClientAuth = tls.RequireAnyClientCert
	// No CA names in the certificate request: a node with a foreign
	// certificate sends it anyway, and is refused for what it is, not
	// for sending none.
	m.clusterServer.ClientCAs = nil
	m.clusterServer.VerifyPeerCertificate = verifyPeer(pool)
	return m, nil
}

// loadKeyPair reads the certificate chain and its key. An encrypted key
// in legacy PEM encryption (a "Proc-Type: 4,ENCRYPTED" header, as
// `openssl rsa -aes256 -traditional` writes) is decrypted with pass; an
// encrypted PKCS#8 key ("ENCRYPTED PRIVATE KEY", OpenSSL 3's default) is
// refused: Go's standard library cannot decrypt it.
func loadKeyPair(certFile, keyFile, pass string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tls-cert-file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls-key-file: %w", err)
	}
	if keyPEM, err = decryptKey(keyPEM, pass); err != nil {
		return nil, fmt.Errorf("tls-key-file %s: %w", keyFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls-cert-file %s with tls-key-file %s: %w", certFile, keyFile, err)
	}
	return &cert, nil
}

// decryptKey returns the key's PEM with every encrypted block decrypted.
func decryptKey(keyPEM []byte, pass string) ([]byte, error) {
	var out []byte
	rest := keyPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("an encrypted PKCS#8 key cannot be read (Go's standard library has no PKCS#8 decryption); " +
				"re-encrypt it in legacy PEM form (openssl rsa|ec -in KEY -aes256 -traditional) or store it unencrypted with tight permissions")
		//nolint:staticcheck // legacy PEM encryption is what tls-key-file-pass can support.
		case x509.IsEncryptedPEMBlock(b):
			if pass == "" {
				return nil, errors.New("the key is encrypted and tls-key-file-pass is not set")
			}
			//nolint:staticcheck // see above
			der, err := x509.DecryptPEMBlock(b, []byte(pass))
			if err != nil {
				return nil, fmt.Errorf("decrypt with tls-key-file-pass: %w", err)
			}
			b = &pem.Block{Type: b.Type, Bytes: der}
		}
		out = append(out, pem.EncodeToMemory(b)...)
	}
	if out == nil {
		return keyPEM, nil // let X509KeyPair say what is wrong
	}
	return out, nil
}

// loadCAs reads the CA bundle and every PEM certificate in the CA
// directory (OpenSSL's hashed links included); nil when neither is set.
func loadCAs(file, dir string) (*x509.CertPool, error) {
	if file == "" && dir == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("tls-ca-cert-file: %w", err)
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("tls-ca-cert-file %s: no PEM certificate in it", file)
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("tls-ca-cert-dir: %w", err)
		}
		found := false
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				continue // a dangling link or unreadable file is not a CA
			}
			if pool.AppendCertsFromPEM(data) {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("tls-ca-cert-dir %s: no PEM certificate in it", dir)
		}
	}
	return pool, nil
}

// verifyPeer checks a node's certificate chain against the CA, for either
// use (a node presents one certificate both as server and as client), and
// without a host name: nodes dial each other by the addresses in their
// peer lists, as Redis's cluster bus verifies only the chain.
func verifyPeer(pool *x509.CertPool) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("no certificate presented")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return fmt.Errorf("bad certificate: %w", err)
			}
			certs[i] = c
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			return fmt.Errorf("certificate of %q not signed by the cluster's CA: %w", certs[0].Subject.CommonName, err)
		}
		return nil
	}
}

// Reloader holds the current TLS material. Its methods may be called from
// any goroutine.
type Reloader struct {
	cur atomic.Pointer[material]
	mu  sync.Mutex // serialises reloads
}

// New loads o's files.
func New(o Options) (*Reloader, error) {
	m, err := load(o)
	if err != nil {
		return nil, err
	}
	r := &Reloader{}
	r.cur.Store(m)
	return r, nil
}

// Options returns the options in force.
func (r *Reloader) Options() Options { return r.cur.Load().opts }

// Reload loads o's files and, only if every one is good, makes them the
// current material: new handshakes use it, open connections keep theirs.
func (r *Reloader) Reload(o Options) error { return r.Update(func(cur *Options) { *cur = o }) }

// Update applies edit to the options in force and reloads with them.
func (r *Reloader) Update(edit func(*Options)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.cur.Load().opts
	edit(&o)
	m, err := load(o)
	if err != nil {
		return err
	}
	r.cur.Store(m)
	return nil
}

// Check reports whether edit applied to the options in force would load,
// without changing anything (CONFIG SET checks every pair first).
func (r *Reloader) Check(edit func(*Options)) error {
	o := r.cur.Load().opts
	edit(&o)
	_, err := load(o)
	return err
}

// ServerConfig is the client port's configuration: each handshake takes
// the current material.
func (r *Reloader) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.cur.Load().server, nil
		},
	}
}

// ClusterServerConfig is the cluster port's: mutual TLS, the peer's
// certificate checked against the CA (not its host name).
func (r *Reloader) ClusterServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.cur.Load().clusterServer, nil
		},
	}
}

// ClusterClientConfig is the configuration for dialling another node now:
// this node's certificate, the peer's checked against the CA.
func (r *Reloader) ClusterClientConfig() *tls.Config {
	m := r.cur.Load()
	return &tls.Config{
		// Always present the certificate, whatever CAs the peer names.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return m.cert, nil },
		MinVersion:           m.set.minVersion,
		MaxVersion:           m.set.maxVersion,
		CipherSuites:         m.set.ciphers,
		// The chain is verified by VerifyPeerCertificate, against the CA
		// and without a host name (see verifyPeer).
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: verifyPeer(m.pool),
	}
}

// HasCA reports whether a CA is configured.
func (r *Reloader) HasCA() bool { return r.cur.Load().pool != nil }
