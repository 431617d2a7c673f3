// Package cluster owns the node: one Raft group (hashicorp/raft; log and
// stable store in the node's one write-ahead log, package wal, or in
// raft-boltdb/v2 with --log-store bolt; snapshots in a file snapshot
// store) per shard, the one cluster port that all groups share, bootstrap from the
// peer list, the persisted cluster shape, the slot-to-shard map, the Raft
// FSM adapter over store, and linearizable reads on shard leaders.
//
// cluster never speaks RESP to clients: it takes commands as argument
// vectors and returns typed resp.Reply values for the server to encode.
// See DESIGN.md beside this file.
package cluster
