// Command bench compares raftcache with Redis on the machine it runs on:
//
//	go run ./test/bench            # full run, a few minutes on 2 cores
//	go run ./test/bench -quick     # smoke test, well under a minute
//
// It builds raftcache from the module it runs in, then starts on 127.0.0.1
// (free ports, a temporary directory on the default temp file system):
// redis-server without persistence, redis-server with appendfsync always, a
// 3-master Redis Cluster, one raftcache node and a 3-node raftcache
// cluster. It runs the same redis-benchmark workload against each (SET,
// GET, INCR, HSET; -P 1 and -P 16; the raftcache cluster once through one
// node as a plain client and once with --cluster; only -n grows until a
// run lasts long enough to time), one test at a time with the targets
// taken in turn, so that a change in the machine's speed during the run
// hits every target alike. It then loads the same keys with
// `redis-cli --pipe` into a fresh redis-server and a fresh raftcache node
// and compares their resident memory (VmRSS).
//
// The report, a markdown table with every raftcache figure also given as a
// ratio to its Redis counterpart and the performance targets marked met or
// not met, goes to standard output and to test/bench/results/latest.md
// (the raw redis-benchmark output beside it, as latest.raw). A target that
// fails (raftcache refusing --cluster, say) is reported as "failed: reason"
// and the run goes on.
//
// Three flags run something else instead of the comparison, each writing
// its own report under test/bench/results/: -failover and -steady
// (failover.md: leader kills and leader changes of a loaded 3-node
// cluster), -eviction (eviction.md: hit ratio and memory under maxmemory)
// and -xtx:
//
//	go run ./test/bench -xtx 2000          # a few minutes on 2 cores
//	go run ./test/bench -xtx 200 -quick    # smoke test, about 30 s
//
// -xtx N measures the latency of cross-shard commands, which raftcache runs
// as a two-phase commit over the shards' Raft groups, against their
// single-shard counterparts: SET, GET, a 2-key MSET, a RENAME and a
// MULTI/EXEC of two INCRBYs, with keys chosen by slot to fall in two shards
// or (hash tag) in one. A 3-node cluster (reached through n1) and a
// redis-server with appendfsync as -fsync get the same calls from go-redis
// plain clients, N per command at 1 client and at 16 clients with a
// connection each, in -rounds rounds (3 by default here) that take the two
// servers in alternating order. Every call is timed; the report
// (results/xtx.md) gives p50/p90/p99 from the sorted samples (the median
// over the rounds), ratios to redis-server and to raftcache's SET, and
// whether a cross-shard MSET and RENAME stay within 3× a SET's p50.
//
// redis-server, redis-cli and redis-benchmark (Redis 7: its --csv output
// has latency percentiles) must be on PATH; without them the command says
// so and exits with status 2. It reads /proc, so it runs on Linux. It is a
// command, not a test: `go test ./...` only runs the unit tests of its
// parsing and report code.
package main
