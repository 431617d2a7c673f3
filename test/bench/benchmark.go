package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// result is one redis-benchmark test against one target, or the median of
// several.
type result struct {
	rps      float64 // requests per second
	p50, p99 float64 // latency in ms; NaN when redis-benchmark printed none (before 7.0)
	requests int     // redis-benchmark -n
	// gcShare is the Go GC's share of the CPU the raftcache node at the
	// target's address used during the run; NaN for Redis or unknown.
	gcShare float64
	err     string // why it failed; "" when it did not
	note    string // e.g. how many of several rounds failed
}

// seconds is how long the run took by redis-benchmark's clock.
func (r result) seconds() float64 { return float64(r.requests) / r.rps }

func (r result) ok() bool { return r.err == "" }

// benchmarkArgs are redis-benchmark's arguments for one test.
func benchmarkArgs(addr string, cluster bool, test string, pipeline, requests, clients, keyspace int) []string {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-h", host, "-p", port,
		"-c", strconv.Itoa(clients), "-r", strconv.Itoa(keyspace), "-n", strconv.Itoa(requests),
		"-P", strconv.Itoa(pipeline), "-t", test, "--csv"}
	if cluster {
		args = append(args, "--cluster")
	}
	return args
}

// maxRequests bounds how far measure raises -n.
const maxRequests = 50_000_000

// measure runs one test against t: first with h.cfg.requests requests
// (or, in later rounds, with the count an earlier round was raised to),
// then, while the run was shorter than the minimum, again with
// proportionally more requests (at most three times). A run shorter than a
// second says little, and the targets differ in speed by two orders of
// magnitude, so a fixed count would either waste minutes on the slow ones
// or time the fast ones over a few milliseconds. Only -n changes; the
// workload (-c, -r, -P, the test) stays the same for every target.
//
// redis-benchmark --cluster runs its clients in threads, which notice that
// a run is over only on their 250 ms timer, so it rounds the run's
// duration up to a multiple of 250 ms (100000 GETs that Redis Cluster
// answers in 0.1 s count as 0.25 s): --cluster runs get the longer
// minimum h.cfg.minClusterRun. Runs without --cluster time themselves to
// the millisecond.
func (h *harness) measure(ctx context.Context, t *target, test string, pipeline int) result {
	key := runKey{test: strings.ToUpper(test), pipeline: pipeline, target: t.id}
	minRun := h.cfg.minRun
	if t.cluster {
		minRun = max(minRun, h.cfg.minClusterRun)
	}
	n := max(h.cfg.requests, h.raised[key])
	r := h.runBenchmark(ctx, t, test, pipeline, n)
	for range 3 {
		if !r.ok() {
			break
		}
		more := raise(n, r.seconds(), minRun.Seconds())
		if more == 0 {
			break
		}
		h.logf("%s -P %d %s: %d requests took %.2fs, again with %d", key.test, pipeline, t.id, n, r.seconds(), more)
		n = more
		r = h.runBenchmark(ctx, t, test, pipeline, n)
	}
	h.raised[key] = n
	return r
}

// raise returns the -n to repeat a run of n requests that took the given
// seconds with, so that it lasts at least minSecs; 0 when the run was long
// enough, or n cannot grow. It aims 30% past minSecs: a short run
// underestimates the rate (connections warming up, --cluster's rounding),
// and a repeat that falls just short costs another run.
func raise(n int, seconds, minSecs float64) int {
	if minSecs <= 0 || seconds >= minSecs || n >= maxRequests {
		return 0
	}
	return int(math.Min(float64(n)*math.Ceil(1.3*minSecs/seconds), maxRequests))
}

// runBenchmark runs one redis-benchmark test against t. It never fails the
// harness: a failure is a result with err set.
func (h *harness) runBenchmark(ctx context.Context, t *target, test string, pipeline, requests int) result {
	if t.startErr != "" {
		return result{err: t.startErr}
	}
	args := benchmarkArgs(t.addr, t.cluster, test, pipeline, requests, h.cfg.clients, h.cfg.keyspace)
	rctx, cancel := context.WithTimeout(ctx, h.cfg.runTimeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, h.tools.redisBenchmark, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	gcBefore, cpuBefore, gcOK := gcSample(t)
	start := time.Now()
	err := cmd.Run()
	gcShare := math.NaN()
	if gcAfter, cpuAfter, ok := gcSample(t); ok && gcOK && cpuAfter > cpuBefore {
		gcShare = (gcAfter - gcBefore) / (cpuAfter - cpuBefore)
	}
	h.rawf("### %s: redis-benchmark %s (%v, %v)\n%s%s\n", t.id, strings.Join(args, " "),
		time.Since(start).Round(time.Millisecond), err, stdout.String(), stderr.String())
	if ctx.Err() != nil {
		return result{err: "interrupted"}
	}
	if rctx.Err() != nil {
		return result{err: fmt.Sprintf("timed out after %v", h.cfg.runTimeout)}
	}
	rows, perr := parseCSV(stdout.String())
	r, found := rows[strings.ToUpper(test)]
	if err != nil || perr != nil || !found {
		reason := failureReason(stdout.String(), stderr.String())
		if reason == "" && err != nil {
			reason = err.Error()
		}
		if reason == "" {
			reason = "no " + strings.ToUpper(test) + " line in redis-benchmark's output"
		}
		return result{err: reason}
	}
	r.requests = requests
	r.gcShare = gcShare
	return r
}

// gcSample reads, from a raftcache target's INFO, the CPU seconds its Go
// GC has used (runtime/metrics' estimate) and the process's CPU seconds.
func gcSample(t *target) (gc, cpu float64, ok bool) {
	if !strings.HasPrefix(t.id, "raftcache") || t.addr == "" {
		return 0, 0, false
	}
	info, err := command(t.addr, "INFO", "memory", "cpu")
	if err != nil {
		return 0, 0, false
	}
	f := infoFields(info)
	var v [3]float64
	for i, name := range []string{"go_gc_cpu_seconds", "used_cpu_user", "used_cpu_sys"} {
		if v[i], err = strconv.ParseFloat(f[name], 64); err != nil {
			return 0, 0, false
		}
	}
	return v[0], v[1] + v[2], true
}

// parseCSV reads redis-benchmark --csv output into test name → result.
// Redis 7 prints a header line ("test","rps","avg_latency_ms",...,
// "p50_latency_ms",...,"p99_latency_ms",...) and one line per test;
// earlier versions print only "TEST","rps" lines. Other lines (--cluster
// prints the masters it found) are skipped.
func parseCSV(out string) (map[string]result, error) {
	rows := map[string]result{}
	var header []string
	for _, line := range strings.Split(out, "\n") {
		line = lastSegment(line)
		if !strings.HasPrefix(line, `"`) {
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil || len(rec) < 2 {
			continue
		}
		if strings.EqualFold(rec[0], "test") {
			header = rec
			continue
		}
		r := result{p50: math.NaN(), p99: math.NaN()}
		cols := header
		if cols == nil {
			cols = []string{"test", "rps"}
		}
		for i, col := range cols {
			if i >= len(rec) {
				break
			}
			var dst *float64
			switch col {
			case "rps":
				dst = &r.rps
			case "p50_latency_ms":
				dst = &r.p50
			case "p99_latency_ms":
				dst = &r.p99
			default:
				continue
			}
			v, err := strconv.ParseFloat(rec[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s of %s: %q is not a number", col, rec[0], rec[i])
			}
			*dst = v
		}
		rows[strings.ToUpper(rec[0])] = r
	}
	if len(rows) == 0 {
		return nil, errors.New("no CSV lines in redis-benchmark's output")
	}
	return rows, nil
}

// lastSegment drops what a carriage return overwrote on a terminal
// (redis-benchmark's progress lines) and surrounding blanks.
func lastSegment(line string) string {
	line = strings.TrimRight(line, "\r\n \t")
	if i := strings.LastIndexByte(line, '\r'); i >= 0 {
		line = line[i+1:]
	}
	return strings.TrimSpace(line)
}

// failureReason is what a failed redis-benchmark said last: the last two
// distinct lines of its standard error, else of its standard output.
func failureReason(stdout, stderr string) string {
	if r := lastLines(stderr, 2); r != "" {
		return r
	}
	return lastLines(stdout, 2)
}

// lastLines joins the last n distinct non-empty lines of s with ": ",
// cut to 200 bytes.
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		l = lastSegment(l)
		if l == "" || strings.HasPrefix(l, `"`) || (len(lines) > 0 && lines[len(lines)-1] == l) {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, ": ")
	if len(out) > 200 {
		out = out[:197] + "..."
	}
	return out
}

// summarize combines the rounds of one test against one target: the median
// of each figure over the rounds that succeeded (an even count averages
// the middle two), or the first failure if none did.
func summarize(runs []result) result {
	var ok []result
	var failed []result
	for _, r := range runs {
		if r.ok() {
			ok = append(ok, r)
		} else {
			failed = append(failed, r)
		}
	}
	if len(runs) == 0 {
		return result{err: "not run"}
	}
	if len(ok) == 0 {
		return failed[0]
	}
	pick := func(f func(result) float64) float64 {
		var v []float64
		for _, r := range ok {
			v = append(v, f(r))
		}
		return median(v)
	}
	out := result{
		requests: slices.MaxFunc(ok, func(a, b result) int { return a.requests - b.requests }).requests,
		rps:      pick(func(r result) float64 { return r.rps }),
		p50:      pick(func(r result) float64 { return r.p50 }),
		p99:      pick(func(r result) float64 { return r.p99 }),
		gcShare:  pick(func(r result) float64 { return r.gcShare }),
	}
	if len(failed) > 0 {
		out.note = fmt.Sprintf("%d of %d rounds failed: %s", len(failed), len(runs), failed[0].err)
	}
	return out
}

// median of v; NaN if v is empty or holds a NaN.
func median(v []float64) float64 {
	if len(v) == 0 || slices.ContainsFunc(v, math.IsNaN) {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
