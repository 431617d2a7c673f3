package main

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftcache/raftcache/test/redisoracle"
)

const csv7 = `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","48780.49","0.674","0.096","0.647","1.103","1.463","2.991"
"GET","59347.18","0.550","0.112","0.543","0.815","1.167","1.847"
`

func TestParseCSV(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name    string
		out     string
		want    map[string]result
		wantErr bool
	}{
		{name: "redis 7", out: csv7, want: map[string]result{
			"SET": {rps: 48780.49, p50: 0.647, p99: 1.463},
			"GET": {rps: 59347.18, p50: 0.543, p99: 1.167},
		}},
		{name: "--cluster preamble", out: "Cluster has 3 master nodes:\n\nMaster 0: 387c 127.0.0.1:44251\n\n" +
			`"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"` + "\n" +
			`"INCR","7968.13","0.618","0.040","0.439","1.791","3.215","9.615"` + "\n",
			want: map[string]result{"INCR": {rps: 7968.13, p50: 0.439, p99: 3.215}}},
		{name: "CRLF and progress overwritten by the result", out: "\"test\",\"rps\",\"p50_latency_ms\",\"p99_latency_ms\"\r\n" +
			"SET: rps=0.0 (overall: 0.0)\r\"SET\",\"1000.00\",\"2.5\",\"9\"\r\n",
			want: map[string]result{"SET": {rps: 1000, p50: 2.5, p99: 9}}},
		{name: "redis 6: no header, no latencies", out: "\"SET\",\"48780.49\"\n\"HSET\",\"100.5\"\n",
			want: map[string]result{"SET": {rps: 48780.49, p50: nan, p99: nan}, "HSET": {rps: 100.5, p50: nan, p99: nan}}},
		{name: "lower-case test name", out: "\"test\",\"rps\"\n\"hset\",\"12\"\n",
			want: map[string]result{"HSET": {rps: 12, p50: nan, p99: nan}}},
		{name: "no CSV", out: "Error from server: WRONGTYPE Operation\n", wantErr: true},
		{name: "empty", out: "", wantErr: true},
		{name: "not a number", out: "\"test\",\"rps\"\n\"SET\",\"fast\"\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCSV(tc.out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d rows %v, want %d", len(got), got, len(tc.want))
			}
			for name, w := range tc.want {
				g, ok := got[name]
				if !ok {
					t.Fatalf("no row %s in %v", name, got)
				}
				if !sameFloat(g.rps, w.rps) || !sameFloat(g.p50, w.p50) || !sameFloat(g.p99, w.p99) || !g.ok() {
					t.Errorf("%s = %+v, want %+v", name, g, w)
				}
			}
		})
	}
}

func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

func TestFailureReason(t *testing.T) {
	for _, tc := range []struct {
		name, stdout, stderr, want string
	}{
		{name: "cluster config refused",
			stderr: "Cluster node 127.0.0.1:16999 replied with error:\nERR This instance has cluster support disabled\nFailed to fetch cluster configuration from 127.0.0.1:16999\n",
			want:   "ERR This instance has cluster support disabled: Failed to fetch cluster configuration from 127.0.0.1:16999"},
		{name: "error reply, repeated lines once",
			stderr: "Error from server: WRONGTYPE Operation\nError from server: WRONGTYPE Operation\n",
			want:   "Error from server: WRONGTYPE Operation"},
		{name: "stdout when stderr is empty", stdout: csv7 + "Could not connect to Redis at 127.0.0.1:1: Connection refused\n",
			want: "Could not connect to Redis at 127.0.0.1:1: Connection refused"},
		{name: "progress line keeps its last state", stderr: "SET: rps=0.0\rSET: rps=12.0\r\n", want: "SET: rps=12.0"},
		{name: "nothing", want: ""},
		{name: "long line is cut", stderr: strings.Repeat("x", 300), want: strings.Repeat("x", 197) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := failureReason(tc.stdout, tc.stderr); got != tc.want {
				t.Errorf("failureReason = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name     string
		runs     []result
		want     result
		wantNote string
	}{
		{name: "one", runs: []result{{rps: 10, p50: 1, p99: 2}}, want: result{rps: 10, p50: 1, p99: 2}},
		{name: "odd count: middle of each figure separately",
			runs: []result{{rps: 30, p50: 1, p99: 9}, {rps: 10, p50: 3, p99: 7}, {rps: 20, p50: 2, p99: 8}},
			want: result{rps: 20, p50: 2, p99: 8}},
		{name: "even count: mean of the middle two",
			runs: []result{{rps: 10, p50: 1, p99: 4}, {rps: 20, p50: 3, p99: 6}},
			want: result{rps: 15, p50: 2, p99: 5}},
		{name: "failed rounds are left out and noted",
			runs:     []result{{err: "timed out"}, {rps: 10, p50: 1, p99: 2}},
			want:     result{rps: 10, p50: 1, p99: 2},
			wantNote: "1 of 2 rounds failed: timed out"},
		{name: "all failed: the first reason", runs: []result{{err: "a"}, {err: "b"}}, want: result{err: "a"}},
		{name: "not run", want: result{err: "not run"}},
		{name: "no latencies", runs: []result{{rps: 5, p50: nan, p99: nan}}, want: result{rps: 5, p50: nan, p99: nan}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(tc.runs)
			if got.err != tc.want.err || (got.ok() && (!sameFloat(got.rps, tc.want.rps) ||
				!sameFloat(got.p50, tc.want.p50) || !sameFloat(got.p99, tc.want.p99))) {
				t.Errorf("summarize = %+v, want %+v", got, tc.want)
			}
			if got.note != tc.wantNote {
				t.Errorf("note = %q, want %q", got.note, tc.wantNote)
			}
		})
	}
}

func TestBenchmarkArgs(t *testing.T) {
	got := strings.Join(benchmarkArgs("127.0.0.1:7001", true, "get", 16, 1000, 50, 100000), " ")
	want := "-h 127.0.0.1 -p 7001 -c 50 -r 100000 -n 1000 -P 16 -t get --csv --cluster"
	if got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
}

func TestParseProcStatus(t *testing.T) {
	status := "Name:\tredis-server\nVmPeak:\t  200000 kB\nVmRSS:\t   15976 kB\nRssAnon:\t    6528 kB\nRssFile:\t    9448 kB\nThreads:\t5\n"
	s, err := parseProcStatus(status)
	if err != nil {
		t.Fatal(err)
	}
	if s.vmRSS != 15976*1024 || s.rssAnon != 6528*1024 || s.rssFile != 9448*1024 {
		t.Errorf("parsed %+v", s)
	}
	if _, err := parseProcStatus("Name:\tx\n"); err == nil {
		t.Error("no VmRSS: want an error")
	}
	if _, err := parseProcStatus("VmRSS:\t12 MB\n"); err == nil {
		t.Error("unit other than kB: want an error")
	}
}

func TestParsePipeSummary(t *testing.T) {
	out := "All data transferred. Waiting for the last reply...\nLast reply received from server.\nerrors: 2, replies: 1000000\n"
	e, r, err := parsePipeSummary(out)
	if err != nil || e != 2 || r != 1000000 {
		t.Errorf("parsePipeSummary = %d, %d, %v", e, r, err)
	}
	if _, _, err := parsePipeSummary("Could not connect to Redis at 127.0.0.1:1: Connection refused\n"); err == nil {
		t.Error("no summary: want an error")
	}
}

// TestWriteSetCommands reads the generated stream back as RESP.
func TestWriteSetCommands(t *testing.T) {
	var b bytes.Buffer
	if err := writeSetCommands(&b, 98, 1002, 100); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&b)
	seen := map[string]bool{}
	for i := 98; i < 1002; i++ {
		raw, err := redisoracle.ReadReply(r)
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		parts := strings.Split(string(raw), "\r\n")
		// *3 $3 SET $n key $100 value ""
		if len(parts) != 8 || parts[2] != "SET" || parts[4] != "key:"+strconv.Itoa(i) || len(parts[6]) != 100 {
			t.Fatalf("command %d = %q", i, raw)
		}
		if seen[parts[6]] {
			t.Fatalf("value of key %d repeats", i)
		}
		seen[parts[6]] = true
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("trailing bytes after the last command")
	}
}

func TestShardLeaders(t *testing.T) {
	info := "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
		"shard0:slots=0-5460,state=leader,leader=n1,term=2,commit_index=5\r\n" +
		"shard1:slots=5461-10922,state=follower,leader=n2,term=3,commit_index=5\r\n" +
		"shard2:slots=10923-16383,state=follower,leader=n3,term=2,commit_index=5\r\n"
	leaders := shardLeaders(info)
	if len(leaders) != 3 || leaders["shard1"] != "n2" {
		t.Fatalf("shardLeaders = %v", leaders)
	}
	if !balanced(leaders, []string{"n1", "n2", "n3"}) {
		t.Error("one shard per node: want balanced")
	}
	leaders["shard2"] = "n1"
	if balanced(leaders, []string{"n1", "n2", "n3"}) {
		t.Error("n1 leads two shards: want unbalanced")
	}
	if balanced(map[string]string{}, []string{"n1"}) {
		t.Error("no shards: want unbalanced")
	}
}

func TestMachineParsers(t *testing.T) {
	if got := cpuModel("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := cpuModel("processor\t: 0\n"); got != "" {
		t.Errorf("cpuModel without a model = %q", got)
	}
	if got := redisVersion("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0\n"); got != "7.0.15" {
		t.Errorf("redisVersion = %q", got)
	}
	mounts := "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\ntmpfs /tmpfoo tmpfs rw 0 0\nproc /proc proc rw 0 0\n"
	for path, want := range map[string]string{"/tmp/raftcache-bench-1": "tmpfs", "/tmp": "tmpfs", "/tmpx/a": "ext4", "/work/main": "ext4"} {
		if got := fsOf(mounts, path); got != want {
			t.Errorf("fsOf(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-quick", "-requests", "500"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.requests != 500 || c.memKeys != 20000 || c.minRun != 250*time.Millisecond || c.minClusterRun != 500*time.Millisecond {
		t.Errorf("-quick with -requests 500: %+v", c)
	}
	c, err = parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.memKeys != 1000000 || len(c.pipelines) != 2 || c.pipelines[1] != 16 || len(c.targets) != len(targetOrder) ||
		strings.Join(c.tests, ",") != "set,get,incr,hset" {
		t.Errorf("defaults: %+v", c)
	}
	for _, bad := range [][]string{
		{"-targets", "redis,memcached"},
		{"-pipelines", "1,x"},
		{"-pipelines", "0"},
		{"-rounds", "0"},
		{"-tests", ""},
		{"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): want an error", bad)
		}
	}
}

func TestStable(t *testing.T) {
	for _, tc := range []struct {
		samples []int64
		want    bool
	}{
		{samples: []int64{100, 100, 100}, want: false}, // too few
		{samples: []int64{500, 100, 100, 101, 99}, want: true},
		{samples: []int64{100, 100, 100, 90}, want: false},
		{samples: []int64{100, 99, 100, 98}, want: true},
		{samples: []int64{98, 100, 100, 100}, want: true},
		{samples: []int64{97, 100, 100, 100}, want: false},
	} {
		if got := stable(tc.samples, 3, 0.02); got != tc.want {
			t.Errorf("stable(%v) = %v, want %v", tc.samples, got, tc.want)
		}
	}
}

func TestCPUTicks(t *testing.T) {
	stat := "4242 (redis server) S 1 4242 4242 0 -1 4194560 1234 0 0 0 731 269 5 7 20 0 5 0 123 456 789\n"
	if n, err := cpuTicks(stat, false); err != nil || n != 1000 {
		t.Errorf("cpuTicks = %d, %v; want 1000", n, err)
	}
	if n, err := cpuTicks(stat, true); err != nil || n != 1012 {
		t.Errorf("cpuTicks with children = %d, %v; want 1012", n, err)
	}
	if _, err := cpuTicks("4242 (x) S 1 2\n", false); err == nil {
		t.Error("short stat: want an error")
	}
	if _, err := cpuTicks("garbage", false); err == nil {
		t.Error("no name: want an error")
	}
}

func TestMachineTicks(t *testing.T) {
	busy, total, err := machineTicks("cpu  100 5 50 1000 20 3 2 10 7 0\ncpu0 50 2 25 500 10 1 1 5 3 0\n")
	if err != nil || busy != 170 || total != 1190 {
		t.Errorf("machineTicks = %d, %d, %v; want 170, 1190", busy, total, err)
	}
	if _, _, err := machineTicks("intr 1 2 3\n"); err == nil {
		t.Error("no cpu line: want an error")
	}
}

func TestForeignShare(t *testing.T) {
	a := cpuSnapshot{busy: 1000, total: 5000, ours: 400}
	b := cpuSnapshot{busy: 1800, total: 7000, ours: 1000} // 800 busy, 600 ours
	if got := foreignShare(a, b); math.Abs(got-0.1) > 1e-9 {
		t.Errorf("foreignShare = %v, want 0.1", got)
	}
	b.ours = 1300 // more than the machine was busy: rounding, not negative
	if got := foreignShare(a, b); got != 0 {
		t.Errorf("foreignShare = %v, want 0", got)
	}
	if got := foreignShare(a, a); !math.IsNaN(got) {
		t.Errorf("foreignShare over no time = %v, want NaN", got)
	}
}

func TestParsePprofFlag(t *testing.T) {
	for _, tc := range []struct {
		help      string
		name      string
		takesAddr bool
	}{
		{help: "Usage of raftcache:\n  -addr string\n    \tclient address\n  -timeout int\n", name: ""},
		{help: "  -peers string\n    \tmembers\n  -pprof string\n    \tserve net/http/pprof on this address\n", name: "pprof", takesAddr: true},
		{help: "  -pprof-addr string\n    \taddress\n", name: "pprof-addr", takesAddr: true},
		{help: "  -pprof\n    \tserve pprof on the client port\n", name: "pprof"},
	} {
		name, takesAddr := parsePprofFlag(tc.help)
		if name != tc.name || takesAddr != tc.takesAddr {
			t.Errorf("parsePprofFlag(%q) = %q, %v; want %q, %v", tc.help, name, takesAddr, tc.name, tc.takesAddr)
		}
	}
}

func TestRaise(t *testing.T) {
	for _, tc := range []struct {
		n                int
		seconds, minSecs float64
		want             int
	}{
		{n: 100000, seconds: 0.25, minSecs: 2.5, want: 1300000},
		{n: 1000000, seconds: 1, minSecs: 2.5, want: 4000000},
		{n: 20000, seconds: 0.5, minSecs: 1, want: 60000},
		{n: 20000, seconds: 0.03, minSecs: 1, want: 880000},
		{n: 100000, seconds: 2.5, minSecs: 2.5, want: 0},
		{n: 100000, seconds: 0.25, minSecs: 0, want: 0},
		{n: 40000000, seconds: 0.25, minSecs: 2.5, want: maxRequests},
		{n: maxRequests, seconds: 0.25, minSecs: 2.5, want: 0},
	} {
		if got := raise(tc.n, tc.seconds, tc.minSecs); got != tc.want {
			t.Errorf("raise(%d, %v, %v) = %d, want %d", tc.n, tc.seconds, tc.minSecs, got, tc.want)
		}
	}
}

func TestFsyncAndExtraArgsLabelTheTargets(t *testing.T) {
	c, err := parseFlags([]string{"-fsync", "everysec", "-raftcache-args", "--log-store bolt"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.label(tRedisAOF); got != "redis-server, appendfsync everysec" {
		t.Errorf("AOF label = %q", got)
	}
	if got := c.label(tRC1); got != "raftcache, 1 node (--fsync everysec --log-store bolt)" {
		t.Errorf("raftcache label = %q", got)
	}
	if got := c.label(tRedis); got != "redis-server, no persistence" {
		t.Errorf("redis label = %q", got)
	}
	if _, err := parseFlags([]string{"-fsync", "no"}, io.Discard); err == nil {
		t.Error("-fsync no was accepted")
	}
}
