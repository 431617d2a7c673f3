package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// idleWindow is how long the targets' idle CPU use is measured before the
// benchmarks start.
const idleWindow = 5 * time.Second

// cpuTicks reads a process's user plus system CPU time, in USER_HZ ticks,
// from the text of /proc/PID/stat; with children, also that of the children
// it has waited for.
func cpuTicks(stat string, children bool) (int64, error) {
	// The command name, in parentheses, may hold spaces: the fields that
	// follow start after the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime, stime, cutime and cstime are fields
	// 14 to 17.
	last := 13
	if children {
		last = 15
	}
	if len(f) < last {
		return 0, fmt.Errorf("/proc stat: %d fields after the name", len(f))
	}
	var sum int64
	for _, s := range f[11:last] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		sum += n
	}
	return sum, nil
}

// machineTicks reads, from the text of /proc/stat, the ticks all CPUs
// spent busy and in total.
func machineTicks(stat string) (busy, total int64, err error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal (guest time is
	// already in user and nice).
	for i, s := range f[1:9] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total, nil
}

// cpuSnapshot is the machine's CPU time and the part of it the harness's
// own processes (itself, the redis-benchmark and redis-cli runs it waited
// for, and the servers) used.
type cpuSnapshot struct {
	busy, total, ours int64
}

// takeCPUSnapshot reads /proc; ok is false when it cannot.
func (h *harness) takeCPUSnapshot() (cpuSnapshot, bool) {
	var s cpuSnapshot
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, false
	}
	if s.busy, s.total, err = machineTicks(string(b)); err != nil {
		return s, false
	}
	b, err = os.ReadFile("/proc/self/stat")
	if err != nil {
		return s, false
	}
	if s.ours, err = cpuTicks(string(b), true); err != nil {
		return s, false
	}
	h.fleet.mu.Lock()
	procs := slices.Clone(h.fleet.procs)
	h.fleet.mu.Unlock()
	for _, p := range procs {
		if n, err := procTicks(p.pid()); err == nil {
			s.ours += n
		}
	}
	return s, true
}

// foreignShare is the share of the machine's CPU capacity between two
// snapshots that processes the harness did not start used (kernel work
// not charged to any process included), or NaN if unknown.
func foreignShare(a, b cpuSnapshot) float64 {
	total := b.total - a.total
	if total <= 0 {
		return math.NaN()
	}
	foreign := (b.busy - a.busy) - (b.ours - a.ours)
	return math.Max(0, float64(foreign)/float64(total))
}

func procTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return cpuTicks(string(b), false)
}

// measureIdleCPU reports how much CPU each group of target processes uses
// while nothing is sent to it: their background work (Raft heartbeats,
// expiry sweeps, cluster gossip) competes with every benchmark on a small
// machine. The result is one line per group, in percent of one core.
func (h *harness) measureIdleCPU(ctx context.Context, targets []*target) string {
	type group struct {
		label string
		procs []*process
	}
	var groups []group
	seen := map[*process]bool{}
	for _, t := range targets {
		if t.startErr != "" || len(t.procs) == 0 || seen[t.procs[0]] {
			continue
		}
		for _, p := range t.procs {
			seen[p] = true
		}
		label := h.cfg.label(t.id)
		if t.id == tRC3 || t.id == tRC3Cluster {
			label = "raftcache, 3 nodes"
		}
		groups = append(groups, group{label, t.procs})
	}
	ticks := func(g group) int64 {
		var sum int64
		for _, p := range g.procs {
			n, err := procTicks(p.pid())
			if err != nil {
				return -1
			}
			sum += n
		}
		return sum
	}
	before := make([]int64, len(groups))
	for i, g := range groups {
		before[i] = ticks(g)
	}
	began := time.Now()
	select {
	case <-ctx.Done():
		return ""
	case <-time.After(idleWindow):
	}
	elapsed := time.Since(began).Seconds()
	var parts []string
	for i, g := range groups {
		after := ticks(g)
		if before[i] < 0 || after < 0 {
			continue
		}
		pct := float64(after-before[i]) / userHZ / elapsed * 100
		parts = append(parts, fmt.Sprintf("%s %.0f%%", g.label, pct))
	}
	return strings.Join(parts, ", ")
}
