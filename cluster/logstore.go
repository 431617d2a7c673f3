package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/raftcache/raftcache/cluster/wal"
)

// Log stores a node can keep its shards' Raft logs in.
const (
	// LogStoreWAL is one write-ahead log per node shared by every shard
	// (package wal): the default.
	LogStoreWAL = "wal"
	// LogStoreBolt is a raft-boltdb/v2 (bbolt) file per shard, as
	// releases before the WAL used.
	LogStoreBolt = "bolt"
)

// ParseLogStore checks a --log-store value.
func ParseLogStore(s string) (string, error) {
	if s != LogStoreWAL && s != LogStoreBolt {
		return "", fmt.Errorf("log store must be %s or %s, not %q", LogStoreWAL, LogStoreBolt, s)
	}
	return s, nil
}

const (
	walDir       = "wal"
	migratingDir = "wal.migrating"
	boltFile     = "raft.db"
)

func (n *Node) shardDir(id int) string { return filepath.Join(n.cfg.Dir, fmt.Sprintf("shard-%d", id)) }

// openLogStore decides which log store the data directory uses, migrates
// a directory from bolt to the WAL when the WAL is asked for, and opens the
// node's WAL when that is the store. The store a directory uses is
// recorded in cluster.json (a directory from before the WAL records none
// and holds bolt files). A directory moves from bolt to the WAL once, on
// the first start that asks for the WAL; never back.
func (n *Node) openLogStore() error {
	want := n.cfg.LogStore
	have := n.meta.LogStore
	if have == "" {
		have = want
		if n.hasBoltFiles() {
			have = LogStoreBolt
		}
	}
	switch {
	case have == LogStoreWAL && want == LogStoreBolt:
		return fmt.Errorf("data dir %s keeps its Raft logs in the %s log store; --log-store %s cannot open it "+
			"(a directory moves from bolt to wal once, never back)", n.cfg.Dir, LogStoreWAL, LogStoreBolt)
	case have == LogStoreBolt && want == LogStoreWAL:
		if err := n.migrateBoltToWAL(); err != nil {
			return fmt.Errorf("migrate data dir %s from bolt to the wal log store: %w", n.cfg.Dir, err)
		}
		have = LogStoreWAL
	}
	if n.meta.LogStore != have {
		n.meta.LogStore = have
		if err := n.meta.save(n.cfg.Dir); err != nil {
			return err
		}
	}
	if have == LogStoreBolt {
		if n.cfg.Fsync != wal.SyncAlways {
			return fmt.Errorf("--fsync %s needs the %s log store: bbolt without its syncs can be left unreadable by a power loss",
				n.cfg.Fsync, LogStoreWAL)
		}
		return nil
	}
	if err := n.removeMigratedBoltFiles(); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(n.cfg.Dir, migratingDir)); err != nil {
		return fmt.Errorf("remove an unfinished migration: %w", err)
	}
	w, err := wal.Open(wal.Options{
		Dir:         filepath.Join(n.cfg.Dir, walDir),
		SegmentSize: n.cfg.WALSegmentSize,
		Sync:        n.cfg.Fsync,
		Logger:      n.log.Named("wal"),
		// Every sync is timed for the log-sync latency histogram.
		SyncObserver: n.stats.observeSync,
	})
	if err != nil {
		if errors.Is(err, wal.ErrCorrupt) {
			return fmt.Errorf("open the node log: %w; refusing to start. Rebuild this node from its peers: stop it, "+
				"move %s aside and start it again, and it catches up from the others "+
				"(a single-node cluster has no other copy)", err, n.cfg.Dir)
		}
		return fmt.Errorf("open the node log: %w", err)
	}
	n.wal = w
	return nil
}

func (n *Node) hasBoltFiles() bool {
	for _, def := range n.meta.Shards {
		if _, err := os.Stat(filepath.Join(n.shardDir(def.ID), boltFile)); err == nil {
			return true
		}
	}
	return false
}

// removeMigratedBoltFiles deletes bolt files a migration copied but had
// not yet deleted when it stopped.
func (n *Node) removeMigratedBoltFiles() error {
	for _, def := range n.meta.Shards {
		p := filepath.Join(n.shardDir(def.ID), boltFile)
		if err := os.Remove(p); err == nil {
			n.log.Info("removed a migrated bolt log", zap.Int("shard", def.ID))
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove migrated %s: %w", p, err)
		}
	}
	return nil
}

// openBolt opens shard id's bolt log store.
func (n *Node) openBolt(id int) (*raftboltdb.BoltStore, error) {
	s, err := raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(n.shardDir(id), boltFile),
		BoltOptions: &bbolt.Options{
			Timeout:        2 * time.Second,
			NoFreelistSync: true,
			FreelistType:   bbolt.FreelistMapType,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open shard %d log (is another raftcache using %s?): %w", id, n.shardDir(id), err)
	}
	return s, nil
}

// stableKeys are the stable-store keys hashicorp/raft uses.
var stableKeys = []string{"CurrentTerm", "LastVoteTerm", "LastVoteCand"}

// migrateBoltToWAL copies every shard's bolt log and stable values into a
// new WAL beside them, then puts it in place: the copy is built under
// wal.migrating and renamed to wal once whole and synced, cluster.json
// then records the WAL, and only then are the bolt files deleted. A stop at
// any point leaves either the bolt files in charge (the copy is redone) or
// the WAL (the leftover bolt files are deleted).
func (n *Node) migrateBoltToWAL() error {
	dir := filepath.Join(n.cfg.Dir, migratingDir)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(n.cfg.Dir, walDir)); err != nil {
		return err
	}
	w, err := wal.Open(wal.Options{Dir: dir, SegmentSize: n.cfg.WALSegmentSize, Logger: n.log.Named("wal")})
	if err != nil {
		return err
	}
	entries := 0
	for _, def := range n.meta.Shards {
		k, err := n.copyBoltShard(def.ID, w.Shard(uint32(def.ID)))
		if err != nil {
			w.Close()
			return err
		}
		entries += k
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := os.Rename(dir, filepath.Join(n.cfg.Dir, walDir)); err != nil {
		return err
	}
	if err := syncDir(n.cfg.Dir); err != nil {
		return err
	}
	n.meta.LogStore = LogStoreWAL
	if err := n.meta.save(n.cfg.Dir); err != nil {
		return err
	}
	n.log.Info("migrated the Raft logs from bolt to the wal log store", zap.Int("shards", len(n.meta.Shards)),
		zap.Int("entries", entries))
	return n.removeMigratedBoltFiles()
}

// copyBoltShard copies one shard's bolt log (checked and repaired first,
// as at every start) and stable values into dst.
func (n *Node) copyBoltShard(id int, dst *wal.ShardLog) (int, error) {
	if _, err := os.Stat(filepath.Join(n.shardDir(id), boltFile)); errors.Is(err, os.ErrNotExist) {
		return 0, nil // never started; nothing to copy
	}
	src, err := n.openBolt(id)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	snapshots, err := raft.NewFileSnapshotStoreWithLogger(n.shardDir(id), 2, newHclog(n.log.Named("snapshots")))
	if err != nil {
		return 0, fmt.Errorf("open shard %d snapshots: %w", id, err)
	}
	snapIndex, err := latestSnapshotIndex(snapshots)
	if err != nil {
		return 0, fmt.Errorf("shard %d: %w", id, err)
	}
	log := n.log.Named("shard").With(zap.Int("shard", id))
	if err := verifyLog(id, monotonicLog{src}, snapIndex, log); err != nil {
		return 0, err
	}
	for _, k := range stableKeys {
		v, err := src.Get([]byte(k))
		if err != nil || len(v) == 0 {
			continue // never set
		}
		if err := dst.Set([]byte(k), v); err != nil {
			return 0, fmt.Errorf("shard %d copy %s: %w", id, k, err)
		}
	}
	first, err := src.FirstIndex()
	if err != nil {
		return 0, fmt.Errorf("shard %d first index: %w", id, err)
	}
	last, err := src.LastIndex()
	if err != nil {
		return 0, fmt.Errorf("shard %d last index: %w", id, err)
	}
	if last == 0 {
		return 0, nil
	}
	const chunk = 256
	batch := make([]*raft.Log, 0, chunk)
	for i := first; i <= last; i++ {
		l := new(raft.Log)
		if err := src.GetLog(i, l); err != nil {
			return 0, fmt.Errorf("shard %d read entry %d: %w", id, i, err)
		}
		batch = append(batch, l)
		if len(batch) == chunk || i == last {
			if err := dst.StoreLogs(batch); err != nil {
				return 0, fmt.Errorf("shard %d copy entries to %d: %w", id, i, err)
			}
			batch = batch[:0]
		}
	}
	return int(last - first + 1), nil
}

// LogInfo describes the node's log store for INFO.
type LogInfo struct {
	Store string // LogStoreWAL or LogStoreBolt
	Fsync wal.SyncMode
	// WAL is the WAL's activity since the node started (zero for bolt).
	WAL wal.Stats
}

// LogInfo describes the node's log store.
func (n *Node) LogInfo() LogInfo {
	info := LogInfo{Store: n.meta.LogStore, Fsync: n.cfg.Fsync}
	if n.wal != nil {
		info.WAL = n.wal.Stats()
	}
	return info
}
