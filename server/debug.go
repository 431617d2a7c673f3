package server

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	serverHandlers["debug"] = cmdDebug
}

// cmdDebug serves the DEBUG subcommands raftcache has: DIGEST, a digest of
// this node's replica of every shard (as Redis's DEBUG DIGEST, 40 hex
// characters, all zeros for an empty keyspace), used to check that
// replicas are identical; and SLEEP seconds (a decimal number, read as
// strtod reads it), which holds the calling connection — only it, unlike
// Redis, which stops the whole server — for that long, to try the slow
// log and the latency monitor.
func cmdDebug(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, a [][]byte) resp.Reply {
	if resp.EqualFold(a[1], "sleep") && len(a) == 3 {
		secs := parseLeadingFloat(string(a[2]))
		if d := time.Duration(secs * float64(time.Second)); d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-c.ctx.Done():
			}
		}
		return resp.OK
	}
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
	if resp.EqualFold(a[1], "sleep") {
		return resp.ErrSubcommandSyntax(a[0], a[1]).Reply()
	}
	return resp.ErrUnknownSubcommand(a[0], a[1]).Reply()
}

// parseLeadingFloat reads the longest prefix of v that is a decimal
// number, as C's strtod does; 0 when there is none.
func parseLeadingFloat(v string) float64 {
	v = strings.TrimLeft(v, " \t\n\r\v\f")
	v = v[:min(len(v), 64)] // a number is short; do not retry a huge argument
	for end := len(v); end > 0; end-- {
		if f, err := strconv.ParseFloat(v[:end], 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
	return 0
}
