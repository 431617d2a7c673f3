package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	requests      int // redis-benchmark -n of a first run
	clients       int
	keyspace      int
	pipelines     []int
	tests         []string
	rounds        int
	memKeys       int
	valueSize     int
	memHashes     int // hashes loaded for the second memory comparison
	hashFields    int
	loadStreams   int
	runTimeout    time.Duration
	minRun        time.Duration // see harness.measure
	minClusterRun time.Duration // see harness.measure
	profile       time.Duration
	targets       []string
	out           string // markdown report; "" for none
	binary        string // a raftcache binary to use instead of building one
	keep          bool
	quick         bool
	// fsync is "always" or "everysec": Redis's appendfsync of the
	// redis-aof target and raftcache's --fsync.
	fsync string
	// raftcacheArgs are extra flags for every raftcache node.
	raftcacheArgs []string
	// failover (kills) and steady (a duration) select the failover run
	// instead of the comparison (failover.go).
	failover int
	steady   time.Duration
	// eviction (GETs counted per target) selects the eviction run
	// instead of the comparison (eviction.go).
	eviction int
	// xtx (calls per command, concurrency level and round) selects the
	// cross-shard latency run instead of the comparison (xtx.go).
	xtx int
	// args is the command line, for the reports.
	args []string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var pipelines, tests, targets, rcArgs string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./test/bench [flags]\n\n"+
			"Benchmarks raftcache against redis-server, redis-server with appendfsync always\n"+
			"and a 3-master Redis Cluster with redis-benchmark, and compares resident memory.\n\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&c.requests, "requests", 20000, "redis-benchmark -n of every test against every target, raised for runs shorter than -min-run")
	fs.IntVar(&c.clients, "clients", 50, "redis-benchmark -c")
	fs.IntVar(&c.keyspace, "keyspace", 100000, "redis-benchmark -r")
	fs.StringVar(&pipelines, "pipelines", "1,16", "redis-benchmark -P values, comma separated")
	fs.StringVar(&tests, "tests", "set,get,incr,hset", "redis-benchmark tests, comma separated, run in this order")
	fs.IntVar(&c.rounds, "rounds", 1, "times every test is run against every target (the report shows medians)")
	fs.IntVar(&c.memKeys, "mem-keys", 1000000, "keys loaded for the memory comparison (0: skip it)")
	fs.IntVar(&c.valueSize, "value-size", 100, "bytes per value in the memory comparison")
	fs.IntVar(&c.memHashes, "mem-hashes", 100000, "hashes loaded for the memory comparison of hashes (0: skip it)")
	fs.IntVar(&c.hashFields, "hash-fields", 20, "fields per hash, of 10-30 bytes, in the memory comparison of hashes")
	fs.IntVar(&c.loadStreams, "load-streams", 50, "concurrent redis-cli --pipe processes loading the keys of the memory comparison")
	fs.DurationVar(&c.runTimeout, "run-timeout", 3*time.Minute, "longest one redis-benchmark run may take before it counts as failed")
	fs.DurationVar(&c.minRun, "min-run", time.Second, "shortest run: a shorter one is repeated with proportionally more requests (0: never)")
	fs.DurationVar(&c.minClusterRun, "min-cluster-run", 2500*time.Millisecond,
		"shortest --cluster run (redis-benchmark --cluster rounds durations up to a multiple of 250 ms)")
	fs.DurationVar(&c.profile, "profile", 0, "with raftcache's pprof flag present: CPU profile of SET and GET (-P 1) of this length per raftcache target, into results/profiles/ (0: none)")
	fs.StringVar(&targets, "targets", strings.Join(targetOrder, ","), "targets to run, comma separated")
	fs.StringVar(&c.out, "out", "", "markdown report path (default: test/bench/results/latest.md; with -quick none); - for none")
	fs.StringVar(&c.binary, "raftcache", "", "use this raftcache binary instead of building ./cmd/raftcache (to compare builds)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory (data directories and server logs)")
	fs.BoolVar(&c.quick, "quick", false, "smoke test: few requests, few keys, no report file unless -out is given")
	fs.StringVar(&c.fsync, "fsync", "always", "always or everysec: Redis's appendfsync for the redis-aof target and raftcache's --fsync, "+
		"so that writes are compared at the same durability")
	fs.IntVar(&c.failover, "failover", 0, "instead of the comparison: SIGKILL a shard leader of a loaded 3-node cluster this many times "+
		"and report the write outages (results/failover.md)")
	fs.DurationVar(&c.steady, "steady", 0, "instead of the comparison: run a 3-node cluster under load this long first and report its leader changes "+
		"(with -failover, before the kills)")
	fs.IntVar(&c.eviction, "eviction", 0, "instead of the comparison: compare the hit ratio of redis-server and one raftcache node "+
		"under the same maxmemory and policy with this many cache-aside GETs per run, then their memory under sustained SETs "+
		"(results/eviction.md)")
	fs.IntVar(&c.xtx, "xtx", 0, "instead of the comparison: latency of cross-shard commands (MSET, RENAME, MULTI/EXEC over "+
		"two shards) against their single-shard counterparts, on a 3-node cluster and on redis-server, with this many calls "+
		"per command, concurrency level and round; -rounds defaults to 3 here (results/xtx.md)")
	fs.StringVar(&rcArgs, "raftcache-args", "", "extra flags for every raftcache node, space separated (e.g. \"--log-store bolt\")")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c.args = args
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.xtx > 0 && !set["rounds"] {
		c.rounds = xtxDefRounds
		if c.quick {
			c.rounds = 1
		}
	}
	if c.quick {
		if !set["requests"] {
			c.requests = 2000
		}
		if !set["mem-keys"] {
			c.memKeys = 20000
		}
		if !set["mem-hashes"] {
			c.memHashes = 2000
		}
		if !set["min-run"] {
			c.minRun = 250 * time.Millisecond
		}
		if !set["min-cluster-run"] {
			c.minClusterRun = 500 * time.Millisecond
		}
	}
	if c.fsync != "always" && c.fsync != "everysec" {
		return c, fmt.Errorf("-fsync must be always or everysec, not %q", c.fsync)
	}
	c.raftcacheArgs = strings.Fields(rcArgs)
	var err error
	if c.pipelines, err = parseInts(pipelines); err != nil {
		return c, fmt.Errorf("-pipelines: %w", err)
	}
	c.tests = splitList(tests)
	c.targets = splitList(targets)
	for _, t := range c.targets {
		if _, ok := targetLabels[t]; !ok {
			return c, fmt.Errorf("-targets: unknown target %q (known: %s)", t, strings.Join(targetOrder, ", "))
		}
	}
	switch {
	case c.xtx < 0:
		return c, errors.New("-xtx must not be negative")
	case c.requests < 1:
		return c, errors.New("-requests must be at least 1")
	case c.clients < 1 || c.keyspace < 1 || c.rounds < 1:
		return c, errors.New("-clients, -keyspace and -rounds must be at least 1")
	case c.memKeys < 0 || c.memHashes < 0 || c.valueSize < 1 || c.hashFields < 1 || c.loadStreams < 1:
		return c, errors.New("-mem-keys and -mem-hashes must not be negative, -value-size, -hash-fields and -load-streams must be at least 1")
	case len(c.tests) == 0 || len(c.targets) == 0:
		return c, errors.New("-tests and -targets must not be empty")
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.ToLower(strings.TrimSpace(f)); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		var n int
		if _, err := fmt.Sscanf(f, "%d", &n); err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("empty")
	}
	return out, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command; it returns the exit status: 0 when the report
// was produced (whatever it says), 1 when the harness itself failed, 2 for
// bad flags or missing Redis tools.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	tools, err := findTools()
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	failoverRun := cfg.failover > 0 || cfg.steady > 0
	switch {
	case cfg.out == "-" || (cfg.out == "" && cfg.quick):
		cfg.out = ""
	case cfg.out == "" && cfg.xtx > 0:
		cfg.out = filepath.Join(root, "test", "bench", "results", "xtx.md")
	case cfg.out == "" && cfg.eviction > 0:
		cfg.out = filepath.Join(root, "test", "bench", "results", "eviction.md")
	case cfg.out == "" && failoverRun:
		cfg.out = filepath.Join(root, "test", "bench", "results", "failover.md")
	case cfg.out == "":
		cfg.out = filepath.Join(root, "test", "bench", "results", "latest.md")
	}
	work, err := os.MkdirTemp("", "raftcache-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	h := &harness{cfg: cfg, tools: tools, root: root, work: work, log: stderr, fleet: &fleet{}, raised: map[runKey]int{}}
	defer h.fleet.stopAll()

	var md string
	var rep *report
	if cfg.xtx > 0 {
		md, err = h.xtxReport(ctx)
	} else if cfg.eviction > 0 {
		md, err = h.evictionReport(ctx)
	} else if failoverRun {
		md, err = h.failoverReport(ctx)
	} else if rep, err = h.run(ctx); err == nil {
		md = rep.markdown()
	}
	h.fleet.stopAll()
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		fmt.Fprintln(stderr, "bench: server logs and data kept in", work)
		return 1
	}
	fmt.Fprint(stdout, md)
	if cfg.out != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err == nil {
			err = os.WriteFile(cfg.out, []byte(md), 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "bench: write report:", err)
			return 1
		}
		fmt.Fprintln(stderr, "bench: report written to", cfg.out)
	}
	if cfg.keep || (rep != nil && rep.startFailed) {
		fmt.Fprintln(stderr, "bench: server logs and data kept in", work)
	} else {
		os.RemoveAll(work)
		if rep != nil && rep.failures() > 0 {
			fmt.Fprintln(stderr, "bench: some runs failed; -keep keeps the servers' logs")
		}
	}
	return 0
}

// tools are the programs the harness runs.
type tools struct {
	redisServer, redisCli, redisBenchmark string
	raftcache                             string // built by the harness
}

// findTools looks the Redis programs up on PATH and names every missing
// one.
func findTools() (tools, error) {
	var t tools
	var missing []string
	for _, x := range []struct {
		name string
		dst  *string
	}{{"redis-server", &t.redisServer}, {"redis-cli", &t.redisCli}, {"redis-benchmark", &t.redisBenchmark}} {
		p, err := exec.LookPath(x.name)
		if err != nil {
			missing = append(missing, x.name)
			continue
		}
		*x.dst = p
	}
	if len(missing) > 0 {
		return t, fmt.Errorf("%s not found on PATH: the comparison needs Redis 7's redis-server, redis-cli and redis-benchmark "+
			"(Debian/Ubuntu: apt-get install redis-server redis-tools)", strings.Join(missing, ", "))
	}
	return t, nil
}

// moduleRoot is the directory of the raftcache module the command runs in.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the raftcache repository (go run ./test/bench)")
	}
	root := filepath.Dir(mod)
	if _, err := os.Stat(filepath.Join(root, "cmd", "raftcache")); err != nil {
		return "", fmt.Errorf("%s has no cmd/raftcache: run from the raftcache repository", root)
	}
	return root, nil
}
