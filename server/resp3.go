package server

import "github.com/raftcache/raftcache/resp"

// pairsInRESP3 lists the commands whose WITHVALUES reply Redis 7.2 shapes
// by protocol: a flat array of field, value, field, value in RESP2, an
// array of [field, value] pairs in RESP3. The store answers the flat
// form; the server regroups it for RESP3 connections.
var pairsInRESP3 = map[string]string{"hrandfield": "withvalues"}

// shapeReply adapts a store reply to the connection's protocol where the
// shape (not only the types, which the encoder handles) differs.
func shapeReply(proto int, cmd *resp.Command, args [][]byte, r resp.Reply) resp.Reply {
	opt, ok := pairsInRESP3[cmd.Name]
	if !ok || proto != resp.RESP3 || r.Kind != resp.KindArray || len(r.Elems)%2 != 0 {
		return r
	}
	with := false
	for _, a := range args[2:] {
		with = with || resp.EqualFold(a, opt)
	}
	if !with {
		return r
	}
	pairs := make([]resp.Reply, len(r.Elems)/2)
	for i := range pairs {
		pairs[i] = resp.Array(r.Elems[2*i], r.Elems[2*i+1])
	}
	return resp.Array(pairs...)
}
