package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// harness is one run of the comparison.
type harness struct {
	cfg   config
	tools tools
	root  string // the module's directory
	work  string // temporary directory: binary, data directories, logs
	log   io.Writer
	fleet *fleet

	hasPprof  bool   // the raftcache binary has a pprof flag
	pprofFlag string // that flag's name when -profile is on, else ""

	raised map[runKey]int // -n that --cluster runs were raised to (see measure)

	mu          sync.Mutex
	raw         io.Writer // every redis-benchmark output, as it came
	notes       []string
	startFailed bool // a server of the memory comparison did not start
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "bench: "+format+"\n", args...)
}

func (h *harness) rawf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.raw != nil {
		fmt.Fprintf(h.raw, format, args...)
	}
}

// note adds a line to the report's notes.
func (h *harness) note(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notes = append(h.notes, s)
}

// run builds raftcache, starts the targets, runs the benchmarks and the
// memory comparison, and returns the report. Its error means the harness
// itself could not do its job; a target failing is in the report.
func (h *harness) run(ctx context.Context) (*report, error) {
	began := time.Now()
	loadStart := loadAverage()
	rawPath := filepath.Join(h.work, "bench.raw")
	if h.cfg.out != "" {
		rawPath = strings.TrimSuffix(h.cfg.out, ".md") + ".raw"
	}
	if err := os.MkdirAll(filepath.Dir(rawPath), 0o755); err != nil {
		return nil, err
	}
	rawFile, err := os.Create(rawPath)
	if err != nil {
		return nil, err
	}
	defer rawFile.Close()
	h.raw = rawFile

	if err := h.buildRaftcache(ctx); err != nil {
		return nil, err
	}
	flagName, takesAddr := findPprofFlag(ctx, h.tools.raftcache)
	h.hasPprof = flagName != ""
	switch {
	case h.cfg.profile == 0:
	case !h.hasPprof:
		h.logf("raftcache has no pprof flag: -profile ignored")
	case !takesAddr:
		h.note(fmt.Sprintf("raftcache's -%s flag takes no address, which -profile needs: no profiles taken", flagName))
	default:
		h.pprofFlag = flagName
	}
	mach := describeMachine(ctx, h.tools, h.work)
	mach.loadStart = loadStart

	rep := &report{
		foreignCPU: math.NaN(),
		when:       began,
		machine:    mach,
		cfg:        h.cfg,
		results:    map[runKey][]result{},
	}
	targets := h.startTargets(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, t := range targets {
		rep.targets = append(rep.targets, t.id)
		rep.startFailed = rep.startFailed || t.startErr != ""
	}
	if idle := h.measureIdleCPU(ctx, targets); idle != "" {
		h.logf("idle CPU, in percent of one core: %s", idle)
		h.note(fmt.Sprintf("CPU used by the idle targets over %v before the benchmarks, in percent of one core: %s.", idleWindow, idle))
	}

	before, okBefore := h.takeCPUSnapshot()
	if err := h.runRounds(ctx, targets, rep); err != nil {
		return nil, err
	}
	if after, ok := h.takeCPUSnapshot(); ok && okBefore {
		rep.foreignCPU = foreignShare(before, after)
		h.logf("other processes used %.0f%% of the machine's CPU during the benchmarks", rep.foreignCPU*100)
	}
	if h.pprofFlag != "" {
		rep.profiles = h.takeProfiles(ctx, targets)
	}
	h.fleet.stopAll()

	for _, d := range []dataset{{keys: h.cfg.memKeys, valueSize: h.cfg.valueSize}, {keys: h.cfg.memHashes, fields: h.cfg.hashFields}} {
		if d.keys == 0 {
			continue
		}
		rep.memory = append(rep.memory, h.compareMemory(ctx, d))
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	rep.elapsed = time.Since(began)
	rep.loadEnd = loadAverage()
	rep.hasPprof = h.hasPprof
	h.mu.Lock()
	rep.notes = append(rep.notes, h.notes...)
	rep.startFailed = rep.startFailed || h.startFailed
	h.mu.Unlock()
	return rep, nil
}

// buildRaftcache builds the binary under test, or takes -raftcache's.
func (h *harness) buildRaftcache(ctx context.Context) error {
	if h.cfg.binary != "" {
		bin, err := filepath.Abs(h.cfg.binary)
		if err != nil {
			return err
		}
		h.tools.raftcache = bin
		return nil
	}
	h.tools.raftcache = filepath.Join(h.work, "raftcache")
	h.logf("building raftcache in %s", h.root)
	build := exec.CommandContext(ctx, "go", "build", "-buildvcs=auto", "-o", h.tools.raftcache, "./cmd/raftcache")
	build.Dir = h.root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/raftcache: %v\n%s", err, out)
	}
	return nil
}

// failoverReport builds raftcache, runs -steady and -failover and returns
// their report.
func (h *harness) failoverReport(ctx context.Context) (string, error) {
	began := time.Now()
	if err := h.buildRaftcache(ctx); err != nil {
		return "", err
	}
	mach := describeMachine(ctx, h.tools, h.work)
	res := h.runFailover(ctx)
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	var b strings.Builder
	var flags []string
	if h.cfg.steady > 0 {
		flags = append(flags, fmt.Sprintf("-steady %v", h.cfg.steady))
	}
	if h.cfg.failover > 0 {
		flags = append(flags, fmt.Sprintf("-failover %d", h.cfg.failover))
	}
	if len(h.cfg.raftcacheArgs) > 0 {
		flags = append(flags, fmt.Sprintf("-raftcache-args %q", strings.Join(h.cfg.raftcacheArgs, " ")))
	}
	fmt.Fprintf(&b, "# raftcache failover\n\nGenerated by `go run ./test/bench %s` on %s (run took %v). "+
		"CPU: %s, %d cores; raftcache %s.\n\n", strings.Join(flags, " "),
		began.UTC().Format("2006-01-02 15:04 UTC"), time.Since(began).Round(time.Second), mach.cpu, mach.cores,
		mach.raftcache)
	b.WriteString(res.markdown())
	return b.String(), nil
}

// runRounds runs every test with every pipeline depth against every target,
// h.cfg.rounds times, and files the results in rep.
func (h *harness) runRounds(ctx context.Context, targets []*target, rep *report) error {
	total := h.cfg.rounds * len(h.cfg.pipelines) * len(h.cfg.tests) * len(targets)
	done, turn := 0, 0
	for round := range h.cfg.rounds {
		for _, pipeline := range h.cfg.pipelines {
			for _, test := range h.cfg.tests {
				// Each test visits the targets in a different order, so none
				// is always first (or last) after another's heavy run.
				for i := range targets {
					t := targets[(i+turn)%len(targets)]
					r := h.measure(ctx, t, test, pipeline)
					if ctx.Err() != nil {
						return ctx.Err()
					}
					done++
					key := runKey{test: strings.ToUpper(test), pipeline: pipeline, target: t.id}
					rep.results[key] = append(rep.results[key], r)
					h.logf("[%d/%d] round %d -P %-2d %-5s %-20s %s", done, total, round+1, pipeline, key.test, t.id, r.String())
				}
				turn++
			}
		}
	}
	return nil
}

// takeProfiles takes a CPU profile of each raftcache target (the node the
// plain client talks to) while redis-benchmark loops over SET, then GET,
// with -P 1. It returns the files written.
func (h *harness) takeProfiles(ctx context.Context, targets []*target) []string {
	dir := filepath.Join(h.root, "test", "bench", "results", "profiles")
	if h.cfg.out != "" {
		dir = filepath.Join(filepath.Dir(h.cfg.out), "profiles")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		h.note("profiles: " + err.Error())
		return nil
	}
	var files []string
	for _, t := range targets {
		if t.pprof == "" || t.startErr != "" {
			continue
		}
		for _, test := range []string{"set", "get"} {
			path := filepath.Join(dir, fmt.Sprintf("%s-%s.prof", t.id, test))
			if err := h.profileOne(ctx, t, test, path); err != nil {
				h.note(fmt.Sprintf("profile of %s %s: %v", t.id, test, err))
				continue
			}
			files = append(files, path)
			h.logf("profile written to %s", path)
		}
	}
	return files
}

func (h *harness) profileOne(ctx context.Context, t *target, test, path string) error {
	bctx, stop := context.WithCancel(ctx)
	defer stop()
	args := append(benchmarkArgs(t.addr, t.cluster, test, 1, h.cfg.requests, h.cfg.clients, h.cfg.keyspace), "-l")
	bench := exec.CommandContext(bctx, h.tools.redisBenchmark, args...)
	if err := bench.Start(); err != nil {
		return err
	}
	defer func() { stop(); _ = bench.Wait() }()
	secs := int(h.cfg.profile.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.pprof, secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
