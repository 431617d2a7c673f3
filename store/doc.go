// Package store owns the keyspace of one shard: records (key, value and
// metadata in one chunk) in a size-class heap outside the Go heap, indexed
// by pointer-free per-slot tables; the string and hash value types (small
// hashes in insertion order, as Redis's listpack); TTLs kept as absolute
// Unix milliseconds; memory accounting; and the execution of Redis
// commands against them, plus snapshot and restore.
//
// The store is deterministic. It starts no goroutines, never reads the wall
// clock and uses no randomness in a write: every call carries the time it
// must act at, so every replica that applies the same log reaches the same
// state. Reads take the same time argument from the caller's clock.
//
// Besides Redis's commands it executes raftcache's internal ones, which
// only the layers above send: CmdDropExpired (the leader's expiry),
// CmdScan (one shard's part of SCAN), and CmdVersion and CmdTx (WATCH and
// the guarded transaction of EXEC).
//
// See DESIGN.md beside this file for the data layout, the copy-on-write
// snapshot scheme and the rules about who may touch which bytes.
package store
