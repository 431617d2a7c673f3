package test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSingleNodeSurvivesKill writes keys with redis-cli, kills the node
// with SIGKILL, restarts it on the same data directory and finds every
// acknowledged write.
func TestSingleNodeSurvivesKill(t *testing.T) {
	requireTool(t, "redis-cli")
	p := newProc(t, "n1", "--shards", "3")
	p.start()
	waitClusterOK(t, p.addr(), 30*time.Second)

	// 500 SETs piped through one redis-cli: each reply is an
	// acknowledgement.
	var script strings.Builder
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&script, "SET key:%d value:%d\n", i, i)
	}
	out := cliStdin(t, p.addr(), script.String())
	if got := strings.Count(out, "OK"); got != 500 {
		t.Fatalf("want 500 OK replies before the kill, got %d:\n%s", got, out)
	}
	if got := cli(t, p.addr(), "HSET", "h", "f", "v"); got != "1" {
		t.Fatalf("HSET: %q", got)
	}

	p.kill()
	p.start()
	waitClusterOK(t, p.addr(), 30*time.Second)

	if got := cli(t, p.addr(), "DBSIZE"); got != "501" {
		t.Fatalf("DBSIZE after restart = %q, want 501", got)
	}
	var mget strings.Builder
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&mget, "GET key:%d\n", i)
	}
	lines := strings.Split(cliStdin(t, p.addr(), mget.String()), "\n")
	if len(lines) != 500 {
		t.Fatalf("want 500 GET replies, got %d", len(lines))
	}
	for i, line := range lines {
		if want := fmt.Sprintf("value:%d", i); line != want {
			t.Fatalf("after restart GET key:%d = %q, want %q", i, line, want)
		}
	}
	if got := cli(t, p.addr(), "HGET", "h", "f"); got != "v" {
		t.Fatalf("HGET after restart = %q", got)
	}
}
