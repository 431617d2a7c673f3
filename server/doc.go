// Package server is raftcache's client-facing RESP server. It reads its
// clients itself (one parse per request, into reused buffers) and speaks
// tidwall/redcon's vocabulary to its handlers. It owns connections and
// their state (name, protocol
// version, id), dispatch through the command table in resp, routing of
// data commands to the shard that owns their keys' slot, and the
// connection and introspection commands (PING, HELLO, CLIENT, INFO,
// COMMAND, CLUSTER INFO, ...).
//
// server touches the keyspace only through the Backend interface, which
// cluster.Node implements; it is the one place where a reply or an error
// becomes RESP bytes. See DESIGN.md beside this file.
package server
