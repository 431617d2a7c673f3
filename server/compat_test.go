package server

import (
	"testing"

	"github.com/raftcache/raftcache/test/compat"
	"github.com/raftcache/raftcache/test/redisoracle"
)

// TestCompatRaftcache runs the compatibility table (test/compat) against
// the in-process server: three shards over the fake backend.
func TestCompatRaftcache(t *testing.T) {
	srv, _ := startServer(t)
	compat.Run(t, srv.Addr().String(), false)
}

// TestCompatRedis runs the table against a real redis-server, which
// proves its expectations. It is skipped when redis-server is missing,
// and fails then under CI=true.
func TestCompatRedis(t *testing.T) {
	compat.Run(t, redisoracle.Start(t), true)
}

func TestCompatVersion(t *testing.T) {
	if compat.RedisVersion != RedisVersion {
		t.Fatalf("the compatibility table expects version %s, the server reports %s", compat.RedisVersion, RedisVersion)
	}
}
