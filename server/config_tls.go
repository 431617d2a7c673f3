package server

import (
	"net"
	"strings"

	"go.uber.org/zap"

	"github.com/raftcache/raftcache/internal/tlsconf"
)

// The tls-* CONFIG parameters, named and valued as Redis's. The files,
// tls-auth-clients, tls-protocols and the cipher lists may change at run
// time: CONFIG SET loads every file again and, only if all load, makes
// them the TLS material of new handshakes on both ports (open connections
// keep theirs). Several tls-* pairs in one CONFIG SET are checked and
// applied together, so a certificate and its key can be replaced at once.
// tls-port and tls-cluster are fixed at start. tls-key-file-pass is never
// revealed (CONFIG GET answers ""), as requirepass is not.

// tlsField reads and edits one option of tlsconf.Options.
type tlsField struct {
	name string
	def  string
	get  func(o tlsconf.Options) string
	// edit sets v; it returns a reason when v is refused outright.
	edit func(o *tlsconf.Options, v string) string
	// secret options are never shown nor written back.
	secret bool
}

func str(field func(o *tlsconf.Options) *string) (func(tlsconf.Options) string, func(*tlsconf.Options, string) string) {
	return func(o tlsconf.Options) string { return *field(&o) },
		func(o *tlsconf.Options, v string) string { *field(o) = v; return "" }
}

var tlsFields = func() []tlsField {
	certGet, certEdit := str(func(o *tlsconf.Options) *string { return &o.CertFile })
	keyGet, keyEdit := str(func(o *tlsconf.Options) *string { return &o.KeyFile })
	_, passEdit := str(func(o *tlsconf.Options) *string { return &o.KeyFilePass })
	caGet, caEdit := str(func(o *tlsconf.Options) *string { return &o.CAFile })
	caDirGet, caDirEdit := str(func(o *tlsconf.Options) *string { return &o.CADir })
	protoGet, protoEdit := str(func(o *tlsconf.Options) *string { return &o.Protocols })
	ciphersGet, ciphersEdit := str(func(o *tlsconf.Options) *string { return &o.Ciphers })
	suitesGet, suitesEdit := str(func(o *tlsconf.Options) *string { return &o.CipherSuites })
	return []tlsField{
		{name: "tls-cert-file", get: certGet, edit: certEdit},
		{name: "tls-key-file", get: keyGet, edit: keyEdit},
		{name: "tls-key-file-pass", get: func(tlsconf.Options) string { return "" }, edit: passEdit, secret: true},
		{name: "tls-ca-cert-file", get: caGet, edit: caEdit},
		{name: "tls-ca-cert-dir", get: caDirGet, edit: caDirEdit},
		{name: "tls-auth-clients", def: "yes", get: func(o tlsconf.Options) string {
			if o.AuthClients == "" {
				return tlsconf.AuthYes
			}
			return strings.ToLower(o.AuthClients)
		}, edit: func(o *tlsconf.Options, v string) string {
			if reason := checkEnum([]string{"yes", "no", "optional"})(v); reason != "" {
				return reason
			}
			o.AuthClients = strings.ToLower(v)
			return ""
		}},
		{name: "tls-protocols", get: protoGet, edit: protoEdit},
		{name: "tls-ciphers", get: ciphersGet, edit: ciphersEdit},
		{name: "tls-ciphersuites", get: suitesGet, edit: suitesEdit},
		{name: "tls-prefer-server-ciphers", def: "no", get: func(o tlsconf.Options) string { return yesNo(o.PreferServerCiphers) },
			edit: func(o *tlsconf.Options, v string) string {
				if reason := checkYesNo(v); reason != "" {
					return reason
				}
				o.PreferServerCiphers = strings.EqualFold(v, "yes")
				return ""
			}},
	}
}()

// tlsParams are the tls-* CONFIG parameters.
func tlsParams() []*configParam {
	out := []*configParam{
		{name: "tls-port", get: func(s *Server) string {
			if s.tlsLn == nil {
				return "0"
			}
			_, port, _ := net.SplitHostPort(s.tlsLn.Addr().String())
			return port
		}},
		{name: "tls-cluster", get: func(s *Server) string { return yesNo(s.cfg.TLSCluster) }},
	}
	for _, f := range tlsFields {
		p := &configParam{name: f.name, flag: !f.secret, def: f.def,
			unset: func(s *Server) bool { return s.cfg.TLS == nil }}
		p.get = func(s *Server) string {
			if s.cfg.TLS == nil {
				return f.get(tlsconf.Options{})
			}
			return f.get(s.cfg.TLS.Options())
		}
		p.tlsEdit = f.edit
		// The check and the reload of tls-* pairs happen together in
		// configSet (tlsSet); alone, each only says whether TLS is on.
		p.set = func(s *Server, v string) (func(), string) {
			if s.cfg.TLS == nil {
				return nil, "TLS is not enabled on this node (start it with tls-port or tls-cluster)"
			}
			var o tlsconf.Options
			if reason := f.edit(&o, v); reason != "" {
				return nil, reason
			}
			return func() {}, ""
		}
		out = append(out, p)
	}
	return out
}

// tlsSet checks the tls-* pairs of one CONFIG SET together, with the
// options in force for the others: every file must load. It returns the
// reload to run once every pair of the command was checked, or the index
// (into params) of the pair to blame and the reason.
func (s *Server) tlsSet(params []*configParam, values [][]byte) (apply func(), blame int, reason string) {
	var edits []func(*tlsconf.Options)
	blame = -1
	for i, p := range params {
		if p.tlsEdit == nil {
			continue
		}
		if blame < 0 {
			blame = i
		}
		edit, v := p.tlsEdit, string(values[i])
		edits = append(edits, func(o *tlsconf.Options) { edit(o, v) })
	}
	if len(edits) == 0 || s.cfg.TLS == nil {
		return nil, -1, ""
	}
	all := func(o *tlsconf.Options) {
		for _, e := range edits {
			e(o)
		}
	}
	if err := s.cfg.TLS.Check(all); err != nil {
		return nil, blame, err.Error()
	}
	return func() {
		if err := s.cfg.TLS.Update(all); err != nil {
			s.log.Warn("TLS reload by CONFIG SET failed; the certificates in force stay", zap.Error(err))
			return
		}
		s.log.Info("TLS certificates and settings reloaded by CONFIG SET")
	}, -1, ""
}
