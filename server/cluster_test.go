package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
	"github.com/raftcache/raftcache/test/redisoracle"
)

// startRedisCluster starts a real redis-server in cluster mode owning
// every slot (a one-node Redis Cluster) and returns its address, its node
// ID and its cluster port.
func startRedisCluster(t *testing.T) (addr, id string, cport int) {
	t.Helper()
	cport = redisoracle.FreePort(t)
	addr = redisoracle.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-port", strconv.Itoa(cport), "--cluster-announce-ip", "127.0.0.1")
	c, err := redisoracle.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.Do("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil || string(r) != "+OK\r\n" {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %q, %v", r, err)
	}
	r, err := c.Do("CLUSTER", "MYID")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(strings.SplitN(string(r), "\n", 2)[1])
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := c.Do("CLUSTER", "INFO")
		if err == nil && strings.Contains(string(r), "cluster_state:ok") {
			return addr, id, cport
		}
		if time.Now().After(deadline) {
			t.Fatalf("one-node Redis Cluster not ok: %q, %v", r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pipeline sends every command on a fresh connection to addr and returns
// each raw reply.
func pipeline(t *testing.T, addr string, cmds [][]string) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var req []byte
	for _, cmd := range cmds {
		req = fmt.Appendf(req, "*%d\r\n", len(cmd))
		for _, a := range cmd {
			req = fmt.Appendf(req, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(req)
		werr <- err
	}()
	r := bufio.NewReader(c)
	out := make([]string, len(cmds))
	for i := range cmds {
		b, err := redisoracle.ReadReply(r)
		if err != nil {
			t.Fatalf("reply %d (%q) from %s: %v", i, cmds[i], addr, err)
		}
		out[i] = string(b)
	}
	if err := <-werr; err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return out
}

// TestClusterKeySlotMatchesRedis compares CLUSTER KEYSLOT with a real
// redis-server in cluster mode: the cluster specification's examples and
// 10,000 random keys full of braces and binary bytes.
func TestClusterKeySlotMatchesRedis(t *testing.T) {
	redisAddr, _, _ := startRedisCluster(t)
	s, _ := startServer(t)
	keys := []string{
		"123456789", "{user1000}.following", "{user1000}.followers", "foo{}{bar}", "foo{{bar}}zap",
		"foo{bar}{zap}", "{}", "{", "}", "", "{a", "a}", "}{", "{}a", "a{b}", "a{b", "\x00{\xff}",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab{}{}\x00\xff\r\n 0123456789")
	for len(keys) < 10000 {
		k := make([]byte, rng.IntN(24))
		for i := range k {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		keys = append(keys, string(k))
	}
	cmds := make([][]string, len(keys))
	for i, k := range keys {
		cmds[i] = []string{"CLUSTER", "KEYSLOT", k}
	}
	want := pipeline(t, redisAddr, cmds)
	got := pipeline(t, s.Addr().String(), cmds)
	for i := range keys {
		if got[i] != want[i] {
			t.Fatalf("CLUSTER KEYSLOT %q = %q, Redis %q", keys[i], got[i], want[i])
		}
	}
	if want[0] != ":12739\r\n" { // CRC16/XMODEM("123456789") = 0x31C3
		t.Fatalf("Redis says KEYSLOT 123456789 = %q", want[0])
	}
	if want[1] != want[2] || want[3] == want[5] {
		t.Fatalf("hash tags: %q", want[1:6])
	}
}

// TestClusterRepliesMatchRedis compares the CLUSTER replies of a one-shard
// raftcache node with those of a one-node Redis Cluster, byte for byte
// (Redis's node ID replaced by raftcache's: both are 40 characters), in
// RESP2 and RESP3, errors included.
func TestClusterRepliesMatchRedis(t *testing.T) {
	redisAddr, redisID, cport := startRedisCluster(t)
	_, port, _ := net.SplitHostPort(redisAddr)
	b := newFakeBackend(1)
	// The fake claims Redis's addresses, so that only the IDs differ.
	b.setCluster([]cluster.Peer{{ID: "fake", Addr: redisAddr, ClusterAddr: "127.0.0.1:" + strconv.Itoa(cport), Self: true}}, nil)
	s := startServerWith(t, b)
	ourID := cluster.HexID("fake")

	cmds := [][]string{
		{"CLUSTER", "SLOTS"}, {"CLUSTER", "SHARDS"}, {"CLUSTER", "NODES"}, {"CLUSTER", "MYID"},
		{"SET", "foo", "1"}, {"CLUSTER", "COUNTKEYSINSLOT", "12182"}, {"CLUSTER", "COUNTKEYSINSLOT", "0"},
		{"CLUSTER", "GETKEYSINSLOT", "12182", "5"}, {"CLUSTER", "GETKEYSINSLOT", "12182", "0"},
		{"CLUSTER", "COUNTKEYSINSLOT", "16384"}, {"CLUSTER", "COUNTKEYSINSLOT", "-1"},
		{"CLUSTER", "COUNTKEYSINSLOT", "x"}, {"CLUSTER", "COUNTKEYSINSLOT", "100000000000000000000"},
		{"CLUSTER", "GETKEYSINSLOT", "16384", "1"}, {"CLUSTER", "GETKEYSINSLOT", "1", "-1"},
		{"CLUSTER", "GETKEYSINSLOT", "x", "1"}, {"CLUSTER", "GETKEYSINSLOT", "1", "x"},
		{"CLUSTER", "MYID", "extra"}, {"CLUSTER", "NOSUCH"}, {"CLUSTER"},
		{"CLUSTER", "MEET", "127.0.0.1", "x"}, {"CLUSTER", "MEET", "127.0.0.1", "99999"},
		{"CLUSTER", "MEET", "127.0.0.1", "7000", "x"}, {"CLUSTER", "MEET", "127.0.0.1"},
		{"CLUSTER", "FORGET", "0123456789012345678901234567890123456789"},
		{"CLUSTER", "FORGET", "@ID"}, {"CLUSTER", "LINKS"}, {"CLUSTER", "KEYSLOT", "{user1000}.x"},
		{"MSET", "a", "1", "b", "2"}, {"MGET", "a", "b"}, {"DEL", "{a}1", "{a}2"},
		{"READONLY"}, {"GET", "foo"}, {"READWRITE"}, {"ASKING"}, {"GET", "foo"},
		{"HELLO", "3"}, {"CLUSTER", "SLOTS"}, {"CLUSTER", "SHARDS"}, {"CLUSTER", "NODES"},
		{"CLUSTER", "LINKS"},
	}
	with := func(id string) [][]string {
		out := make([][]string, len(cmds))
		for i, c := range cmds {
			out[i] = slices.Clone(c)
			for j := range out[i] {
				out[i][j] = strings.ReplaceAll(out[i][j], "@ID", id)
			}
		}
		return out
	}
	want := pipeline(t, redisAddr, with(redisID))
	got := pipeline(t, s.Addr().String(), with(ourID))
	for i, c := range cmds {
		w := strings.ReplaceAll(want[i], redisID, ourID)
		if c[0] == "HELLO" {
			continue // server versions differ
		}
		if got[i] != w {
			t.Errorf("%q:\n got %q\nwant %q", c, got[i], w)
		}
	}
	if !strings.Contains(want[0], ":"+port+"\r\n") {
		t.Fatalf("Redis's CLUSTER SLOTS does not name its port: %q", want[0])
	}
}

// clusterFixture is a fake node "fake" in a three-node, three-shard
// cluster: fake at 127.0.0.1:7000, n2 at :7002, n3 at :7003.
func clusterFixture(t *testing.T, leaders ...string) (*Server, *fakeBackend) {
	t.Helper()
	b := newFakeBackend(3)
	b.setCluster([]cluster.Peer{
		{ID: "fake", Addr: "127.0.0.1:7000", ClusterAddr: "127.0.0.1:17000", Self: true},
		{ID: "n2", Addr: "127.0.0.1:7002", ClusterAddr: "127.0.0.1:17002"},
		{ID: "n3", Addr: "127.0.0.1:7003", ClusterAddr: "127.0.0.1:17003"},
	}, leaders)
	b.terms = []uint64{5, 7, 3}
	return startServerWith(t, b), b
}

func (b *fakeBackend) setLeaders(leaders ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.leaders = leaders
}

// clusterNodes returns CLUSTER NODES with every pong-recv field of the
// other nodes (a clock reading) replaced by T.
func clusterNodes(t *testing.T, c *redis.Client) string {
	t.Helper()
	out, err := c.ClusterNodes(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(out, "\n")
	for i, l := range lines {
		f := strings.Split(l, " ")
		if len(f) > 5 && f[5] != "0" {
			f[5] = "T"
		}
		lines[i] = strings.Join(f, " ")
	}
	return strings.Join(lines, "")
}

func TestClusterNodesMapping(t *testing.T) {
	h := cluster.HexID
	for _, tc := range []struct {
		name    string
		leaders []string
		want    string
	}{
		{"one shard per node", []string{"n2", "fake", "n3"},
			h("fake") + " 127.0.0.1:7000@17000 myself,master - 0 0 7 connected 5461-10921\n" +
				h("n2") + " 127.0.0.1:7002@17002 master - 0 T 5 connected 0-5460\n" +
				h("n3") + " 127.0.0.1:7003@17003 master - 0 T 3 connected 10922-16383\n"},
		{"adjacent shards merge; a leaderless shard is shown on this node; a node leading none is a replica",
			[]string{"n2", "n2", ""},
			h("fake") + " 127.0.0.1:7000@17000 myself,master - 0 0 3 connected 10922-16383\n" +
				h("n2") + " 127.0.0.1:7002@17002 master - 0 T 7 connected 0-10921\n" +
				h("n3") + " 127.0.0.1:7003@17003 slave " + h("n2") + " 0 T 7 connected\n"},
		{"non-adjacent ranges", []string{"n3", "fake", "n3"},
			h("fake") + " 127.0.0.1:7000@17000 myself,master - 0 0 7 connected 5461-10921\n" +
				h("n2") + " 127.0.0.1:7002@17002 slave " + h("n3") + " 0 T 5 connected\n" +
				h("n3") + " 127.0.0.1:7003@17003 master - 0 T 5 connected 0-5460 10922-16383\n"},
		{"this node leads nothing", []string{"n2", "n2", "n2"},
			h("fake") + " 127.0.0.1:7000@17000 myself,slave " + h("n2") + " 0 0 7 connected\n" +
				h("n2") + " 127.0.0.1:7002@17002 master - 0 T 7 connected 0-16383\n" +
				h("n3") + " 127.0.0.1:7003@17003 slave " + h("n2") + " 0 T 7 connected\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := clusterFixture(t, tc.leaders...)
			c := redis.NewClient(&redis.Options{Addr: s.Addr().String()})
			defer c.Close()
			if got := clusterNodes(t, c); got != tc.want {
				t.Fatalf("CLUSTER NODES:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestClusterSlotsAndShards(t *testing.T) {
	s, _ := clusterFixture(t, "n2", "fake", "")
	rc := dialRaw(t, s)
	h := cluster.HexID
	node := func(port int, id string) string {
		return fmt.Sprintf("*4\r\n$9\r\n127.0.0.1\r\n:%d\r\n$40\r\n%s\r\n*0\r\n", port, h(id))
	}
	rc.send("CLUSTER SLOTS\r\n")
	// n3 leads nothing: the replica of every shard. n2 and fake follow
	// the shards they do not lead, but each node has one role.
	rc.expect("*3\r\n" +
		"*4\r\n:0\r\n:5460\r\n" + node(7002, "n2") + node(7003, "n3") +
		"*4\r\n:5461\r\n:10921\r\n" + node(7000, "fake") + node(7003, "n3") +
		"*4\r\n:10922\r\n:16383\r\n" + node(7000, "fake") + node(7003, "n3"))

	c := redis.NewClient(&redis.Options{Addr: s.Addr().String()})
	defer c.Close()
	shards, err := c.ClusterShards(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 3 {
		t.Fatalf("CLUSTER SHARDS: %d shards", len(shards))
	}
	for i, wantMaster := range []string{"n2", "fake", "fake"} {
		sh := shards[i]
		if len(sh.Nodes) != 2 || sh.Nodes[0].ID != h(wantMaster) || sh.Nodes[0].Role != "master" ||
			sh.Nodes[1].ID != h("n3") || sh.Nodes[1].Role != "replica" || sh.Nodes[0].Health != "online" ||
			sh.Nodes[0].Endpoint != "127.0.0.1" || sh.Nodes[1].Port != 7003 {
			t.Fatalf("shard %d: %+v", i, sh)
		}
	}
	if shards[1].Slots[0].Start != 5461 || shards[1].Slots[0].End != 10921 {
		t.Fatalf("shard 1 slots: %+v", shards[1].Slots)
	}
	if id, err := c.Do(context.Background(), "CLUSTER", "MYSHARDID").Text(); err != nil || id != shardHexID(1) {
		t.Fatalf("CLUSTER MYSHARDID = %q, %v", id, err)
	}
	info, err := c.ClusterInfo(context.Background()).Result()
	if err != nil || !strings.Contains(info, "cluster_state:fail\r\n") || !strings.Contains(info, "cluster_size:2\r\n") ||
		!strings.Contains(info, "cluster_my_epoch:7\r\n") || !strings.Contains(info, "cluster_slots_ok:10922\r\n") {
		t.Fatalf("CLUSTER INFO:\n%s %v", info, err)
	}
	links, err := c.Do(context.Background(), "CLUSTER", "LINKS").Slice()
	if err != nil || len(links) != 4 {
		t.Fatalf("CLUSTER LINKS = %v, %v", links, err)
	}
}

// keyInShard returns a key of the given shard of a three-shard fake.
func keyInShard(b *fakeBackend, shard int, prefix string) string {
	for i := 0; ; i++ {
		k := prefix + strconv.Itoa(i)
		if b.ShardOfSlot(store.SlotOf([]byte(k))) == shard {
			return k
		}
	}
}

func moved(key, addr string) string {
	return "-MOVED " + strconv.Itoa(store.SlotOf([]byte(key))) + " " + addr + "\r\n"
}

func TestRedirectsForClusterAwareConnections(t *testing.T) {
	s, b := clusterFixture(t, "n2", "fake", "n3")
	k0, k1 := keyInShard(b, 0, "k"), keyInShard(b, 1, "k")
	// Two keys in shard 1, in different slots.
	x, y := keyInShard(b, 1, "x"), keyInShard(b, 1, "y")
	set := func(k, v string) string {
		return fmt.Sprintf("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
	}
	get := func(k string) string { return fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k) }

	plain := dialRaw(t, s)
	plain.send(set(k0, "a") + set(k1, "b") + "MSET " + x + " 1 " + y + " 2\r\n")
	plain.expect("+OK\r\n+OK\r\n+OK\r\n") // forwarded; one keyspace

	aware := dialRaw(t, s)
	aware.send("CLUSTER SLOTS\r\n")
	if _, err := redisoracleReadReply(aware); err != nil {
		t.Fatal(err)
	}
	before := len(b.proposals())
	aware.send(set(k0, "c") + get(k0) + set(k1, "d") + get(k1) + "MSET " + x + " 1 " + y + " 2\r\n" +
		"MGET " + x + " " + y + "\r\n")
	aware.expect(moved(k0, "127.0.0.1:7002") + moved(k0, "127.0.0.1:7002") + "+OK\r\n$1\r\nd\r\n" +
		"-CROSSSLOT Keys in request don't hash to the same slot\r\n" +
		"-CROSSSLOT Keys in request don't hash to the same slot\r\n")
	if got := len(b.proposals()) - before; got != 1 {
		t.Fatalf("%d proposals for one local write", got)
	}

	// READONLY: reads of any shard from this replica; writes still MOVED.
	aware.send("READONLY\r\n" + get(k0) + set(k0, "e") + "CLIENT INFO\r\n")
	aware.expect("+OK\r\n$1\r\na\r\n" + moved(k0, "127.0.0.1:7002"))
	if info, _ := redisoracleReadReply(aware); !strings.Contains(info, " flags=r ") {
		t.Fatalf("CLIENT INFO after READONLY: %q", info)
	}
	b.mu.Lock()
	local := b.localReads
	b.mu.Unlock()
	if local != 1 {
		t.Fatalf("%d local reads", local)
	}
	aware.send("READWRITE\r\n" + get(k0))
	aware.expect("+OK\r\n" + moved(k0, "127.0.0.1:7002"))

	// Transactions: MOVED when queued dooms it; MOVED at EXEC when the
	// leader moved since, and nothing is proposed; WATCH too.
	aware.send("MULTI\r\n" + set(k0, "f") + "EXEC\r\n")
	aware.expect("+OK\r\n" + moved(k0, "127.0.0.1:7002") +
		"-EXECABORT Transaction discarded because of previous errors.\r\n")
	aware.send("MULTI\r\n" + set(k1, "g") + "SET " + x + " 1\r\n")
	aware.expect("+OK\r\n+QUEUED\r\n+QUEUED\r\n")
	aware.send("EXEC\r\n")
	aware.expect("-CROSSSLOT Keys in request don't hash to the same slot\r\n")
	aware.send("MULTI\r\n" + set(k1, "g") + get(k1))
	aware.expect("+OK\r\n+QUEUED\r\n+QUEUED\r\n")
	b.setLeaders("n2", "n3", "n3")
	before = len(b.proposals())
	aware.send("EXEC\r\n" + "WATCH " + k0 + "\r\nWATCH " + x + " " + y + "\r\n")
	aware.expect(moved(k1, "127.0.0.1:7003") + moved(k0, "127.0.0.1:7002") +
		"-CROSSSLOT Keys in request don't hash to the same slot\r\n")
	if n := len(b.proposals()) - before; n != 0 {
		t.Fatalf("%d proposals after MOVED", n)
	}

	// No leader: served as on a plain connection (the backend waits for
	// an election and forwards).
	b.setLeaders("", "n3", "n3")
	aware.send(set(k0, "h"))
	aware.expect("+OK\r\n")

	// RESET: a plain connection again.
	b.setLeaders("n2", "fake", "n3")
	aware.send("RESET\r\n" + get(k0))
	aware.expect("+RESET\r\n$1\r\nh\r\n")
}

func TestBackendErrorsNeverRedirect(t *testing.T) {
	s, b := clusterFixture(t, "n2", "fake", "n3")
	c := redis.NewClient(&redis.Options{Addr: s.Addr().String(), MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()
	b.mu.Lock()
	b.fail = &cluster.NotLeaderError{Shard: 1, LeaderID: "n3", LeaderAddr: "127.0.0.1:7003"}
	b.mu.Unlock()
	k1 := keyInShard(b, 1, "k")
	if err := c.Set(ctx, k1, "v", 0).Err(); err == nil || err.Error() != "CLUSTERDOWN The cluster is down" {
		t.Fatalf("SET with no leader = %v", err)
	}
	b.mu.Lock()
	b.fail = fmt.Errorf("shard 1: %w", cluster.ErrUnknownOutcome)
	b.mu.Unlock()
	if err := c.Set(ctx, k1, "v", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR write outcome unknown") {
		t.Fatalf("SET with unknown outcome = %v", err)
	}
}

func TestClusterMeetForgetAndKeysInSlot(t *testing.T) {
	s, b := clusterFixture(t, "n2", "fake", "n3")
	c := redis.NewClient(&redis.Options{Addr: s.Addr().String()})
	defer c.Close()
	ctx := context.Background()
	for _, args := range [][]any{
		{"CLUSTER", "MEET", "10.0.0.9", "7009"},
		{"CLUSTER", "MEET", "10.0.0.9", "7009", "1234"},
		{"CLUSTER", "MEET", "::1", "7009"},
		{"CLUSTER", "MEET", "node4.example", "6379"},
	} {
		if err := c.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if err := c.Do(ctx, "CLUSTER", "FORGET", strings.ToUpper(cluster.HexID("n3"))).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "CLUSTER", "FORGET", cluster.HexID("fake")).Err(); err == nil ||
		err.Error() != "ERR I tried hard but I can't forget myself..." {
		t.Fatalf("FORGET myself: %v", err)
	}
	if err := c.Do(ctx, "CLUSTER", "RESET").Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR CLUSTER RESET is not supported") {
		t.Fatalf("CLUSTER RESET: %v", err)
	}
	b.mu.Lock()
	met, forgot := b.met, b.forgot
	b.mu.Unlock()
	if !slices.Equal(met, []string{"10.0.0.9:17009", "10.0.0.9:1234", "[::1]:17009", "node4.example:16379"}) ||
		!slices.Equal(forgot, []string{"n3"}) {
		t.Fatalf("met %q, forgot %q", met, forgot)
	}

	// COUNTKEYSINSLOT and GETKEYSINSLOT see the whole keyspace.
	var keys []string
	for i := 0; i < 5; i++ {
		keys = append(keys, fmt.Sprintf("{slot}%d", i))
		if err := c.Set(ctx, keys[i], "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	slot := int64(store.SlotOf([]byte("{slot}")))
	if n, err := c.ClusterCountKeysInSlot(ctx, int(slot)).Result(); err != nil || n != 5 {
		t.Fatalf("COUNTKEYSINSLOT = %d, %v", n, err)
	}
	got, err := c.ClusterGetKeysInSlot(ctx, int(slot), 3).Result()
	if err != nil || len(got) != 3 {
		t.Fatalf("GETKEYSINSLOT 3 = %q, %v", got, err)
	}
	got, err = c.ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
	slices.Sort(got)
	if err != nil || !slices.Equal(got, keys) {
		t.Fatalf("GETKEYSINSLOT 100 = %q, %v", got, err)
	}
	help, err := c.Do(ctx, "CLUSTER", "HELP").StringSlice()
	if err != nil || len(help) < 10 || !strings.HasPrefix(help[0], "CLUSTER <subcommand>") {
		t.Fatalf("CLUSTER HELP = %q, %v", help, err)
	}
}

// TestReadOnlyKeyspaceReadsAreLocal: a READONLY connection's keyspace-wide
// reads (DBSIZE, KEYS, SCAN) come from this replica.
func TestReadOnlyKeyspaceReadsAreLocal(t *testing.T) {
	s, b := clusterFixture(t, "n2", "fake", "n3")
	c := redis.NewClient(&redis.Options{Addr: s.Addr().String(), PoolSize: 1})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadOnly(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 1 {
		t.Fatalf("DBSIZE = %d, %v", n, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.localReads != 3 {
		t.Fatalf("%d local reads for DBSIZE over 3 shards", b.localReads)
	}
}

var _ = resp.OK
