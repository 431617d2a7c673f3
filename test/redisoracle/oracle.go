// Package redisoracle starts a real redis-server for tests that compare
// raftcache's replies with Redis's, and speaks just enough raw RESP to
// compare replies byte for byte. Only tests import it.
package redisoracle

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftcache/raftcache/internal/freeport"
)

// Missing ends a test whose prerequisite is absent: it fails under CI=true
// (CI must provide it) and is skipped, with what and how to get it,
// elsewhere.
func Missing(t testing.TB, what, remedy string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI must provide it (%s)", what, remedy)
	}
	t.Skipf("%s; %s to run this test", what, remedy)
}

// RequireTool returns the path of an external program, or ends the test
// as Missing does.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" not found in PATH", "apt-get install redis-tools redis-server")
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no earlier call in this process has returned (see package freeport).
func FreePort(t testing.TB) int { return freeport.MustPort(t) }

// Start runs redis-server on 127.0.0.1 without persistence, waits until it
// answers, and stops it when the test ends. extra are more server options
// ("--appendonly", "yes", ...).
func Start(t testing.TB, extra ...string) string {
	t.Helper()
	bin := RequireTool(t, "redis-server")
	port := FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir()}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := Dial(addr)
		if err == nil {
			r, err := c.Do("PING")
			c.Close()
			if err == nil && string(r) == "+PONG\r\n" {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer PING within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Conn is a raw RESP connection.
type Conn struct {
	c       net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

// Dial connects to addr; each command then has 10 seconds.
func Dial(addr string) (*Conn, error) { return DialTimeout(addr, 10*time.Second) }

// DialTimeout connects to addr within timeout; each command then has as
// long.
func DialTimeout(addr string, timeout time.Duration) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, min(timeout, 5*time.Second))
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, r: bufio.NewReader(c), timeout: timeout}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Do sends one command as a RESP array and returns the raw bytes of its
// reply, exactly as the server sent them.
func (c *Conn) Do(args ...string) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = c.c.SetDeadline(time.Now().Add(c.timeout))
	if _, err := io.WriteString(c.c, b.String()); err != nil {
		return nil, err
	}
	return ReadReply(c.r)
}

// ReadReply reads exactly one RESP2 or RESP3 reply and returns its raw
// bytes, aggregates included.
func ReadReply(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return line, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return line, errors.New("malformed reply line")
	}
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return line, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil {
			return line, fmt.Errorf("bad length %q", body)
		}
		if n < 0 {
			return line, nil
		}
		rest := make([]byte, n+2)
		if _, err := io.ReadFull(r, rest); err != nil {
			return line, err
		}
		return append(line, rest...), nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return line, fmt.Errorf("bad count %q", body)
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		out := line
		for i := 0; i < n; i++ {
			elem, err := ReadReply(r)
			out = append(out, elem...)
			if err != nil {
				return out, err
			}
		}
		return out, nil
	}
	return line, fmt.Errorf("unknown reply type %q", line[0])
}

// LockedBuffer collects a process's output while a test reads it: exec's
// copying goroutines write, the test reads, concurrently.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
