package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/raftcache/raftcache/store"
)

// fakeReport is a run of every target where raftcache reaches given
// fractions of Redis's requests per second.
func fakeReport(rps map[runKey]float64, fail map[runKey]string) *report {
	rep := &report{
		when:       time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
		elapsed:    3 * time.Minute,
		machine:    machine{cpu: "Test CPU", cores: 2, goVersion: "go1.26", redis: "7.0.15"},
		cfg:        config{clients: 50, keyspace: 100000, requests: 1000, minRun: time.Second, minClusterRun: 2500 * time.Millisecond, rounds: 1, pipelines: []int{1, 16}, tests: []string{"set", "get"}, fsync: "always"},
		targets:    targetOrder,
		results:    map[runKey][]result{},
		foreignCPU: 0.02,
	}
	for _, p := range rep.cfg.pipelines {
		for _, test := range []string{"SET", "GET"} {
			for _, id := range targetOrder {
				k := runKey{test: test, pipeline: p, target: id}
				r := result{rps: 1000, p50: 1, p99: 4, requests: 1000, gcShare: math.NaN()}
				if strings.HasPrefix(id, "raftcache") {
					r.gcShare = 0.04
				}
				if v, ok := rps[k]; ok {
					r.rps, r.p50 = v, 2
				}
				if why, ok := fail[k]; ok {
					r = result{err: why}
				}
				rep.results[k] = []result{r}
			}
		}
	}
	return rep
}

func TestRatio(t *testing.T) {
	k := runKey{test: "GET", pipeline: 1, target: tRC1}
	rep := fakeReport(map[runKey]float64{k: 650}, map[runKey]string{
		{test: "SET", pipeline: 1, target: tRC3Cluster}:    "ERR unknown subcommand 'NODES'",
		{test: "SET", pipeline: 16, target: tRedisAOF}:     "timed out after 3m0s",
		{test: "GET", pipeline: 16, target: tRC3Cluster}:   "x",
		{test: "GET", pipeline: 16, target: tRedisCluster}: "y",
	})
	for _, tc := range []struct {
		test             string
		pipeline         int
		target, baseline string
		fig              func(result) float64
		want             float64
		why              string
	}{
		{test: "GET", pipeline: 1, target: tRC1, baseline: tRedis, fig: rps, want: 0.65},
		{test: "GET", pipeline: 1, target: tRC1, baseline: tRedis, fig: p50, want: 2},
		{test: "GET", pipeline: 1, target: tRC1, baseline: tRedis, fig: p99, want: 1},
		{test: "SET", pipeline: 1, target: tRC3Cluster, baseline: tRedisAOF, fig: rps, why: "failed: ERR unknown subcommand 'NODES'"},
		{test: "SET", pipeline: 16, target: tRC1, baseline: tRedisAOF, fig: rps, why: "redis-aof failed: timed out after 3m0s"},
		{test: "GET", pipeline: 16, target: tRC3Cluster, baseline: tRedisCluster, fig: rps, why: "failed: x"},
	} {
		got, why := rep.ratio(tc.test, tc.pipeline, tc.target, tc.baseline, tc.fig)
		if why != tc.why || (why == "" && math.Abs(got-tc.want) > 1e-9) {
			t.Errorf("ratio(%s -P %d %s/%s) = %v, %q; want %v, %q", tc.test, tc.pipeline, tc.target, tc.baseline, got, why, tc.want, tc.why)
		}
	}
	if n := rep.failures(); n != 4 {
		t.Errorf("failures = %d, want 4", n)
	}
}

func TestMarkdown(t *testing.T) {
	rep := fakeReport(map[runKey]float64{
		{test: "GET", pipeline: 1, target: tRC1}:         650,  // 0.65 < 0.7: not met
		{test: "GET", pipeline: 1, target: tRC3Cluster}:  600,  // exactly 0.6: met
		{test: "GET", pipeline: 1, target: tRC3}:         450,  // shown beside the --cluster figure
		{test: "GET", pipeline: 16, target: tRC1}:        900,  // met
		{test: "SET", pipeline: 16, target: tRC3Cluster}: 2000, // 2.0 against appendfsync always
	}, map[runKey]string{
		{test: "SET", pipeline: 1, target: tRC3Cluster}: "ERR unknown subcommand 'NODES'. Try CLUSTER HELP.|x",
	})
	rep.memory = []*memoryResult{{data: dataset{keys: 1000000, valueSize: 100}, streams: 50,
		redis:     memSample{vmRSS: 100 << 20, rssAnon: 90 << 20, rssFile: 10 << 20, afterLoad: 100 << 20, usedMemory: 80 << 20, settled: true, load: time.Second},
		raftcache: memSample{vmRSS: 160 << 20, rssAnon: 150 << 20, rssFile: 10 << 20, afterLoad: 200 << 20, usedMemory: -1, load: 9 * time.Second}},
		{data: dataset{keys: 100000, fields: 20}, streams: 50,
			redis:     memSample{vmRSS: 100 << 20, rssAnon: 90 << 20, rssFile: 10 << 20, afterLoad: 100 << 20, usedMemory: 80 << 20, settled: true, load: time.Second},
			raftcache: memSample{vmRSS: 110 << 20, rssAnon: 100 << 20, rssFile: 10 << 20, afterLoad: 120 << 20, usedMemory: 90 << 20, settled: true, load: 2 * time.Second}}}
	md := rep.markdown()
	for _, want := range []string{
		"| CPU | Test CPU, 2 cores |",
		"| other processes' CPU use during the benchmarks | 2% of the machine |",
		"| redis-benchmark | -c 50 -r 100000 -n 1000, raised until a run lasts 1s (with --cluster 2.5s); 1 round |",
		"| raftcache, 3 nodes, plain client via n1 | 1000 | 1000 |",
		"| GET -P 1: raftcache, 3 nodes (--cluster) vs Redis Cluster, 3 masters (--cluster) | 0.60 | ≥ 0.85 | not met |",
		"| GET -P 1: raftcache, 3 nodes, plain client via n1 vs Redis Cluster, 3 masters (--cluster) | 0.45 | ≥ 0.60 | not met |",
		"| GET -P 1: raftcache, 1 node vs redis-server, no persistence | 0.65 | ≥ 0.85 | not met |",
		"| GET -P 16: raftcache, 1 node vs redis-server, no persistence | 0.90 | ≥ 0.85 | **met** |",
		"| SET -P 1: raftcache, 3 nodes (--cluster) vs redis-server, appendfsync always | failed: ERR unknown subcommand 'NODES'. Try CLUSTER HELP.\\|x (plain client via n1: 1.00) | ≥ 0.50 | not met |",
		"| SET -P 16: raftcache, 3 nodes (--cluster) vs redis-server, appendfsync always | 2.00 (plain client via n1: 1.00) | ≥ 0.60 | **met** |",
		"| resident memory, 1M keys of 100 bytes: raftcache, 1 node vs redis-server | 1.60 | ≤ 1.20 | not met |",
		"| resident memory, 100k hashes of 20 fields of 10-30 bytes: raftcache, 1 node vs redis-server | 1.10 | ≤ 1.20 | **met** |",
		"| Go GC share of the node's CPU, SET -P 16: raftcache, 1 node | 4.0% | ≤ 5% | **met** |",
		"| SET | 16 | raftcache, 1 node | 4.0% |",
		"| GET | raftcache, 1 node | 1000 | 650 | 2.000 | 4.000 | 0.65 / 0.65 | 2.00 / 2.00 | 1.00 / 1.00 | redis-server, no persistence / redis-server, appendfsync always |",
		"| SET | raftcache, 3 nodes (--cluster) | | failed: ERR unknown subcommand 'NODES'. Try CLUSTER HELP.\\|x | | | | | | |",
		"| GET | Redis Cluster, 3 masters (--cluster) | 1000 | 1000 | 1.000 | 4.000 |  |  |  |  |",
		"| 1M keys of 100 bytes | redis-server, no persistence | 100.0 | 90.0 | 10.0 | 104 B | 80.0 | 100.0 | 1s |  |",
		"| 1M keys of 100 bytes | raftcache, 1 node | 160.0 (still moving) | 150.0 | 10.0 | 167 B | n/a | 200.0 | 9s | 0.0 | 1.60 |",
		"| 100k hashes of 20 fields of 10-30 bytes | raftcache, 1 node | 110.0 | 100.0 | 10.0 | 1153 B | 90.0 | 120.0 | 2s | 0.0 | 1.10 |",
		"- raftcache has no pprof flag, so no CPU profiles were taken.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks\n%s\n--- report:\n%s", want, md)
		}
	}
	// Every table row has as many cells as its header.
	var cols int
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("row has %d separators, header %d: %s", n, cols, line)
		}
	}
}

func TestMarkdownSubset(t *testing.T) {
	// Without the Redis Cluster, the goals that need it are left out
	// rather than reported as failures.
	rep := fakeReport(nil, nil)
	rep.targets = []string{tRedis, tRC1}
	md := rep.markdown()
	if strings.Contains(md, "| Redis Cluster") || strings.Contains(md, "vs Redis Cluster") || strings.Contains(md, "appendfsync always |") {
		t.Errorf("report mentions targets that did not run:\n%s", md)
	}
	if !strings.Contains(md, "| GET -P 1: raftcache, 1 node vs redis-server, no persistence | 1.00 | ≥ 0.85 | **met** |") {
		t.Errorf("report lacks the one-node goal:\n%s", md)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{1000000: "1M", 20000: "20k", 1500: "1500", 7: "7", 2000000: "2M"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMarkdownBusyMachine(t *testing.T) {
	rep := fakeReport(nil, nil)
	if strings.Contains(rep.markdown(), "Warning") {
		t.Error("2% foreign CPU: want no warning")
	}
	if strings.Contains(rep.markdown(), "Smoke test") {
		t.Error("full run: want no smoke-test banner")
	}
	rep.cfg.quick = true
	if !strings.Contains(rep.markdown(), "**Smoke test (-quick):") {
		t.Error("-quick: want the smoke-test banner")
	}
	rep.foreignCPU = 0.35
	if md := rep.markdown(); !strings.Contains(md, "**Warning: other processes kept the CPUs 35% busy during the benchmarks;") {
		t.Errorf("35%% foreign CPU: want a warning\n%s", md)
	}
}

func TestFailoverMarkdown(t *testing.T) {
	f := &failoverResult{steady: time.Minute, changes: []string{"shard1: term 2 (leader n2) → 3 (leader n1) at 12s"},
		kills: []killResult{
			{shard: 0, node: "n1", outage: 900 * time.Millisecond},
			{shard: 1, node: "n2", outage: 1200 * time.Millisecond},
			{shard: 2, node: "n3", outage: 700 * time.Millisecond},
			{shard: 0, node: "n1", err: "no write acknowledged within 30s"},
		}, requests: 1234}
	md := f.markdown()
	for _, want := range []string{
		"Steady run of 1m0s: 1 leader changes.",
		"- shard1: term 2 (leader n2) → 3 (leader n1) at 12s",
		"| 3 | 900ms | 1.2s | 1.2s | 700ms |",
		"| 4 | 0 | n1 | failed: no write acknowledged within 30s |",
		"Requests the load completed meanwhile (in runs that ended cleanly): 1234.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("failover report lacks %q:\n%s", want, md)
		}
	}
}

func TestKeyOfShardFallsInItsShard(t *testing.T) {
	for shard := range raftcacheShards {
		slot := int(store.SlotOf([]byte(keyOfShard(shard))))
		if slot < shard*store.NumSlots/raftcacheShards || slot >= (shard+1)*store.NumSlots/raftcacheShards {
			t.Errorf("keyOfShard(%d) is in slot %d", shard, slot)
		}
	}
}
