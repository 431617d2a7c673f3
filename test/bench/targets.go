package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/raftcache/raftcache/internal/freeport"
)

// Target IDs, as -targets takes them.
const (
	tRedis        = "redis"
	tRedisAOF     = "redis-aof"
	tRedisCluster = "redis-cluster"
	tRC1          = "raftcache-1"
	tRC3          = "raftcache-3"
	tRC3Cluster   = "raftcache-3-cluster"
)

// targetOrder is the order of the report's rows.
var targetOrder = []string{tRedis, tRedisAOF, tRedisCluster, tRC1, tRC3, tRC3Cluster}

var targetLabels = map[string]string{
	tRedis:        "redis-server, no persistence",
	tRedisAOF:     "redis-server, appendfsync always",
	tRedisCluster: "Redis Cluster, 3 masters (--cluster)",
	tRC1:          "raftcache, 1 node",
	tRC3:          "raftcache, 3 nodes, plain client via n1",
	tRC3Cluster:   "raftcache, 3 nodes (--cluster)",
}

// label names target id in the report: with -fsync everysec the AOF
// target and raftcache's are labelled with it, and raftcache's with any
// -raftcache-args.
func (c config) label(id string) string {
	l := targetLabels[id]
	var extra []string
	if c.fsync == "everysec" {
		if id == tRedisAOF {
			return "redis-server, appendfsync everysec"
		}
		extra = append(extra, "--fsync everysec")
	}
	if len(c.raftcacheArgs) > 0 {
		extra = append(extra, strings.Join(c.raftcacheArgs, " "))
	}
	if strings.HasPrefix(id, "raftcache") && len(extra) > 0 {
		l += " (" + strings.Join(extra, " ") + ")"
	}
	return l
}

// baselines are the Redis targets each raftcache target is compared with,
// the first being the main one.
var baselines = map[string][]string{
	tRC1:        {tRedis, tRedisAOF},
	tRC3:        {tRedisCluster},
	tRC3Cluster: {tRedisCluster},
}

// raftcacheShards is --shards for every raftcache target: one shard per
// node of the 3-node cluster, as the README's example.
const raftcacheShards = 3

// startTimeout bounds how long a target may take to become ready.
const startTimeout = 60 * time.Second

// target is one thing redis-benchmark runs against.
type target struct {
	id       string
	addr     string // where redis-benchmark connects
	cluster  bool   // redis-benchmark --cluster
	pprof    string // raftcache's pprof HTTP address on the node at addr; "" none
	procs    []*process
	startErr string // why the target could not be started; every run of it fails with this
}

// startTargets starts every target in h.cfg.targets. A target that cannot
// be started is returned with startErr set, so its rows say why.
func (h *harness) startTargets(ctx context.Context) []*target {
	want := map[string]bool{}
	for _, id := range h.cfg.targets {
		want[id] = true
	}
	var out []*target
	add := func(t *target, err error) {
		if err != nil {
			t.startErr = "start: " + err.Error()
			h.logf("%s: %v", t.id, err)
		} else {
			h.logf("%s ready on %s", t.id, t.addr)
		}
		out = append(out, t)
	}
	for _, id := range []string{tRedis, tRedisAOF} {
		if !want[id] {
			continue
		}
		var extra []string
		if id == tRedisAOF {
			extra = []string{"--appendonly", "yes", "--appendfsync", h.cfg.fsync}
		}
		t := &target{id: id}
		p, addr, err := h.startRedis(ctx, id, extra...)
		if p != nil {
			t.procs, t.addr = []*process{p}, addr
		}
		add(t, err)
	}
	if want[tRedisCluster] {
		t := &target{id: tRedisCluster, cluster: true}
		procs, addrs, err := h.startRedisCluster(ctx)
		t.procs = procs
		if len(addrs) > 0 {
			t.addr = addrs[0]
		}
		add(t, err)
	}
	if want[tRC1] {
		t := &target{id: tRC1}
		procs, addrs, pprofs, err := h.startRaftcache(ctx, tRC1, 1)
		t.procs = procs
		if len(addrs) > 0 {
			t.addr, t.pprof = addrs[0], pprofs[0]
		}
		add(t, err)
	}
	if want[tRC3] || want[tRC3Cluster] {
		procs, addrs, pprofs, err := h.startRaftcache(ctx, "raftcache-3", 3)
		for _, id := range []string{tRC3, tRC3Cluster} {
			if !want[id] {
				continue
			}
			t := &target{id: id, procs: procs, cluster: id == tRC3Cluster}
			if len(addrs) > 0 {
				t.addr, t.pprof = addrs[0], pprofs[0]
			}
			add(t, err)
		}
	}
	return out
}

// redisBaseArgs are the options every redis-server gets: loopback only,
// no RDB snapshots, no AOF unless extra turns it on.
func redisBaseArgs(port int, dir string) []string {
	return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}
}

// startRedis starts one redis-server and waits until it answers PING.
func (h *harness) startRedis(ctx context.Context, name string, extra ...string) (*process, string, error) {
	port, err := freeport.Port()
	if err != nil {
		return nil, "", err
	}
	dir := filepath.Join(h.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	args := append(redisBaseArgs(port, dir), extra...)
	p, err := h.fleet.start(name, filepath.Join(h.work, name+".log"), h.tools.redisServer, args...)
	if err != nil {
		return nil, "", err
	}
	addr := addrOf(port)
	err = waitUntil(ctx, name+" to answer PING", startTimeout, []*process{p}, func() bool { return answersPing(addr) })
	return p, addr, err
}

// startRedisCluster starts three cluster-enabled redis-servers, joins them
// with redis-cli --cluster create (three masters, no replicas) and waits
// until each says cluster_state:ok.
func (h *harness) startRedisCluster(ctx context.Context) ([]*process, []string, error) {
	var procs []*process
	var addrs []string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("redis-cluster-%d", i)
		busPort, err := freeport.Port()
		if err != nil {
			return procs, addrs, err
		}
		p, addr, err := h.startRedis(ctx, name, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(busPort),
			"--cluster-config-file", filepath.Join(h.work, name, "nodes.conf"))
		if p != nil {
			procs = append(procs, p)
		}
		if err != nil {
			return procs, addrs, err
		}
		addrs = append(addrs, addr)
	}
	cctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(cctx, h.tools.redisCli, args...).CombinedOutput(); err != nil {
		return procs, addrs, fmt.Errorf("redis-cli --cluster create: %v: %s", err, lastLines(string(out), 2))
	}
	for _, a := range addrs {
		if err := waitUntil(ctx, a+" cluster_state:ok", startTimeout, procs, func() bool { return clusterOK(a) }); err != nil {
			return procs, addrs, err
		}
	}
	return procs, addrs, nil
}

// startRaftcache starts n raftcache nodes from one --peers list (none for
// one node), waits until each says cluster_state:ok and, with several
// nodes, until every node leads as many shards as the others. It returns
// the processes, their client addresses and their pprof addresses ("" when
// the binary has no pprof flag or -profile is off).
func (h *harness) startRaftcache(ctx context.Context, name string, n int, extra ...string) ([]*process, []string, []string, error) {
	type node struct {
		id                     string
		port, clusterPort, web int
	}
	var nodes []node
	var peers []string
	for i := 1; i <= n; i++ {
		nd := node{id: "n" + strconv.Itoa(i)}
		var err error
		if nd.port, err = freeport.Port(); err == nil {
			nd.clusterPort, err = freeport.Port()
		}
		if err == nil && h.pprofFlag != "" {
			nd.web, err = freeport.Port()
		}
		if err != nil {
			return nil, nil, nil, err
		}
		nodes = append(nodes, nd)
		peers = append(peers, fmt.Sprintf("%s=127.0.0.1:%d@%d", nd.id, nd.port, nd.clusterPort))
	}
	var procs []*process
	var addrs, pprofs []string
	for _, nd := range nodes {
		pname := name + "-" + nd.id
		args := []string{"--id", nd.id, "--addr", addrOf(nd.port), "--cluster-addr", addrOf(nd.clusterPort),
			"--dir", filepath.Join(h.work, pname), "--shards", strconv.Itoa(raftcacheShards), "--log-level", "warn"}
		if n > 1 {
			args = append(args, "--peers", strings.Join(peers, ","))
		}
		if h.cfg.fsync != "always" {
			args = append(args, "--fsync", h.cfg.fsync)
		}
		args = append(args, h.cfg.raftcacheArgs...)
		args = append(args, extra...)
		pprof := ""
		if nd.web != 0 {
			pprof = addrOf(nd.web)
			args = append(args, "--"+h.pprofFlag, pprof)
		}
		p, err := h.fleet.start(pname, filepath.Join(h.work, pname+".log"), h.tools.raftcache, args...)
		if err != nil {
			return procs, addrs, pprofs, err
		}
		procs = append(procs, p)
		addrs = append(addrs, addrOf(nd.port))
		pprofs = append(pprofs, pprof)
	}
	for _, a := range addrs {
		if err := waitUntil(ctx, a+" cluster_state:ok", startTimeout, procs, func() bool { return clusterOK(a) }); err != nil {
			return procs, addrs, pprofs, err
		}
	}
	if n > 1 {
		var ids []string
		for _, nd := range nodes {
			ids = append(ids, nd.id)
		}
		err := waitUntil(ctx, name+" shard leaders spread over the nodes", startTimeout, procs, func() bool {
			info, err := command(addrs[0], "INFO", "replication")
			return err == nil && balanced(shardLeaders(info), ids)
		})
		if err != nil {
			// Not fatal: the numbers are still worth having, with a note.
			h.note(fmt.Sprintf("%s: %v; its figures were taken with unbalanced shard leaders", name, err))
		}
	}
	return procs, addrs, pprofs, nil
}

// pprofFlagRE finds a pprof flag in raftcache's -h output (the flag
// package prints "  -name type", the type omitted for a boolean).
var pprofFlagRE = regexp.MustCompile(`(?m)^\s+-(pprof[a-z-]*)(?:[ \t]+(\w+))?[ \t]*$`)

// findPprofFlag returns the name of raftcache's pprof flag ("" if it has
// none) and whether it takes a value: the harness passes it the address
// to serve net/http/pprof on.
func findPprofFlag(ctx context.Context, bin string) (name string, takesAddr bool) {
	out, _ := exec.CommandContext(ctx, bin, "-h").CombinedOutput()
	return parsePprofFlag(string(out))
}

func parsePprofFlag(help string) (string, bool) {
	m := pprofFlagRE.FindStringSubmatch(help)
	if m == nil {
		return "", false
	}
	return m[1], m[2] == "string" || m[2] == "value"
}
