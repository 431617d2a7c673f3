package metrics

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftcache/raftcache/internal/freeport"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/internal/hist"
	"github.com/raftcache/raftcache/server"
)

func freeAddr(t *testing.T) string { return freeport.MustAddr(t) }

// startNode runs a one-node cluster with shards shards and its client
// server; closeNode closes the node early (once).
func startNode(t *testing.T, shards int) (node *cluster.Node, srv *server.Server, closeNode func()) {
	t.Helper()
	log := zaptest.NewLogger(t)
	var err error
	node, err = cluster.Open(cluster.Config{
		NodeID: "n1", Addr: "127.0.0.1:0", ClusterAddr: freeAddr(t), Dir: t.TempDir(), Shards: shards,
		HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond, LeaderLeaseTimeout: 100 * time.Millisecond,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	closeNode = sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := node.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(closeNode)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := node.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	srv = server.New(server.Config{Addr: "127.0.0.1:0", Version: "test"}, server.NodeBackend{Node: node}, log)
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Error(err)
		}
		<-done
	})
	return node, srv, closeNode
}

// families gathers reg's metrics by name.
func families(t *testing.T, reg prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// find returns the metric of family name whose labels include want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) *dto.Metric {
	t.Helper()
	mf := fams[name]
	if mf == nil {
		t.Fatalf("no metric family %s", name)
	}
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s with labels %v", name, want)
	return nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return 0
}

// TestMetricsOfOneNode checks the metrics of a running node against what
// it did and what its shards report, and lints their names.
func TestMetricsOfOneNode(t *testing.T) {
	node, srv, _ := startNode(t, 2)
	// Before the commands, so that raft's go-metrics of their commits
	// reach it.
	reg, err := Registry(srv, node, "test")
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr().String()})
	defer c.Close()
	ctx := t.Context()
	for i := range 10 {
		if err := c.Set(ctx, "k"+strconv.Itoa(i), "v", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Get(ctx, "k1")
	c.Incr(ctx, "k1") // ERR: not an integer
	c.Do(ctx, "GET")  // refused: arity
	c.Do(ctx, "CONFIG", "GET", "maxclients")
	if err := c.MSet(ctx, "a", "1", "b", "2").Err(); err != nil { // a and b: the two shards
		t.Fatal(err)
	}

	fams := families(t, reg)
	for _, check := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"raftcache_commands_total", []string{"command", "set"}, 10},
		{"raftcache_commands_total", []string{"command", "get"}, 1},
		{"raftcache_commands_total", []string{"command", "config|get"}, 1},
		{"raftcache_commands_rejected_total", []string{"command", "get"}, 1},
		{"raftcache_command_errors_total", []string{"command", "incr"}, 1},
		{"raftcache_error_replies_total", []string{"error", "ERR"}, float64(srv.Stats().ErrorReplies["ERR"])},
		{"raftcache_connected_clients", nil, 1},
		{"raftcache_ready", nil, 1},
		{"raftcache_build_info", []string{"node", "n1", "version", "test", "redis_version", server.RedisVersion}, 1},
		{"raftcache_evicted_keys_total", nil, 0},
		{"raftcache_cross_shard_transactions_total", []string{"event", "committed"}, 1},
		{"raftcache_cross_shard_transactions_total", []string{"event", "tryagain"}, 0},
	} {
		if got := value(find(t, fams, check.name, check.labels...)); got != check.want {
			t.Errorf("%s%v = %v, want %v", check.name, check.labels, got, check.want)
		}
	}
	if h := find(t, fams, "raftcache_command_duration_seconds", "command", "set").GetHistogram(); h.GetSampleCount() != 10 ||
		h.GetSampleSum() <= 0 || len(h.GetBucket()) != len(durationBuckets) ||
		h.GetBucket()[len(h.GetBucket())-1].GetCumulativeCount() != 10 {
		t.Errorf("SET's duration histogram: %v", h)
	}
	for _, name := range []string{"raftcache_net_input_bytes_total", "raftcache_net_output_bytes_total",
		"raftcache_connections_received_total", "raftcache_memory_used_bytes", "raftcache_log_writes_total"} {
		if v := value(find(t, fams, name)); v <= 0 {
			t.Errorf("%s = %v", name, v)
		}
	}
	if h := find(t, fams, "raftcache_log_sync_duration_seconds").GetHistogram(); h.GetSampleCount() == 0 {
		t.Error("no log sync observed")
	}

	keys := 0.0
	for _, s := range node.Shards() {
		st := s.Status()
		shard := strconv.Itoa(st.ID)
		keys += value(find(t, fams, "raftcache_keys", "shard", shard))
		if v := value(find(t, fams, "raftcache_expiring_keys", "shard", shard)); v != float64(st.Expires) {
			t.Errorf("shard %s expiring keys %v, status %d", shard, v, st.Expires)
		}
		for name, want := range map[string]float64{
			"raftcache_shard_is_leader":            1,
			"raftcache_shard_has_leader":           1,
			"raftcache_shard_term":                 float64(st.Term),
			"raftcache_shard_replica_lag_entries":  0,
			"raftcache_shard_last_contact_seconds": 0,
		} {
			if got := value(find(t, fams, name, "shard", shard)); got != want {
				t.Errorf("%s{shard=%s} = %v, want %v", name, shard, got, want)
			}
		}
		if v := value(find(t, fams, "raftcache_shard_state", "shard", shard, "state", "leader")); v != 1 {
			t.Errorf("shard %s state leader = %v", shard, v)
		}
		if v := value(find(t, fams, "raftcache_shard_state", "shard", shard, "state", "follower")); v != 0 {
			t.Errorf("shard %s state follower = %v", shard, v)
		}
		find(t, fams, "raftcache_shard_leader", "shard", shard, "leader", "n1")
		if applied := value(find(t, fams, "raftcache_shard_applied_index", "shard", shard)); applied < 1 || applied > float64(s.Status().AppliedIndex) {
			t.Errorf("shard %s applied index %v", shard, applied)
		}
		if v := value(find(t, fams, "raftcache_shard_leader_changes_total", "shard", shard)); v < 1 {
			t.Errorf("shard %s leader changes %v", shard, v)
		}
	}
	if keys != 12 { // k0..k9, a and b
		t.Errorf("keys over the shards = %v, want 12", keys)
	}
	applied := uint64(0)
	for _, s := range node.Shards() {
		applied += find(t, fams, "raftcache_shard_apply_duration_seconds", "shard", strconv.Itoa(s.ID())).GetHistogram().GetSampleCount()
	}
	if applied < 10 {
		t.Errorf("apply histograms counted %d entries for 10 SETs", applied)
	}

	raft := 0
	var ours []string
	for name := range fams {
		switch {
		case strings.HasPrefix(name, "raftcache_raft_"):
			raft++
		case strings.HasPrefix(name, "raftcache_"):
			ours = append(ours, name)
		}
	}
	if raft == 0 {
		t.Error("none of hashicorp/raft's go-metrics reached the registry")
	}
	problems, err := testutil.GatherAndLint(reg, ours...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestEndpoints checks /metrics, /healthz, /readyz and pprof over HTTP.
func TestEndpoints(t *testing.T) {
	node, srv, closeNode := startNode(t, 1)
	reg, err := Registry(srv, node, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, withPprof := range []bool{false, true} {
		hs := httptest.NewServer(Handler(reg, srv, withPprof, zaptest.NewLogger(t)))
		get := func(path string) (int, string) {
			resp, err := http.Get(hs.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := get("/healthz"); code != 200 || body != "ok\n" {
			t.Errorf("/healthz = %d %q", code, body)
		}
		if code, body := get("/readyz"); code != 200 || body != "ready\n" {
			t.Errorf("/readyz = %d %q", code, body)
		}
		if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "\nraftcache_shard_is_leader{shard=\"0\"} 1\n") ||
			!strings.Contains(body, "# TYPE raftcache_log_sync_duration_seconds histogram") {
			t.Errorf("/metrics = %d:\n%s", code, body)
		}
		if code, _ := get("/debug/pprof/"); (code == 200) != withPprof {
			t.Errorf("pprof %v: /debug/pprof/ answered %d", withPprof, code)
		}
		hs.Close()
	}

	// A node that is not ready answers 503 with the reason.
	closeNode()
	hs := httptest.NewServer(Handler(reg, srv, false, zaptest.NewLogger(t)))
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(string(body), "not ready: ") {
		t.Errorf("/readyz of a closed node = %d %q", resp.StatusCode, body)
	}
}

func TestHistogramBucketsAreExact(t *testing.T) {
	var h hist.Histogram
	for _, d := range []time.Duration{500, 1024, 3 * time.Microsecond, time.Millisecond, 20 * time.Second} {
		h.Observe(d)
	}
	m := &dto.Metric{}
	d := prometheus.NewDesc("x_seconds", "x", nil, nil)
	if err := histogramMetric(d, h.Snapshot()).Write(m); err != nil {
		t.Fatal(err)
	}
	got := map[float64]uint64{}
	for _, b := range m.GetHistogram().GetBucket() {
		got[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	// 500 ns is below 1.024 µs; 1024 ns is not below it.
	for bound, want := range map[float64]uint64{1.024e-6: 1, 2.048e-6: 2, 4.096e-6: 3, 1.048576e-3: 4, 17.179869184: 4} {
		if got[bound] != want {
			t.Errorf("bucket le=%v: %d, want %d", bound, got[bound], want)
		}
	}
	if m.GetHistogram().GetSampleCount() != 5 {
		t.Errorf("count %d", m.GetHistogram().GetSampleCount())
	}
}

// TestDashboardUsesExportedMetrics checks that every metric the Grafana
// dashboard queries is one a node exports: raftcache's own (by their
// descriptions, so those a single node never fills count too), and Go's,
// the process's and hashicorp/raft's as a node that served writes has them.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("../deploy/grafana/raftcache.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	node, srv, _ := startNode(t, 1)
	reg, err := Registry(srv, node, "test")
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr().String()})
	defer c.Close()
	for i := range 5 {
		c.Set(t.Context(), "k"+strconv.Itoa(i), "v", 0)
	}
	known := map[string]bool{}
	for name := range families(t, reg) {
		known[name] = true
	}
	descs := make(chan *prometheus.Desc, 100)
	go func() {
		newCollector(srv, node, "test").Describe(descs)
		close(descs)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		known[fqName.FindStringSubmatch(d.String())[1]] = true
	}

	metricName := regexp.MustCompile(`\b(?:raftcache|process|go)_[A-Za-z_]+\b`)
	used := 0
	check := func(where, expr string) {
		for _, name := range metricName.FindAllString(expr, -1) {
			used++
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if known[strings.TrimSuffix(name, suffix)] {
					base = strings.TrimSuffix(name, suffix)
				}
			}
			if !known[base] {
				t.Errorf("%s: %s is not a metric raftcache exports", where, name)
			}
		}
	}
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			check("panel "+p.Title, target.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		check("variable", v.Definition)
	}
	if used < 30 {
		t.Errorf("the dashboard queries only %d metrics", used)
	}
}
