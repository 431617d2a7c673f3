package test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// faultCluster is a testCluster whose processes the test kills, pauses
// and cuts off on purpose, and watches for dying on their own: a process
// that exits while the test expects it to run is a failure, as is a
// "panic" in any process's log.
type faultCluster struct {
	*testCluster
	proxy *netProxy // nil unless the cluster was made with one

	mu         sync.Mutex
	running    map[*proc]bool // started by the test and not stopped since
	paused     map[*proc]bool
	unexpected []string
	stopWatch  chan struct{}
	watchDone  chan struct{}
}

// newFaultCluster starts n nodes as newCluster does. With a proxy, every
// node's --peers entry names a proxy port in front of its cluster port.
func newFaultCluster(t *testing.T, n, shards int, withProxy bool, extra ...string) *faultCluster {
	t.Helper()
	fc := &faultCluster{
		testCluster: &testCluster{t: t, shards: shards},
		running:     map[*proc]bool{},
		paused:      map[*proc]bool{},
		stopWatch:   make(chan struct{}),
		watchDone:   make(chan struct{}),
	}
	if withProxy {
		requireProcNet(t)
		fc.proxy = newNetProxy(t, fc.pids)
	}
	var peers []string
	for i := 1; i <= n; i++ {
		p := newProc(t, "n"+strconv.Itoa(i))
		fc.procs = append(fc.procs, p)
		cport := p.clusterPort
		if fc.proxy != nil {
			cport = fc.proxy.front(p.id, "127.0.0.1:"+strconv.Itoa(p.clusterPort))
		}
		peers = append(peers, fmt.Sprintf("%s=127.0.0.1:%d@%d", p.id, p.port, cport))
	}
	for _, p := range fc.procs {
		p.extra = append([]string{"--shards", strconv.Itoa(shards), "--peers", strings.Join(peers, ",")}, extra...)
		fc.start(p)
	}
	fc.waitHealthy(60 * time.Second)
	go fc.watch()
	t.Cleanup(func() {
		close(fc.stopWatch)
		<-fc.watchDone
		fc.mu.Lock()
		defer fc.mu.Unlock()
		for p := range fc.paused { // let the harness's SIGKILL find a live process
			sendSignal(p, syscall.SIGCONT)
		}
	})
	return fc
}

// pids maps the running nodes' process IDs to their node IDs.
func (fc *faultCluster) pids() map[int]string {
	out := map[int]string{}
	for _, p := range fc.procs {
		p.mu.Lock()
		if p.cmd != nil && p.cmd.Process != nil {
			out[p.cmd.Process.Pid] = p.id
		}
		p.mu.Unlock()
	}
	return out
}

// watch records every process that exits while the test expects it to
// run.
func (fc *faultCluster) watch() {
	defer close(fc.watchDone)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-fc.stopWatch:
			return
		case <-tick.C:
		}
		fc.mu.Lock()
		for p, ok := range fc.running {
			if !ok {
				continue
			}
			select {
			case <-p.exited():
				fc.unexpected = append(fc.unexpected, fmt.Sprintf("%s exited at %s without the test stopping it",
					p.id, time.Now().Format(time.TimeOnly)))
				fc.running[p] = false
			default:
			}
		}
		fc.mu.Unlock()
	}
}

// clients returns a plain go-redis client per node, with the test's
// reply timeout, never retrying on its own; they close with the test.
func (fc *faultCluster) clients(readTimeout time.Duration) map[*proc]*redis.Client {
	out := map[*proc]*redis.Client{}
	for _, p := range fc.procs {
		c := redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1, DialTimeout: time.Second,
			DialerRetries: 1, ReadTimeout: readTimeout})
		fc.t.Cleanup(func() { c.Close() })
		out[p] = c
	}
	return out
}

// liveExcept returns the nodes other than down (nil: all of them).
func (fc *faultCluster) liveExcept(down *proc) []*proc {
	var live []*proc
	for _, p := range fc.procs {
		if p != down {
			live = append(live, p)
		}
	}
	return live
}

func (fc *faultCluster) start(p *proc) {
	p.start()
	fc.mu.Lock()
	fc.running[p] = true
	fc.mu.Unlock()
}

// cleanExitLimit bounds a clean stop (SIGTERM): beyond it the node hangs.
const cleanExitLimit = 8 * time.Second

// stop ends p with sig (SIGKILL, or SIGTERM for a clean shutdown), waits
// for it to exit and returns how long that took.
func (fc *faultCluster) stop(p *proc, sig syscall.Signal) time.Duration {
	fc.t.Helper()
	fc.mu.Lock()
	fc.running[p] = false
	if fc.paused[p] {
		delete(fc.paused, p)
		sendSignal(p, syscall.SIGCONT)
	}
	fc.mu.Unlock()
	start := time.Now()
	if sig == syscall.SIGKILL {
		p.kill()
		return time.Since(start)
	}
	mark := len(p.output())
	p.signal(sig)
	select {
	case <-p.exited():
	case <-time.After(cleanExitLimit):
		// A clean stop takes well under a second; the node's own
		// shutdown timeouts are 10s. Ask Go for every goroutine's stack.
		p.signal(syscall.SIGQUIT)
		select {
		case <-p.exited():
		case <-time.After(10 * time.Second):
			p.kill()
		}
		out := p.output()[mark:]
		fc.t.Errorf("%s did not exit within %v of %v; its goroutines:\n%s", p.id, cleanExitLimit, sig,
			out[:min(len(out), 60000)])
	}
	return time.Since(start)
}

// sendSignal signals p's current run, if any, ignoring errors.
func sendSignal(p *proc, sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// pause freezes p with SIGSTOP; resume thaws it.
func (fc *faultCluster) pause(p *proc) {
	fc.mu.Lock()
	fc.paused[p] = true
	fc.mu.Unlock()
	p.signal(syscall.SIGSTOP)
}

func (fc *faultCluster) resume(p *proc) {
	fc.mu.Lock()
	delete(fc.paused, p)
	fc.mu.Unlock()
	p.signal(syscall.SIGCONT)
}

// isRunning reports whether the test has p running.
func (fc *faultCluster) isRunning(p *proc) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.running[p]
}

// healAll undoes every fault: links healed, paused processes resumed,
// stopped ones started.
func (fc *faultCluster) healAll() {
	if fc.proxy != nil {
		fc.proxy.heal()
	}
	fc.mu.Lock()
	var paused, stopped []*proc
	for p := range fc.paused {
		paused = append(paused, p)
	}
	for _, p := range fc.procs {
		if !fc.running[p] {
			stopped = append(stopped, p)
		}
	}
	fc.mu.Unlock()
	for _, p := range paused {
		fc.resume(p)
	}
	for _, p := range stopped {
		fc.start(p)
	}
}

// waitHealthy waits until every node reports cluster_state:ok.
func (fc *faultCluster) waitHealthy(timeout time.Duration) {
	fc.t.Helper()
	deadline := time.Now().Add(timeout)
	for _, p := range fc.procs {
		waitClusterOK(fc.t, p.addr(), max(time.Until(deadline), time.Second))
	}
}

// checkProcesses fails the test for every process that died on its own,
// is not running at the end, or logged a panic.
func (fc *faultCluster) checkProcesses() {
	fc.t.Helper()
	fc.mu.Lock()
	for _, u := range fc.unexpected {
		fc.t.Errorf("process died by itself: %s", u)
	}
	fc.mu.Unlock()
	for _, p := range fc.procs {
		select {
		case <-p.exited():
			fc.t.Errorf("%s is not running at the end of the test", p.id)
		default:
		}
		if out := p.output(); strings.Contains(strings.ToLower(out), "panic") {
			i := strings.Index(strings.ToLower(out), "panic")
			fc.t.Errorf("%s logged a panic:\n%s", p.id, out[max(0, i-2000):min(len(out), i+4000)])
		}
	}
}

// logMarks remembers how much each process has logged, so that counts
// of log lines can be taken from a point on.
type logMarks map[*proc]int

func (fc *faultCluster) logMarks() logMarks {
	m := logMarks{}
	for _, p := range fc.procs {
		m[p] = len(p.output())
	}
	return m
}

var shardField = regexp.MustCompile(`"shard": (\d+)`)

// countLogs counts, per shard, the log lines containing msg since marks.
func (fc *faultCluster) countLogs(marks logMarks, msg string) map[int]int {
	out := map[int]int{}
	for _, p := range fc.procs {
		for _, line := range strings.Split(p.output()[marks[p]:], "\n") {
			if !strings.Contains(line, msg) {
				continue
			}
			shard := -1
			if m := shardField.FindStringSubmatch(line); m != nil {
				shard, _ = strconv.Atoi(m[1])
			}
			out[shard]++
		}
	}
	return out
}
