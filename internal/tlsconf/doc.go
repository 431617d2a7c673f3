// Package tlsconf turns Redis's TLS options (tls-cert-file, tls-key-file,
// tls-ca-cert-file, tls-auth-clients, tls-protocols, tls-ciphers, ...) into
// crypto/tls configurations, and keeps them reloadable: a Reloader holds
// the current material behind an atomic pointer, and the configurations it
// hands out pick it up per handshake (GetConfigForClient on the server
// side, a fresh config per dial on the client side), so new certificates
// take effect without a restart and without touching open connections.
//
// It sits below server and cluster, which both use it: the client port and
// the cluster port present the same certificate and trust the same CA, as
// Redis's tls-cluster does.
package tlsconf
