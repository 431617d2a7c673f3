package main

import (
	"context"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// machine describes where the figures were taken.
type machine struct {
	cpu       string // model name from /proc/cpuinfo
	cores     int
	kernel    string
	goVersion string
	redis     string // redis-server's version
	benchmark string // redis-benchmark's version line
	raftcache string // VCS revision the binary was built from
	disk      string // file system of the data directories
	loadStart string // /proc/loadavg's 1-minute figure when the run began
}

// loadAverage is the 1-minute load average, "" if unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}

func describeMachine(ctx context.Context, t tools, work string) machine {
	m := machine{
		cpu:       "unknown",
		cores:     runtime.NumCPU(),
		goVersion: runtime.Version(),
		redis:     "unknown",
		benchmark: "unknown",
		raftcache: "unknown revision",
		disk:      "unknown",
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if c := cpuModel(string(b)); c != "" {
			m.cpu = c
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if out, err := exec.CommandContext(ctx, t.redisServer, "--version").Output(); err == nil {
		if v := redisVersion(string(out)); v != "" {
			m.redis = v
		}
	}
	if out, err := exec.CommandContext(ctx, t.redisBenchmark, "--version").Output(); err == nil {
		m.benchmark = strings.TrimSpace(string(out))
	}
	if bi, err := buildinfo.ReadFile(t.raftcache); err == nil {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			m.raftcache = rev
			if modified == "true" {
				m.raftcache += " with uncommitted changes"
			}
		}
	}
	if b, err := os.ReadFile("/proc/mounts"); err == nil {
		if real, err := filepath.EvalSymlinks(work); err == nil {
			work = real
		}
		if fs := fsOf(string(b), work); fs != "" {
			m.disk = filepath.Dir(work) + " (" + fs + ")"
		}
	}
	return m
}

// cpuModel is the first "model name" in the text of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

var redisVersionRE = regexp.MustCompile(`\bv=(\S+)`)

// redisVersion reads "Redis server v=7.0.15 sha=..." (redis-server
// --version).
func redisVersion(out string) string {
	if m := redisVersionRE.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

// fsOf returns the type of the file system holding path, from the text of
// /proc/mounts: the entry with the longest mount point containing it.
func fsOf(mounts, path string) string {
	best, fs := -1, ""
	for _, line := range strings.Split(mounts, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, fs = len(mp), f[2]
		}
	}
	return fs
}
