package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/raftcache/raftcache/test/redisoracle"
)

// TestSlowlog checks SLOWLOG through go-redis: what is logged, the
// entries' fields, argument truncation and redaction, the length limit
// and the errors.
func TestSlowlog(t *testing.T) {
	srv, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	// The default threshold (10 ms) logs nothing here.
	c.Set(ctx, "k", "v", 0)
	if n, err := c.Do(ctx, "SLOWLOG", "LEN").Int(); err != nil || n != 0 {
		t.Fatalf("SLOWLOG LEN with the default threshold = %d, %v", n, err)
	}
	if err := c.ConfigSet(ctx, "slowlog-log-slower-than", "0").Err(); err != nil {
		t.Fatal(err)
	}
	c.Do(ctx, "CLIENT", "SETNAME", "me")
	long := strings.Repeat("x", 200)
	c.Set(ctx, "k", long, 0)
	mset := []any{"MSET"}
	for i := range 20 {
		mset = append(mset, "a"+strconv.Itoa(i), "v")
	}
	c.Do(ctx, mset...)
	c.Do(ctx, "AUTH", "nobody", "secret") // refused, but it ran: logged, redacted
	c.Do(ctx, "GET")                      // wrong arity: never ran, not logged

	logs, err := c.SlowLogGet(ctx, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: AUTH, MSET, SET, CLIENT SETNAME, CONFIG SET.
	if len(logs) != 5 {
		t.Fatalf("%d entries, want 5: %+v", len(logs), logs)
	}
	for i, l := range logs {
		if i > 0 && l.ID >= logs[i-1].ID {
			t.Errorf("entry %d id %d not below the newer %d", i, l.ID, logs[i-1].ID)
		}
		if time.Since(l.Time) > time.Minute || l.Duration < 0 || l.ClientAddr == "" {
			t.Errorf("entry %d: %+v", i, l)
		}
	}
	if got := logs[0].Args; fmt.Sprint(got) != "[AUTH (redacted) (redacted)]" {
		t.Errorf("AUTH logged as %q", got)
	}
	if got := logs[1].Args; len(got) != 32 || got[31] != "... (10 more arguments)" || got[29] != "a14" {
		t.Errorf("MSET with 41 arguments logged as %q", got)
	}
	if got := logs[2].Args; len(got) != 3 || got[2] != strings.Repeat("x", 128)+"... (72 more bytes)" {
		t.Errorf("SET of 200 bytes logged as %q", got)
	}
	if logs[2].ClientName != "me" || logs[4].ClientName != "" {
		t.Errorf("client names %q, %q", logs[2].ClientName, logs[4].ClientName)
	}
	if got := logs[4].Args; fmt.Sprint(got) != "[config set slowlog-log-slower-than 0]" {
		t.Errorf("CONFIG SET logged as %q", got)
	}

	if got, _ := c.SlowLogGet(ctx, 2).Result(); len(got) != 2 {
		t.Errorf("SLOWLOG GET 2 gave %d entries", len(got))
	}
	if got, _ := c.Do(ctx, "SLOWLOG", "GET").Slice(); len(got) != 7 { // the two GETs were logged
		t.Errorf("SLOWLOG GET gave %d entries, want 7", len(got))
	}
	for _, bad := range [][]any{{"SLOWLOG", "GET", "-2"}, {"SLOWLOG", "GET", "x"}} {
		if err := c.Do(ctx, bad...).Err(); err == nil || err.Error() != "ERR count should be greater than or equal to -1" {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if err := c.Do(ctx, "SLOWLOG", "GET", "1", "2").Err(); err == nil ||
		err.Error() != "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP." {
		t.Errorf("SLOWLOG GET 1 2: %v", err)
	}
	c.ConfigSet(ctx, "slowlog-max-len", "3")
	c.Ping(ctx)
	if n, _ := c.Do(ctx, "SLOWLOG", "LEN").Int(); n != 3 {
		t.Errorf("SLOWLOG LEN after slowlog-max-len 3 = %d", n)
	}
	c.Do(ctx, "SLOWLOG", "RESET")
	if n, _ := c.Do(ctx, "SLOWLOG", "LEN").Int(); n != 1 { // the RESET itself, as Redis
		t.Errorf("SLOWLOG LEN after RESET = %d, want 1", n)
	}
	c.ConfigSet(ctx, "slowlog-log-slower-than", "-1")
	c.Do(ctx, "SLOWLOG", "RESET")
	c.Ping(ctx)
	if n, _ := c.Do(ctx, "SLOWLOG", "LEN").Int(); n != 0 {
		t.Errorf("SLOWLOG LEN with the log off = %d", n)
	}
}

// TestLatencyMonitor checks LATENCY LATEST, HISTORY, RESET and DOCTOR
// over commands made slow with DEBUG SLEEP and a log-sync event.
func TestLatencyMonitor(t *testing.T) {
	srv, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	if s, _ := c.Do(ctx, "LATENCY", "DOCTOR").Text(); !strings.Contains(s, "monitor is off") {
		t.Errorf("DOCTOR with the monitor off: %q", s)
	}
	if err := c.ConfigSet(ctx, "latency-monitor-threshold", "10").Err(); err != nil {
		t.Fatal(err)
	}
	c.Do(ctx, "DEBUG", "SLEEP", "0")
	if got, _ := c.Do(ctx, "LATENCY", "LATEST").Slice(); len(got) != 0 {
		t.Fatalf("LATEST after a fast command = %v", got)
	}
	start := time.Now()
	c.Do(ctx, "DEBUG", "SLEEP", "0.03")
	if took := time.Since(start); took < 30*time.Millisecond {
		t.Fatalf("DEBUG SLEEP 0.03 took %v", took)
	}
	srv.LatencyEvent(EventLogSync, 25*time.Millisecond)
	srv.LatencyEvent(EventLogSync, 5*time.Millisecond) // under the threshold
	latest, err := c.Do(ctx, "LATENCY", "LATEST").Slice()
	if err != nil || len(latest) != 2 {
		t.Fatalf("LATEST = %v, %v", latest, err)
	}
	cmd := latest[0].([]any)
	if cmd[0] != "command" || cmd[2].(int64) < 30 || cmd[3].(int64) != cmd[2].(int64) || time.Since(time.Unix(cmd[1].(int64), 0)) > time.Minute {
		t.Errorf("LATEST command = %v", cmd)
	}
	if sync := latest[1].([]any); sync[0] != EventLogSync || sync[2].(int64) != 25 {
		t.Errorf("LATEST raft-log-sync = %v", sync)
	}
	hist, err := c.Do(ctx, "LATENCY", "HISTORY", "command").Slice()
	if err != nil || len(hist) != 1 || hist[0].([]any)[1].(int64) < 30 {
		t.Errorf("HISTORY command = %v, %v", hist, err)
	}
	if h, _ := c.Do(ctx, "LATENCY", "HISTORY", "nosuch").Slice(); len(h) != 0 {
		t.Errorf("HISTORY nosuch = %v", h)
	}
	doc, _ := c.Do(ctx, "LATENCY", "DOCTOR").Text()
	for _, want := range []string{"1. command: 1 latency spikes", "2. raft-log-sync: 1 latency spikes", "SLOWLOG", "--fsync everysec"} {
		if !strings.Contains(doc, want) {
			t.Errorf("DOCTOR lacks %q:\n%s", want, doc)
		}
	}
	if n, _ := c.Do(ctx, "LATENCY", "RESET", "command", "nosuch").Int(); n != 1 {
		t.Errorf("RESET command nosuch = %d, want 1", n)
	}
	if n, _ := c.Do(ctx, "LATENCY", "RESET").Int(); n != 1 {
		t.Errorf("RESET = %d, want 1", n)
	}
	if err := c.Do(ctx, "LATENCY", "GRAPH", "command").Err(); err == nil || !strings.Contains(err.Error(), "unknown subcommand 'GRAPH'") {
		t.Errorf("LATENCY GRAPH: %v", err)
	}
	if err := c.ConfigSet(ctx, "latency-monitor-threshold", "-1").Err(); err == nil ||
		!strings.Contains(err.Error(), "argument must be between 0 and 9223372036854775807 inclusive") {
		t.Errorf("CONFIG SET latency-monitor-threshold -1: %v", err)
	}
}

// TestLatencyStats checks INFO latencystats, its percentiles parameter and
// LATENCY HISTOGRAM.
func TestLatencyStats(t *testing.T) {
	srv, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	for range 10 {
		c.Set(ctx, "k", "v", 0)
	}
	c.Do(ctx, "CONFIG", "GET", "x")
	info, _ := c.Info(ctx, "latencystats").Result()
	line := regexp.MustCompile(`latency_percentiles_usec_set:p50=(\d+\.\d{3}),p99=(\d+\.\d{3}),p99\.9=(\d+\.\d{3})\r\n`)
	m := line.FindStringSubmatch(info)
	if m == nil || !strings.Contains(info, "latency_percentiles_usec_config|get:p50=") {
		t.Fatalf("INFO latencystats:\n%s", info)
	}
	p50, _ := strconv.ParseFloat(m[1], 64)
	p999, _ := strconv.ParseFloat(m[3], 64)
	if p50 <= 0 || p999 < p50 {
		t.Errorf("percentiles %v", m[1:])
	}
	if err := c.ConfigSet(ctx, "latency-tracking-info-percentiles", "1e1 050.50 100").Err(); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.ConfigGet(ctx, "latency-tracking-info-percentiles").Result(); v["latency-tracking-info-percentiles"] != "10 50.5 100" {
		t.Errorf("CONFIG GET percentiles = %v", v)
	}
	info, _ = c.Info(ctx, "latencystats").Result()
	if !regexp.MustCompile(`latency_percentiles_usec_set:p10=[\d.]+,p50\.5=[\d.]+,p100=[\d.]+\r\n`).MatchString(info) {
		t.Errorf("INFO latencystats with 10 50.5 100:\n%s", info)
	}
	for v, want := range map[string]string{
		"101": "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]",
		"abc": "Invalid latency-tracking-info-percentiles parameters",
	} {
		if err := c.ConfigSet(ctx, "latency-tracking-info-percentiles", v).Err(); err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("percentiles %q: %v", v, err)
		}
	}

	h, err := c.Do(ctx, "LATENCY", "HISTOGRAM", "set", "nosuch", "SET").Slice()
	if err != nil || len(h) != 2 || h[0] != "set" {
		t.Fatalf("LATENCY HISTOGRAM set = %v, %v", h, err)
	}
	body := h[1].([]any)
	if body[0] != "calls" || body[1].(int64) != 10 || body[2] != "histogram_usec" {
		t.Fatalf("histogram of set = %v", body)
	}
	cdf := body[3].([]any)
	last, prevBound, prevCount := int64(0), int64(0), int64(0)
	for i := 0; i < len(cdf); i += 2 {
		bound, count := cdf[i].(int64), cdf[i+1].(int64)
		if bound <= prevBound || count <= prevCount {
			t.Errorf("histogram point %d: %d → %d after %d → %d", i/2, bound, count, prevBound, prevCount)
		}
		prevBound, prevCount, last = bound, count, count
	}
	if last != 10 {
		t.Errorf("the histogram ends at %d calls, want 10: %v", last, cdf)
	}
	if all, _ := c.Do(ctx, "LATENCY", "HISTOGRAM").Slice(); len(all) < 4 {
		t.Errorf("LATENCY HISTOGRAM answered %d commands", len(all)/2)
	}

	c.ConfigSet(ctx, "latency-tracking", "no")
	c.ConfigResetStat(ctx)
	c.Set(ctx, "k", "v", 0)
	if info, _ := c.Info(ctx, "latencystats").Result(); info != "# Latencystats\r\n" {
		t.Errorf("INFO latencystats with tracking off:\n%s", info)
	}
}

// TestRaftInfoAndReadiness checks INFO raft, CLUSTER INFO's readiness and
// the byte counters.
func TestRaftInfoAndReadiness(t *testing.T) {
	srv, b := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	info, err := c.Info(ctx, "raft").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Raft\r\n", "raft_ready:1\r\n", "raft_log_store:wal\r\n", "raft_log_syncs:1\r\n",
		"raft_log_sync_latency_usec:p50=", "shard0:state=leader,leader=fake,", ",lag_entries=0,lag_seconds=0.000,",
		"shard2:", ",apply_latency_usec=p50=0.000|p99=0.000|p99.9=0.000\r\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO raft lacks %q:\n%s", want, info)
		}
	}
	if ci, _ := c.ClusterInfo(ctx).Result(); !strings.Contains(ci, "raftcache_ready:1\r\n") || strings.Contains(ci, "reason") {
		t.Errorf("CLUSTER INFO:\n%s", ci)
	}
	if ok, why := srv.Ready(); !ok || why != "" {
		t.Errorf("Ready() = %v, %q", ok, why)
	}
	b.setCluster(nil, []string{"fake", "other", "fake"})
	b.mu.Lock()
	b.lag = 5000
	b.mu.Unlock()
	ci, _ := c.ClusterInfo(ctx).Result()
	if !strings.Contains(ci, "cluster_state:ok\r\n") || !strings.Contains(ci, "raftcache_ready:0\r\n") ||
		!strings.Contains(ci, "raftcache_ready_reason:shard 1: this replica is 5000 entries behind its leader other\r\n") {
		t.Errorf("CLUSTER INFO of a lagging replica:\n%s", ci)
	}
	if ok, why := srv.Ready(); ok || !strings.Contains(why, "5000 entries") {
		t.Errorf("Ready() = %v, %q", ok, why)
	}

	stats, _ := c.Info(ctx, "stats").Result()
	in := regexp.MustCompile(`total_net_input_bytes:(\d+)`).FindStringSubmatch(stats)
	out := regexp.MustCompile(`total_net_output_bytes:(\d+)`).FindStringSubmatch(stats)
	if in == nil || out == nil || in[1] == "0" || out[1] == "0" {
		t.Errorf("byte counters in INFO stats:\n%s", stats)
	}
}

// TestConfigRewrite checks CONFIG REWRITE with and without a file, and
// that parameters given at start are applied and checked.
func TestConfigRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raftcache.conf")
	if err := os.WriteFile(path, []byte("# mine\nslowlog-max-len 50\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Addr: "127.0.0.1:0", ConfigFile: path,
		Params: []Param{{"slowlog-max-len", "50"}, {"latency-monitor-threshold", "7"}}}, newFakeBackend(1), zaptest.NewLogger(t))
	serveInTest(t, srv)
	c := newClient(t, srv, 2)
	ctx := t.Context()
	if v, _ := c.ConfigGet(ctx, "latency-monitor-threshold").Result(); v["latency-monitor-threshold"] != "7" {
		t.Fatalf("latency-monitor-threshold from the start parameters = %v", v)
	}
	if info, _ := c.Info(ctx, "server").Result(); !strings.Contains(info, "config_file:"+path+"\r\n") {
		t.Errorf("INFO server lacks config_file:%s", path)
	}
	c.ConfigSet(ctx, "slowlog-max-len", "64")
	c.ConfigSet(ctx, "hash-max-listpack-entries", "7") // not an option of the file: not written
	if err := c.ConfigRewrite(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	want := "# mine\nslowlog-max-len 64\n# Generated by CONFIG REWRITE\nlatency-monitor-threshold 7\n"
	if string(data) != want {
		t.Fatalf("rewritten file:\n%s\nwant:\n%s", data, want)
	}
	os.Remove(path)
	if err := c.ConfigRewrite(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR Rewriting config file: ") {
		t.Errorf("CONFIG REWRITE without its file: %v", err)
	}

	plain, _ := startServer(t)
	if err := newClient(t, plain, 2).ConfigRewrite(ctx).Err(); err == nil ||
		err.Error() != "ERR The server is running without a config file" {
		t.Errorf("CONFIG REWRITE without a config file: %v", err)
	}
	bad := New(Config{Addr: "127.0.0.1:0", Params: []Param{{"slowlog-max-len", "-1"}}}, newFakeBackend(1), zaptest.NewLogger(t))
	if err := bad.Listen(); err == nil || !strings.Contains(err.Error(), "slowlog-max-len") {
		t.Errorf("Listen with a bad parameter: %v", err)
	}
}

// TestSlowlogAndLatencyMatchRedis runs the same sessions against a live
// redis-server and raftcache and compares the replies' shapes: the same
// types and nesting, the same strings, integers (ids, times, durations)
// and client addresses masked.
func TestSlowlogAndLatencyMatchRedis(t *testing.T) {
	redisAddr := redisoracle.Start(t, "--enable-debug-command", "local")
	srv, _ := startServer(t)
	sessions := [][]string{
		{"CONFIG SET slowlog-log-slower-than 0", "CLIENT SETNAME oracle", "SET k v", "SLOWLOG GET 2", "SLOWLOG LEN",
			"SLOWLOG GET 0", "SLOWLOG RESET", "SLOWLOG LEN", "SLOWLOG GET -2", "SLOWLOG GET 1 2", "SLOWLOG HELP",
			"HELLO 3", "SET k v", "SLOWLOG GET 1", "CONFIG SET slowlog-log-slower-than 10000"},
		{"CONFIG SET latency-monitor-threshold 10", "LATENCY LATEST", "DEBUG SLEEP 0.02", "LATENCY LATEST",
			"LATENCY HISTORY command", "LATENCY HISTORY nosuch", "LATENCY HISTORY", "LATENCY RESET nosuch",
			"LATENCY RESET command", "LATENCY RESET", "LATENCY LATEST", "LATENCY HISTOGRAM nosuch",
			"HELLO 3", "DEBUG SLEEP 0.02", "LATENCY LATEST", "LATENCY HISTORY command", "LATENCY HISTOGRAM nosuch",
			"CONFIG SET latency-monitor-threshold 0", "DEBUG sleep"},
	}
	for _, session := range sessions {
		want := runSession(t, redisAddr, session)
		got := runSession(t, srv.Addr().String(), session)
		for i := range session {
			// HELLO's version and mode differ on purpose; it only switches
			// the protocol here.
			if got[i] != want[i] && !strings.HasPrefix(session[i], "HELLO") {
				t.Errorf("%s:\n raftcache %s\n redis     %s", session[i], got[i], want[i])
			}
		}
	}
}

// runSession sends each command on one connection and returns each
// reply's shape.
func runSession(t *testing.T, addr string, cmds []string) []string {
	t.Helper()
	conn, err := redisoracle.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out []string
	for _, cmd := range cmds {
		raw, err := conn.Do(strings.Fields(cmd)...)
		if err != nil {
			t.Fatalf("%s on %s: %v", cmd, addr, err)
		}
		out = append(out, replyShape(bufio.NewReader(bytes.NewReader(raw))))
	}
	return out
}

var loopbackAddr = regexp.MustCompile(`^127\.0\.0\.1:\d+$`)

// replyShape prints a reply with integers as # and loopback addresses
// as ADDR.
func replyShape(r *bufio.Reader) string {
	line, err := r.ReadString('\n')
	if err != nil || len(line) < 3 {
		return "?"
	}
	kind, body := line[0], strings.TrimSuffix(line[1:], "\r\n")
	switch kind {
	case ':':
		return "#"
	case '+', '-':
		return string(kind) + body
	case '$', '=':
		n, _ := strconv.Atoi(body)
		if n < 0 {
			return "$nil"
		}
		data := make([]byte, n+2)
		_, _ = io.ReadFull(r, data)
		s := string(data[:n])
		if loopbackAddr.MatchString(s) {
			s = "ADDR"
		}
		return string(kind) + strconv.Quote(s)
	case '*', '%', '~':
		n, _ := strconv.Atoi(body)
		if kind == '%' {
			n *= 2
		}
		parts := make([]string, n)
		for i := range parts {
			parts[i] = replyShape(r)
		}
		return string(kind) + "[" + strings.Join(parts, " ") + "]"
	}
	return string(kind) + body
}
