// Package compat is raftcache's RESP-level compatibility table: sessions
// of commands with the exact reply bytes each must get. The same table
// runs against the in-process server (server's tests), against the
// raftcache binary (test/) and against a real redis-server, which proves
// the expectations. Only tests import it.
package compat

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/raftcache/raftcache/test/redisoracle"
)

// RedisVersion is the version raftcache reports (server.RedisVersion;
// server's tests check that they agree).
const RedisVersion = "7.2.5"

// Cases where raftcache differs on purpose (cluster mode, one shard per
// transaction, Redis 7.2 behaviour missing from the installed Redis 7.0)
// say why in notRedis and run only against raftcache. Time-dependent
// replies (TIME, INFO, CLIENT LIST) are not in the table.

// match says how a reply is compared with want.
type match int

const (
	exact     match = iota
	unordered       // the top aggregate's elements, as a multiset
	pairs           // the top aggregate's key-value pairs, as a multiset
	scanAll         // SCAN's [cursor, keys]: the keys as a multiset
)

// Step is one command of a case and the reply it must get.
type Step struct {
	args  []string
	want  string
	match match
	// silent: no reply is expected (CLIENT REPLY OFF/SKIP).
	silent bool
}

// Case is a session of steps on one connection.
type Case struct {
	name  string
	proto int // 3: HELLO 3 first
	steps []Step
	// notRedis, when set, explains why the case runs against raftcache
	// only.
	notRedis string
}

func s(want string, args ...string) Step { return Step{args: args, want: want} }
func u(want string, args ...string) Step { return Step{args: args, want: want, match: unordered} }
func p(want string, args ...string) Step { return Step{args: args, want: want, match: pairs} }
func quiet(args ...string) Step          { return Step{args: args, silent: true} }

// Run runs every case against the server at addr: raftcache, or, when
// oracle is set, a real redis-server, which then skips the cases marked
// notRedis. Each case starts from an empty keyspace (FLUSHALL).
func Run(t *testing.T, addr string, oracle bool) {
	for _, tc := range Cases {
		if oracle && tc.notRedis != "" {
			t.Logf("%s: raftcache only: %s", tc.name, tc.notRedis)
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			flush(t, addr)
			c := dialCompat(t, addr)
			if tc.proto == 3 {
				c.do(t, "HELLO", "3")
			}
			for i, st := range tc.steps {
				if st.silent {
					c.send(t, st.args...)
					continue
				}
				got := c.do(t, st.args...)
				if st.want != "" && st.args[0] == "HELLO" {
					got = normaliseHelloID(got)
				}
				if err := compare(got, st.want, st.match); err != nil {
					t.Fatalf("step %d %q: %v\n got: %q\nwant: %q", i, st.args, err, got, st.want)
				}
			}
		})
	}
}

func flush(t *testing.T, addr string) {
	t.Helper()
	c := dialCompat(t, addr)
	if got := c.do(t, "FLUSHALL"); got != OK {
		t.Fatalf("FLUSHALL: %q", got)
	}
	c.c.Close()
}

// normaliseHelloID replaces the connection id in a HELLO 3 reply by -1.
func normaliseHelloID(b string) string {
	i := strings.Index(b, "$2\r\nid\r\n:")
	if i < 0 {
		return b
	}
	j := i + len("$2\r\nid\r\n:")
	k := strings.Index(b[j:], "\r\n")
	return b[:j] + "-1" + b[j+k:]
}

func compare(got, want string, m match) error {
	if m == exact {
		if got != want {
			return fmt.Errorf("reply differs")
		}
		return nil
	}
	g, err := parseReply([]byte(got))
	if err != nil {
		return fmt.Errorf("parse reply: %v", err)
	}
	w, err := parseReply([]byte(want))
	if err != nil {
		return fmt.Errorf("parse want: %v", err)
	}
	switch m {
	case unordered:
		g, w = g.canonical(false), w.canonical(false)
	case pairs:
		g, w = g.canonical(true), w.canonical(true)
	case scanAll:
		if len(g.elems) == 2 && len(w.elems) == 2 {
			g.elems[1], w.elems[1] = g.elems[1].canonical(false), w.elems[1].canonical(false)
		}
	}
	if g.String() != w.String() {
		return fmt.Errorf("reply differs (compared without order)")
	}
	return nil
}

// compatConn is a raw connection that can also send without reading.
type compatConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialCompat(t *testing.T, addr string) *compatConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &compatConn{c: c, r: bufio.NewReader(c)}
}

func (c *compatConn) send(t *testing.T, args ...string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = c.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.c.Write([]byte(b.String())); err != nil {
		t.Fatalf("send %q: %v", args, err)
	}
}

func (c *compatConn) do(t *testing.T, args ...string) string {
	t.Helper()
	c.send(t, args...)
	r, err := redisoracle.ReadReply(c.r)
	if err != nil {
		t.Fatalf("%q: read reply: %v (got %q)", args, err, r)
	}
	return string(r)
}
