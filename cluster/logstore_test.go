package cluster

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/raftcache/raftcache/cluster/wal"
)

// stripLogStore rewrites cluster.json as a release before the WAL wrote
// it: without the log_store field.
func stripLogStore(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, metaFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "log_store")
	b, _ = json.Marshal(m)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func storedLogStore(t *testing.T, dir string) string {
	t.Helper()
	m, ok, err := loadMeta(dir)
	if err != nil || !ok {
		t.Fatalf("load cluster.json: %v", err)
	}
	return m.LogStore
}

// fillBolt starts a node on the bolt store as an older release would,
// writes keys to every shard and snapshots one, and stops it.
func fillBolt(t *testing.T, dir string) Config {
	cfg := testConfig(t, dir, 3)
	cfg.LogStore = LogStoreBolt
	cfg.TrailingLogs = 2
	n := openReady(t, cfg)
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		propose(t, n, "SET", k, "v-"+k)
	}
	if err := n.Shards()[1].Snapshot(); err != nil {
		t.Fatal(err)
	}
	propose(t, n, "SET", "after-snapshot", "yes")
	closeNode(t, n)
	stripLogStore(t, dir)
	return cfg
}

func checkKeys(t *testing.T, n *Node) {
	t.Helper()
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		if r := read(t, n, "GET", k); string(r.Str) != "v-"+k {
			t.Fatalf("GET %s = %+v after migration", k, r)
		}
	}
	if r := read(t, n, "GET", "after-snapshot"); string(r.Str) != "yes" {
		t.Fatalf("GET after-snapshot = %+v", r)
	}
}

func TestMigrateBoltToWAL(t *testing.T) {
	dir := t.TempDir()
	cfg := fillBolt(t, dir)

	// A directory from before the WAL keeps serving with bolt.
	n := openReady(t, cfg)
	checkKeys(t, n)
	closeNode(t, n)
	if got := storedLogStore(t, dir); got != LogStoreBolt {
		t.Fatalf("cluster.json log_store = %q after a bolt start, want bolt", got)
	}

	// The first start with the WAL migrates it.
	stripLogStore(t, dir)
	cfg.LogStore = LogStoreWAL
	n = openReady(t, cfg)
	checkKeys(t, n)
	propose(t, n, "SET", "after-migration", "1")
	closeNode(t, n)
	if got := storedLogStore(t, dir); got != LogStoreWAL {
		t.Fatalf("cluster.json log_store = %q after migrating, want wal", got)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "shard-*", "raft.db")); len(m) != 0 {
		t.Fatalf("bolt files left after migrating: %v", m)
	}

	// It never goes back.
	cfg.LogStore = LogStoreBolt
	if n, err := Open(cfg, zaptest.NewLogger(t)); err == nil {
		closeNode(t, n)
		t.Fatal("a wal directory opened with --log-store bolt")
	} else if !strings.Contains(err.Error(), "never back") {
		t.Fatalf("open a wal directory with bolt: %v", err)
	}
	cfg.LogStore = LogStoreWAL
	n = openReady(t, cfg)
	defer closeNode(t, n)
	checkKeys(t, n)
	if r := read(t, n, "GET", "after-migration"); string(r.Str) != "1" {
		t.Fatalf("GET after-migration = %+v", r)
	}
}

// TestInterruptedMigrationIsRedone leaves what a migration stopped half
// way leaves: a partial copy, and a copy renamed into place before
// cluster.json recorded it. The bolt files are still in charge, so the
// next start copies them again.
func TestInterruptedMigrationIsRedone(t *testing.T) {
	dir := t.TempDir()
	cfg := fillBolt(t, dir)
	for _, d := range []string{migratingDir, walDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, "00000000000000000001.wal"), []byte("half a copy"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.LogStore = LogStoreWAL
	n := openReady(t, cfg)
	defer closeNode(t, n)
	checkKeys(t, n)
	if _, err := os.Stat(filepath.Join(dir, migratingDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the partial copy is still there: %v", err)
	}
}

func TestEverysecNeedsTheWAL(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), 1)
	cfg.LogStore = LogStoreBolt
	cfg.Fsync = wal.SyncEverySec
	if n, err := Open(cfg, zaptest.NewLogger(t)); err == nil {
		closeNode(t, n)
		t.Fatal("bolt with --fsync everysec started")
	} else if !strings.Contains(err.Error(), "everysec") {
		t.Fatalf("bolt with everysec: %v", err)
	}
}
