// Command raftcache runs one raftcache node: a Redis-compatible cache whose
// keys live in the 16384 Redis Cluster hash slots, grouped into shards that
// are each replicated by a Raft group.
//
// The package owns only flags, configuration, logger construction, signal
// handling and wiring; everything it calls is tested in its own package.
package main
