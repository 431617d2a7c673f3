package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftcache/raftcache/test/redisoracle"
)

// trackSources reads the module's Go sources once. go test caches a
// package's result until its binary or a file the tests opened changes;
// the raftcache binary is built by a child process the cache does not
// see, so without this a changed server would leave a stale cached pass.
var trackSources = sync.OnceFunc(func() {
	_ = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil
		case d.IsDir() && path != ".." && (d.Name() == "test" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")):
			return filepath.SkipDir
		case strings.HasSuffix(path, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum":
			_, _ = os.ReadFile(path)
		}
		return nil
	})
})

// binary is the raftcache executable built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "raftcache-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "raftcache")
	build := exec.Command("go", "build", "-o", binary, "../cmd/raftcache")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build raftcache:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool and freePort are shared with the other packages' tests.
func requireTool(t testing.TB, name string) string { return redisoracle.RequireTool(t, name) }

func freePort(t testing.TB) int { return redisoracle.FreePort(t) }

// proc is one raftcache process.
type proc struct {
	t           testing.TB
	id          string
	port        int
	clusterPort int
	metricsPort int // --metrics-addr: /metrics, /healthz, /readyz
	dir         string
	extra       []string
	env         []string // KEY=value added to the process's environment at each start

	mu      sync.Mutex
	cmd     *exec.Cmd
	allLogs redisoracle.LockedBuffer // output of every run of this process
	done    chan struct{}
	cleanup bool
}

func newProc(t testing.TB, id string, extra ...string) *proc {
	trackSources()
	return &proc{
		t:           t,
		id:          id,
		port:        freePort(t),
		clusterPort: freePort(t),
		metricsPort: freePort(t),
		dir:         filepath.Join(t.TempDir(), id),
		extra:       extra,
	}
}

func (p *proc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

func (p *proc) metricsAddr() string { return "127.0.0.1:" + strconv.Itoa(p.metricsPort) }

// httpGet fetches path from the node's metrics endpoint.
func (p *proc) httpGet(path string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.metricsAddr() + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// ready reports whether the node's /readyz answers 200, and its body.
func (p *proc) ready() (bool, string) {
	code, body, err := p.httpGet("/readyz")
	if err != nil {
		return false, err.Error()
	}
	return code == http.StatusOK, strings.TrimSpace(body)
}

// waitReady polls the node's /readyz until it answers 200, and returns
// how long that took.
func (p *proc) waitReady(t testing.TB, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, why := p.ready()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s not ready after %v: %s", p.id, timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// start launches the process; its output is kept and printed if the test
// fails.
func (p *proc) start() {
	p.t.Helper()
	args := append([]string{
		"--id", p.id,
		"--addr", p.addr(),
		"--cluster-addr", "127.0.0.1:" + strconv.Itoa(p.clusterPort),
		"--dir", p.dir,
		"--log-level", "info",
		"--metrics-addr", p.metricsAddr(),
	}, p.extra...)
	cmd := exec.Command(binary, args...)
	if len(p.env) > 0 {
		cmd.Env = append(os.Environ(), p.env...)
	}
	cmd.Stdout, cmd.Stderr = &p.allLogs, &p.allLogs
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.id, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	first := !p.cleanup
	p.cleanup = true
	p.mu.Unlock()
	if first {
		p.t.Cleanup(func() {
			p.kill()
			if p.t.Failed() {
				p.t.Logf("--- logs of %s ---\n%s", p.id, p.allLogs.String())
			}
		})
	}
}

// kill sends SIGKILL and waits for the process to exit.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("%s did not exit after SIGKILL", p.id)
	}
}

// cli runs redis-cli against addr with args and returns its output.
func cli(t testing.TB, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, requireTool(t, "redis-cli"),
		append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitClusterOK waits until the node at addr reports cluster_state:ok.
func waitClusterOK(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	waitFor(t, addr+" cluster_state:ok", timeout, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("CLUSTER INFO\r\n")); err != nil {
			return false
		}
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		return bytes.Contains(buf[:n], []byte("cluster_state:ok"))
	})
}

// cliStdin feeds commands, one per line, to redis-cli's standard input.
func cliStdin(t testing.TB, addr, script string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, requireTool(t, "redis-cli"), "-h", host, "-p", port)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli script: %v\n%s", err, out)
	}
	return strings.TrimRight(string(out), "\n")
}
