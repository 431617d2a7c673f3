// Package resp owns raftcache's wire vocabulary: typed replies and their
// RESP2 and RESP3 encodings, the exact Redis error texts, argument parsing
// helpers (including INCRBYFLOAT's long double arithmetic, which a float64
// cannot reproduce), and the command table (name, arity, flags, key
// positions, COMMAND INFO and COMMAND DOCS entries) that every other layer
// consults.
//
// resp knows nothing of Raft, the keyspace or the network. Encoders are
// append-style (they extend a caller's buffer) so that a reply can be written
// without allocating.
package resp
