package server

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"
)

func TestInfoSections(t *testing.T) {
	srv, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	c.Set(ctx, "k", "v", 0)
	c.Do(ctx, "GET")       // rejected: arity
	c.Do(ctx, "INCR", "k") // failed: not an integer
	titles := func(info string) []string {
		return regexp.MustCompile(`(?m)^# (\w+)\r$`).FindAllString(info, -1)
	}
	info, err := c.Info(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := "[# Server\r # Clients\r # Memory\r # Persistence\r # Stats\r # Replication\r # CPU\r # Modules\r # Errorstats\r # Cluster\r # Keyspace\r]"
	if got := fmt.Sprint(titles(info)); got != want {
		t.Fatalf("INFO sections = %s, want %s", got, want)
	}
	for _, field := range []string{"redis_version:7.2.5\r\n", "redis_mode:cluster\r\n", "connected_clients:1\r\n",
		"maxclients:10000\r\n", "cluster_enabled:1\r\n", "errorstat_ERR:count=2\r\n", "db0:keys=1,expires=0,avg_ttl=0\r\n",
		"total_error_replies:2\r\n", "master_failover_state:no-failover\r\n",
		"raft_log_store:wal\r\n", "raft_log_fsync:always\r\n", "raft_log_syncs:5\r\n", "raft_log_sync_avg_usec:1000\r\n"} {
		if !strings.Contains(info, field) {
			t.Errorf("INFO lacks %q", field)
		}
	}
	for _, arg := range []string{"everything", "all"} {
		all, err := c.Info(ctx, arg).Result()
		if err != nil || len(titles(all)) != 14 {
			t.Fatalf("INFO %s sections = %v, %v", arg, titles(all), err)
		}
	}
	two, err := c.Info(ctx, "CPU", "commandstats").Result()
	if err != nil || fmt.Sprint(titles(two)) != "[# CPU\r # Commandstats\r]" {
		t.Fatalf("INFO cpu commandstats = %q, %v", two, err)
	}
	for _, line := range []string{
		"cmdstat_set:calls=1,", "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n",
		"cmdstat_incr:calls=1,", ",rejected_calls=0,failed_calls=1\r\n",
	} {
		if !strings.Contains(two, line) {
			t.Errorf("INFO commandstats lacks %q:\n%s", line, two)
		}
	}
	if none, err := c.Info(ctx, "nosuch").Result(); err != nil || none != "" {
		t.Fatalf("INFO nosuch = %q, %v", none, err)
	}
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if stats, _ := c.Info(ctx, "errorstats").Result(); stats != "# Errorstats\r\n" {
		t.Fatalf("INFO errorstats after CONFIG RESETSTAT = %q", stats)
	}
}

// TestConfigNeverRevealsPassword checks CONFIG GET requirepass and every
// pattern that matches it on a server with a password.
func TestConfigNeverRevealsPassword(t *testing.T) {
	srv := New(Config{Addr: "127.0.0.1:0", RequirePass: "hunter2"}, newFakeBackend(1), zaptest.NewLogger(t))
	serveInTest(t, srv)
	for _, proto := range []int{2, 3} {
		rc := dialRaw(t, srv)
		rc.send(fmt.Sprintf("HELLO %d AUTH default hunter2\r\n", proto))
		readReply(t, rc)
		for _, pattern := range []string{"requirepass", "*pass*", "*", "REQUIREPASS"} {
			rc.send("CONFIG GET " + pattern + "\r\n")
			got := readReply(t, rc)
			if strings.Contains(got, "hunter2") {
				t.Fatalf("CONFIG GET %s reveals the password: %q", pattern, got)
			}
		}
		rc.send("INFO everything\r\n")
		if got := readReply(t, rc); strings.Contains(got, "hunter2") {
			t.Fatal("INFO reveals the password")
		}
	}
}

func TestConfigGetGoRedis(t *testing.T) {
	srv, _ := startServer(t)
	for _, proto := range []int{2, 3} {
		c := newClient(t, srv, proto)
		got, err := c.ConfigGet(t.Context(), "*max-*").Result()
		if err != nil || got["hash-max-listpack-entries"] != "512" || got["proto-max-bulk-len"] != "536870912" ||
			got["hash-max-ziplist-value"] != "64" {
			t.Fatalf("RESP%d CONFIG GET *max-* = %v, %v", proto, got, err)
		}
	}
}

func TestCommandList(t *testing.T) {
	srv, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	names, err := c.CommandList(ctx, nil).Result()
	if err != nil {
		t.Fatal(err)
	}
	count, _ := c.Do(ctx, "COMMAND", "COUNT").Int()
	subs := 0
	for _, n := range names {
		if strings.Contains(n, "|") {
			subs++
		}
	}
	if len(names)-subs != count || subs == 0 {
		t.Fatalf("COMMAND LIST has %d names (%d subcommands); COMMAND COUNT %d", len(names), subs, count)
	}
	info, err := c.Command(ctx).Result()
	if err != nil || len(info) != count || info["get"].Arity != 2 {
		t.Fatalf("COMMAND: %d entries, %v", len(info), err)
	}
}

// TestPatternsIgnoreCase: CONFIG GET and COMMAND LIST FILTERBY PATTERN
// match their glob without regard to case, as Redis's (nocase
// stringmatchlen; the matcher itself is tested in store).
func TestPatternsIgnoreCase(t *testing.T) {
	srv, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	got, err := c.ConfigGet(ctx, "MAXMEMORY-P[O]LICY*").Result()
	if err != nil || len(got) != 1 || got["maxmemory-policy"] == "" {
		t.Fatalf("CONFIG GET MAXMEMORY-P[O]LICY* = %v, %v", got, err)
	}
	names, err := c.Do(ctx, "COMMAND", "LIST", "FILTERBY", "PATTERN", "HGETA?L").StringSlice()
	if err != nil || strings.Join(names, " ") != "hgetall" {
		t.Fatalf("COMMAND LIST FILTERBY PATTERN HGETA?L = %v, %v", names, err)
	}
	names, err = c.Do(ctx, "COMMAND", "LIST", "FILTERBY", "PATTERN", "CLIENT|[K]ILL").StringSlice()
	if err != nil || strings.Join(names, " ") != "client|kill" {
		t.Fatalf("COMMAND LIST FILTERBY PATTERN CLIENT|[K]ILL = %v, %v", names, err)
	}
}

// TestSubcommandsRouteByTheirKey: a container's subcommand that names a
// key (OBJECT ENCODING key) is routed by that key, inside MULTI too.
func TestSubcommandsRouteByTheirKey(t *testing.T) {
	srv, _ := startServer(t)
	ctx := t.Context()
	c := newClient(t, srv, 2)
	c.HSet(ctx, "h", "f", "v")
	if enc, err := c.Do(ctx, "OBJECT", "ENCODING", "h").Text(); err != nil || enc != "listpack" {
		t.Fatalf("OBJECT ENCODING h = %q, %v", enc, err)
	}
	if n, err := c.Do(ctx, "OBJECT", "REFCOUNT", "h").Int(); err != nil || n != 1 {
		t.Fatalf("OBJECT REFCOUNT h = %d, %v", n, err)
	}
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "OBJECT", "ENCODING", "h")
		return nil
	})
	if err != nil || len(cmds) != 1 || cmds[0].(*redis.Cmd).Val() != "listpack" {
		t.Fatalf("OBJECT ENCODING in MULTI: %v, %v", cmds, err)
	}
}
