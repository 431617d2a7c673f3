package test

import (
	"strings"
	"testing"
	"time"

	"github.com/raftcache/raftcache/test/redisoracle"
)

// TestRedisCLIMatchesRedis runs the same redis-cli session against one
// raftcache node and a real redis-server and compares every reply.
func TestRedisCLIMatchesRedis(t *testing.T) {
	redisAddr := redisoracle.Start(t)
	p := newProc(t, "n1")
	p.start()
	waitClusterOK(t, p.addr(), 30*time.Second)

	script := []string{
		"SET greeting hello",
		"GET greeting",
		"GET missing",
		"SET greeting other NX",
		"SET fresh value NX",
		"SET missing2 value XX",
		"SET greeting world XX GET",
		"HSET user:1 name ada lang go",
		"HGET user:1 name",
		"HGET user:1 nope",
		"HDEL user:1 lang nope",
		"GET user:1",
		"INCR user:1",
		"HSET greeting f v",
		"INCR counter",
		"INCR counter",
		"INCR greeting",
		"SET big 9223372036854775807",
		"INCR big",
		"EXPIRE counter 100",
		"TTL counter",
		"PTTL missing",
		"TTL greeting",
		"PERSIST counter",
		"TTL counter",
		"SET t v EX 0",
		"SET t v EX abc",
		"SET t v PX 100 EX 100",
		"SET t v KEEPTTL EX 5",
		"EXPIRE counter 100 NX XX",
		"EXPIRE counter 100 GT LT",
		"EXPIRE counter 100 FOO",
		"EXISTS greeting greeting missing",
		"DEL greeting user:1 missing",
		"GET",
		"NOSUCHCMD a b",
		"SELECT 0",
		"PING",
		"PING hi",
		"ECHO hi",
		"DBSIZE",
	}
	run := func(addr string) []string {
		out := cliStdin(t, addr, strings.Join(script, "\n")+"\n")
		return strings.Split(out, "\n")
	}
	want := run(redisAddr)
	got := run(p.addr())
	if len(got) != len(want) {
		t.Fatalf("raftcache gave %d lines, redis %d\nraftcache:\n%s\nredis:\n%s",
			len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: raftcache %q, redis %q", i, got[i], want[i])
		}
	}
}
