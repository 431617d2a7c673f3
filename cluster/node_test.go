package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/raftcache/raftcache/internal/freeport"

	"github.com/hashicorp/raft"
	"go.uber.org/zap/zaptest"

	"github.com/raftcache/raftcache/cluster/wal"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

func args(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

// freeAddr returns a loopback address no earlier call returned (two nodes
// of a test cluster must never be given one: raft refuses a duplicate).
func freeAddr(t *testing.T) string { return freeport.MustAddr(t) }

func testConfig(t *testing.T, dir string, shards int) Config {
	return Config{
		NodeID:             "n1",
		Addr:               "127.0.0.1:0",
		ClusterAddr:        freeAddr(t),
		Dir:                dir,
		Shards:             shards,
		HeartbeatTimeout:   200 * time.Millisecond,
		ElectionTimeout:    200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond,
	}
}

func openReady(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := Open(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("open node: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		n.Close(context.Background())
		t.Fatal(err)
	}
	return n
}

func closeNode(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("close node: %v", err)
	}
}

func shardFor(n *Node, key string) *Shard { return n.ShardOfSlot(store.SlotOf([]byte(key))) }

func propose(t *testing.T, n *Node, a ...string) resp.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	replies, err := shardFor(n, a[1]).Propose(ctx, [][][]byte{args(a...)})
	if err != nil {
		t.Fatalf("propose %v: %v", a, err)
	}
	return replies[0]
}

func read(t *testing.T, n *Node, a ...string) resp.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// The first read after an election may wait for the barrier.
	r, err := shardFor(n, a[1]).Read(ctx, args(a...))
	if err != nil {
		t.Fatalf("read %v: %v", a, err)
	}
	return r
}

// TestNodeWritesSurviveRestart writes through Raft, restarts the node on
// the same directory (without a new bootstrap) and reads every value back,
// once from the log alone and once from a snapshot plus the log after it.
func TestNodeWritesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, 3)
	n := openReady(t, cfg)
	for i := 0; i < 50; i++ {
		k := "k" + strconv.Itoa(i)
		if r := propose(t, n, "SET", k, "v"+strconv.Itoa(i)); r.Kind != resp.KindSimple {
			t.Fatalf("SET %s: %+v", k, r)
		}
	}
	propose(t, n, "HSET", "h", "f", "v")
	propose(t, n, "SET", "ttl", "x", "PX", "600000")
	closeNode(t, n)

	n = openReady(t, cfg)
	check := func(n *Node, upto int) {
		t.Helper()
		for i := 0; i < upto; i++ {
			k := "k" + strconv.Itoa(i)
			if r := read(t, n, "GET", k); string(r.Str) != "v"+strconv.Itoa(i) {
				t.Fatalf("GET %s = %+v", k, r)
			}
		}
		if r := read(t, n, "HGET", "h", "f"); string(r.Str) != "v" {
			t.Fatalf("HGET = %+v", r)
		}
		if r := read(t, n, "PTTL", "ttl"); r.Int <= 0 || r.Int > 600000 {
			t.Fatalf("PTTL = %+v", r)
		}
	}
	check(n, 50)

	for _, s := range n.Shards() {
		if err := s.Snapshot(); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
	}
	for i := 50; i < 60; i++ {
		propose(t, n, "SET", "k"+strconv.Itoa(i), "v"+strconv.Itoa(i))
	}
	closeNode(t, n)

	n = openReady(t, cfg)
	defer closeNode(t, n)
	check(n, 60)
	for _, s := range n.Shards() {
		if st := s.Status(); st.LastSnapshotIndex == 0 {
			t.Fatalf("shard %d has no snapshot after restart: %+v", s.ID(), st)
		}
	}
}

func TestNodeRefusesAnotherNodesDir(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, 1)
	n := openReady(t, cfg)
	closeNode(t, n)
	cfg.NodeID = "other"
	if _, err := Open(cfg, zaptest.NewLogger(t)); err == nil {
		t.Fatal("opening another node's data dir succeeded")
	}
}

func TestNodeKeepsStoredShape(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, 2)
	n := openReady(t, cfg)
	closeNode(t, n)
	cfg.Shards = 5
	n = openReady(t, cfg)
	defer closeNode(t, n)
	if got := len(n.Shards()); got != 2 {
		t.Fatalf("restart with --shards 5 made %d shards, want the stored 2", got)
	}
}

func TestReadOnFollowerIsRefused(t *testing.T) {
	// A node whose only shard has not elected itself yet is not a leader:
	// reads and writes are refused without being proposed.
	cfg := testConfig(t, t.TempDir(), 1)
	cfg.HeartbeatTimeout = 5 * time.Second
	cfg.ElectionTimeout = 5 * time.Second
	cfg.LeaderLeaseTimeout = 5 * time.Second
	n, err := Open(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer closeNode(t, n)
	s := n.Shards()[0]
	if _, err := s.Read(t.Context(), args("GET", "k")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("read before election: %v, want ErrNotLeader", err)
	}
	if _, err := s.Propose(t.Context(), [][][]byte{args("SET", "k", "v")}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("write before election: %v, want ErrNotLeader", err)
	}
}

func TestParsePeers(t *testing.T) {
	tests := []struct {
		in      string
		want    []Peer
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "n1=127.0.0.1:7001@17001,n2=127.0.0.1:7002@17002", want: []Peer{
			{ID: "n1", Addr: "127.0.0.1:7001", ClusterAddr: "127.0.0.1:17001"},
			{ID: "n2", Addr: "127.0.0.1:7002", ClusterAddr: "127.0.0.1:17002"},
		}},
		{in: "n1=127.0.0.1:7001", wantErr: true},
		{in: "127.0.0.1:7001@17001", wantErr: true},
		{in: "n1=127.0.0.1:7001@x", wantErr: true},
		{in: "n1=127.0.0.1:7001@1,n1=127.0.0.1:7002@2", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParsePeers(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("ParsePeers(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
		}
		if !tt.wantErr && len(got) != len(tt.want) {
			t.Fatalf("ParsePeers(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		for i := range tt.want {
			if got[i] != tt.want[i] {
				t.Fatalf("ParsePeers(%q)[%d] = %+v, want %+v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
	if a, err := DefaultClusterAddr(":6379"); err != nil || a != ":16379" {
		t.Fatalf("DefaultClusterAddr(:6379) = %q, %v", a, err)
	}
	if _, err := DefaultClusterAddr(":60000"); err == nil {
		t.Fatal("DefaultClusterAddr(:60000) should fail")
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct{ bytes.Buffer }

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { return nil }

// TestFSMSnapshotRestore drives the FSM directly: apply, snapshot, persist,
// restore into a fresh FSM, and compare what both answer.
func TestFSMSnapshotRestore(t *testing.T) {
	src := &fsm{store: store.New()}
	apply := func(f *fsm, index uint64, now int64, cmds ...[][]byte) []resp.Reply {
		r := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: encodeEntry(nil, now, cmds)})
		return r.([]resp.Reply)
	}
	apply(src, 1, 1000, args("SET", "a", "1"), args("SET", "b", "2", "PX", "5000"))
	apply(src, 2, 1001, args("HSET", "h", "f1", "v1", "f2", "v2"))
	if r := apply(src, 3, 1002, args("INCR", "a"), args("GET", "h")); r[0].Int != 2 || r[1].Kind != resp.KindError {
		t.Fatalf("replies = %+v", r)
	}
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the snapshot must not leak into it.
	apply(src, 4, 1003, args("SET", "a", "changed"), args("DEL", "b"))
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	dst := &fsm{store: store.New()}
	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  [][]byte
		want string
	}{
		{args("GET", "a"), "2"},
		{args("GET", "b"), "2"},
		{args("HGET", "h", "f2"), "v2"},
	} {
		if r := dst.store.Read(1003, c.cmd); string(r.Str) != c.want {
			t.Fatalf("%s after restore = %+v, want %q", c.cmd, r, c.want)
		}
	}
	if r := dst.store.Read(1003, args("PTTL", "b")); r.Int != 4997 {
		t.Fatalf("PTTL b after restore = %+v, want 4997", r.Int)
	}
	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()[:sink.Len()-3]))); err == nil {
		t.Fatal("restoring a truncated snapshot succeeded")
	}
	if r := dst.store.Read(1003, args("GET", "a")); string(r.Str) != "2" {
		t.Fatalf("failed restore changed the store: GET a = %+v", r)
	}
}

func TestFSMPanicsOnUndecodableEntry(t *testing.T) {
	f := &fsm{store: store.New()}
	defer func() {
		if recover() == nil {
			t.Fatal("applying garbage did not panic")
		}
	}()
	f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: []byte("garbage")})
}

// TestNodeRefusesDamagedLog flips a byte of a stored value in the log
// on disk, in each log store: the node must refuse to start rather than
// serve it. (With the WAL, later writes follow the damaged one, so it
// cannot pass for a torn write that was never acknowledged.)
func TestNodeRefusesDamagedLog(t *testing.T) {
	for _, tc := range []struct {
		store string
		file  func(dir string) string
		want  error
		// later writes follow the damaged one. (In bolt they could leave
		// stale copies of its page behind for the test to damage.)
		later int
	}{
		{LogStoreBolt, func(dir string) string { return filepath.Join(dir, "shard-0", "raft.db") }, ErrCorruptLog, 0},
		{LogStoreWAL, func(dir string) string {
			m, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
			return m[len(m)-1]
		}, wal.ErrCorrupt, 5},
	} {
		t.Run(tc.store, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(t, dir, 1)
			cfg.LogStore = tc.store
			n := openReady(t, cfg)
			propose(t, n, "SET", "k", "a-rather-recognisable-value")
			for i := range tc.later {
				propose(t, n, "SET", fmt.Sprint("later", i), "v")
			}
			closeNode(t, n)

			path := tc.file(dir)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(b, []byte("a-rather-recognisable-value"))
			if i < 0 {
				t.Fatalf("value not found in %s", path)
			}
			b[i] ^= 0x01
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			n, err = Open(cfg, zaptest.NewLogger(t))
			if err == nil {
				closeNode(t, n)
				t.Fatal("node started on a damaged log")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("open on a damaged log: %v, want %v", err, tc.want)
			}
		})
	}
}
