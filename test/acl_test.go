package test

import (
	"strings"
	"testing"
	"time"
)

// TestACLUsersAcrossNodes: a user created with ACL SETUSER on one node
// logs in and is held to its rules on every node within moments, and
// still after a node is SIGKILLed and restarted (shard 0's log and
// snapshots carry the users). redis-cli is the client, as an operator
// would use it.
func TestACLUsersAcrossNodes(t *testing.T) {
	c := newCluster(t, 3, 3)
	n1, n2, n3 := c.proc("n1"), c.proc("n2"), c.proc("n3")
	as := func(p *proc, args ...string) string {
		return cli(t, p.addr(), append([]string{"--no-auth-warning", "--user", "alice", "--pass", "pw"}, args...)...)
	}
	if out := cli(t, n2.addr(), "ACL", "SETUSER", "alice", "on", ">pw", "~app:*", "+@all", "-flushall"); out != "OK" {
		t.Fatalf("ACL SETUSER on n2: %q", out)
	}
	// The node that ran SETUSER has applied it when it answers.
	if out := as(n2, "SET", "app:1", "x"); out != "OK" {
		t.Fatalf("SET as alice on n2: %q", out)
	}
	start := time.Now()
	for _, p := range []*proc{n1, n3} {
		waitFor(t, "alice on "+p.id, 5*time.Second, func() bool { return as(p, "GET", "app:1") == "x" })
	}
	t.Logf("the new user worked on every node %v after SETUSER answered", time.Since(start).Round(time.Millisecond))
	if out := as(n3, "SET", "other", "x"); !strings.Contains(out, "NOPERM No permissions to access a key") {
		t.Fatalf("SET other as alice on n3: %q", out)
	}
	if out := as(n1, "FLUSHALL"); !strings.Contains(out, "NOPERM User alice has no permissions to run the 'flushall' command") {
		t.Fatalf("FLUSHALL as alice on n1: %q", out)
	}
	// The refusal is in the ACL LOG of the node that refused it.
	if out := cli(t, n1.addr(), "ACL", "LOG", "1"); !strings.Contains(out, "flushall") {
		t.Fatalf("ACL LOG on n1: %q", out)
	}
	want := cli(t, n1.addr(), "ACL", "LIST")
	for _, p := range []*proc{n2, n3} {
		if got := cli(t, p.addr(), "ACL", "LIST"); got != want {
			t.Fatalf("ACL LIST on %s = %q, on n1 %q", p.id, got, want)
		}
	}

	// A restarted node has the users again.
	n3.kill()
	n3.start()
	waitClusterOK(t, n3.addr(), 60*time.Second)
	waitFor(t, "alice on the restarted n3", 10*time.Second, func() bool { return as(n3, "GET", "app:1") == "x" })
	if got := cli(t, n3.addr(), "ACL", "LIST"); got != want {
		t.Fatalf("ACL LIST on the restarted n3 = %q, want %q", got, want)
	}
	// A deleted user is gone everywhere.
	if out := cli(t, n1.addr(), "ACL", "DELUSER", "alice"); out != "1" {
		t.Fatalf("ACL DELUSER: %q", out)
	}
	for _, p := range c.procs {
		waitFor(t, "alice gone from "+p.id, 5*time.Second, func() bool {
			return strings.Contains(as(p, "PING"), "WRONGPASS")
		})
	}
}
