package server

import (
	"strconv"
	"time"
)

// limitParams are the CONFIG parameters of the connection limits and
// access control (see limits.go, auth.go). They are read-only at run
// time, set by flags when the node starts: the connection guard reads
// them without locks. requirepass is never revealed (configParams).
func limitParams() []*configParam {
	seconds := func(d time.Duration) string { return strconv.FormatInt(int64(max(d, 0)/time.Second), 10) }
	return []*configParam{
		{name: "timeout", get: func(s *Server) string { return seconds(s.limits.IdleTimeout) }},
		{name: "maxclients", get: func(s *Server) string { return strconv.Itoa(s.limits.MaxClients) }},
		{name: "proto-max-bulk-len", get: func(s *Server) string { return strconv.FormatInt(s.limits.ProtoMaxBulkLen, 10) }},
		{name: "client-query-buffer-limit", get: func(s *Server) string {
			return strconv.FormatInt(s.limits.QueryBufferLimit, 10)
		}},
		{name: "client-output-buffer-limit", get: func(s *Server) string {
			// raftcache has one hard limit for every client, and no
			// replica or pubsub clients.
			return "normal " + strconv.FormatInt(s.limits.OutputBufferLimit, 10) + " 0 0 slave 0 0 0 pubsub 0 0 0"
		}},
		{name: "tcp-keepalive", get: func(s *Server) string { return seconds(s.limits.TCPKeepAlive) }},
		{name: "protected-mode", get: func(s *Server) string { return yesNo(s.cfg.ProtectedMode) }},
	}
}
