package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/raftcache/raftcache/test/redisoracle"
)

// process is one server the harness started.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	bin     string
	args    []string
	done    chan struct{} // closed when the process has exited
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to exit (SIGTERM) and kills it if it has not
// within 15 seconds; it returns once the process is gone.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// fleet is every process the harness started, so that all of them are
// stopped however the run ends.
type fleet struct {
	mu    sync.Mutex
	procs []*process
}

// start runs bin with args, its output going to logPath.
func (f *fleet) start(name, logPath, bin string, args ...string) (*process, error) {
	return f.launch(name, logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, bin, args...)
}

// restart starts an exited process again with the same arguments, its
// output appended to the same log.
func (f *fleet) restart(p *process) (*process, error) {
	return f.launch(p.name, p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, p.bin, p.args...)
}

func (f *fleet) launch(name, logPath string, flags int, bin string, args ...string) (*process, error) {
	lf, err := os.OpenFile(logPath, flags, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, bin: bin, args: args, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	return p, nil
}

// stopAll stops every process still running, all at once.
func (f *fleet) stopAll() {
	f.mu.Lock()
	procs := f.procs
	f.procs = nil
	f.mu.Unlock()
	stopEach(procs)
}

// stopGroup stops procs and forgets them.
func (f *fleet) stopGroup(procs []*process) {
	stopEach(procs)
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.procs[:0]
	for _, p := range f.procs {
		if !p.exited() {
			kept = append(kept, p)
		}
	}
	f.procs = kept
}

func addrOf(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// waitUntil polls cond every 50 ms until it holds. It gives up when the
// timeout passes, ctx ends or one of procs exits, and then says which.
func waitUntil(ctx context.Context, what string, timeout time.Duration, procs []*process, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		for _, p := range procs {
			if p.exited() {
				return fmt.Errorf("waiting for %s: %s exited (log: %s)", what, p.name, p.logPath)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// command sends one command to addr on a fresh connection and returns the
// raw reply.
func command(addr string, args ...string) (string, error) {
	c, err := redisoracle.Dial(addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	r, err := c.Do(args...)
	return string(r), err
}

// answersPing reports whether addr answers PING with PONG.
func answersPing(addr string) bool {
	r, err := command(addr, "PING")
	return err == nil && r == "+PONG\r\n"
}

// clusterOK reports whether addr says cluster_state:ok.
func clusterOK(addr string) bool {
	r, err := command(addr, "CLUSTER", "INFO")
	return err == nil && strings.Contains(r, "cluster_state:ok")
}

// infoFields parses INFO output into name → value.
func infoFields(info string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// shardLeaders reads the shard → leader node ID lines of raftcache's
// INFO replication ("shard0:slots=0-5460,state=leader,leader=n1,...").
func shardLeaders(info string) map[string]string {
	out := map[string]string{}
	for k, v := range infoFields(info) {
		if !strings.HasPrefix(k, "shard") {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			if name, val, _ := strings.Cut(kv, "="); name == "leader" {
				out[k] = val
			}
		}
	}
	return out
}

// balanced reports whether leaders name every node in ids equally often.
func balanced(leaders map[string]string, ids []string) bool {
	if len(leaders) == 0 || len(leaders)%len(ids) != 0 {
		return false
	}
	count := map[string]int{}
	for _, l := range leaders {
		count[l]++
	}
	for _, id := range ids {
		if count[id] != len(leaders)/len(ids) {
			return false
		}
	}
	return true
}

// stopEach stops procs, all at once.
func stopEach(procs []*process) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(p.stop)
	}
	wg.Wait()
}
