package server

import (
	"encoding/hex"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	serverHandlers["debug"] = cmdDebug
}

// cmdDebug serves the DEBUG subcommands raftcache has: DIGEST, a digest of
// this node's replica of every shard (as Redis's DEBUG DIGEST, 40 hex
// characters, all zeros for an empty keyspace), used to check that
// replicas are identical.
func cmdDebug(s *Server, _ redcon.Conn, _ *client, _, _ *resp.Command, a [][]byte) resp.Reply {
	if resp.EqualFold(a[1], "digest") && len(a) == 2 {
		var sum [20]byte
		for shard := 0; shard < s.backend.NumShards(); shard++ {
			d := s.backend.LocalDigest(shard)
			for i := range sum {
				sum[i] ^= d[i]
			}
		}
		return resp.BulkString(hex.EncodeToString(sum[:]))
	}
	return resp.NewError("ERR unknown subcommand '" + string(a[1]) + "'. Try DEBUG HELP.").Reply()
}
