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
// redis-server, redis-cli and redis-benchmark (Redis 7: its --csv output
// has latency percentiles) must be on PATH; without them the command says
// so and exits with status 2. It reads /proc, so it runs on Linux. It is a
// command, not a test: `go test ./...` only runs the unit tests of its
// parsing and report code.
package main
