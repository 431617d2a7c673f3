package server

import "github.com/raftcache/raftcache/test/compat"

// Short names for the reply builders of the compatibility table.
var (
	simple   = compat.Simple
	errReply = compat.Err
	integer  = compat.Int
	bulk     = compat.Bulk
	arr      = compat.Arr
)

const (
	ok     = compat.OK
	queued = compat.Queued
)
