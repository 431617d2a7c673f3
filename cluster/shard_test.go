package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap/zaptest"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// replica is one member of an in-memory shard group.
type replica struct {
	id    string
	addr  raft.ServerAddress
	trans *raft.InmemTransport
	shard *Shard
}

type group struct {
	t        *testing.T
	replicas []*replica
	// cfg is the replicas' configuration: inmemConfig unless newGroupWith
	// gave another.
	cfg Config
}

func inmemConfig() Config {
	c := Config{
		HeartbeatTimeout:   100 * time.Millisecond,
		ElectionTimeout:    100 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond,
		SnapshotThreshold:  1 << 30,
		SnapshotInterval:   time.Hour,
		TrailingLogs:       10,
		ApplyTimeout:       5 * time.Second,
	}
	c.setDefaults()
	return c
}

// newGroup starts n replicas of one shard over raft.InmemTransport, all
// bootstrapped with the same voters.
func newGroup(t *testing.T, n int) *group { return newGroupWith(t, n, inmemConfig()) }

// newGroupWith is newGroup with the replicas' configuration.
func newGroupWith(t *testing.T, n int, cfg Config) *group {
	g := &group{t: t, cfg: cfg}
	var servers []raft.Server
	for i := 0; i < n; i++ {
		addr, trans := raft.NewInmemTransport("")
		r := &replica{id: fmt.Sprintf("r%d", i+1), addr: addr, trans: trans}
		g.replicas = append(g.replicas, r)
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(r.id), Address: addr})
	}
	g.connectAll()
	for _, r := range g.replicas {
		g.start(r, servers)
	}
	return g
}

func (g *group) start(r *replica, bootstrap []raft.Server) {
	store := raft.NewInmemStore()
	s, err := startShard(shardConfig{
		id: 0, firstSlot: 0, lastSlot: store16383,
		nodeID:       r.id,
		log:          zaptest.NewLogger(g.t).With(),
		cfg:          g.cfg,
		bootstrap:    bootstrap,
		clientAddrOf: func(id string) string { return "client-" + id },
	}, shardStorage{logs: store, stable: store, snapshots: raft.NewInmemSnapshotStore(), transport: r.trans})
	if err != nil {
		g.t.Fatalf("start %s: %v", r.id, err)
	}
	r.shard = s
	g.t.Cleanup(func() { _ = s.close() })
}

const store16383 = store.NumSlots - 1

func (g *group) connectAll() {
	for _, a := range g.replicas {
		for _, b := range g.replicas {
			if a != b {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
}

// isolate cuts every link between r and the others, both ways.
func (g *group) isolate(r *replica) {
	for _, o := range g.replicas {
		if o != r {
			r.trans.Disconnect(o.addr)
			o.trans.Disconnect(r.addr)
		}
	}
}

// leader waits for exactly one replica among candidates to lead.
func (g *group) leader(candidates ...*replica) *replica {
	g.t.Helper()
	if len(candidates) == 0 {
		candidates = g.replicas
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var leaders []*replica
		for _, r := range candidates {
			if r.shard.IsLeader() {
				leaders = append(leaders, r)
			}
		}
		if len(leaders) == 1 {
			if _, ready := leaders[0].shard.leaderReady(); ready {
				return leaders[0]
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.t.Fatal("no single ready leader within 10s")
	return nil
}

func (g *group) propose(r *replica, a ...string) resp.Reply {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	replies, err := r.shard.Propose(ctx, [][][]byte{args(a...)})
	if err != nil {
		g.t.Fatalf("propose %v on %s: %v", a, r.id, err)
	}
	return replies[0]
}

// waitValue waits until r's local replica holds want at key.
func (g *group) waitValue(r *replica, key, want string) {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := r.shard.ReadLocal(args("GET", key)); string(got.Str) == want {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%s never held %s=%q", r.id, key, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShardGroupReplicatesAndRefusesFollowerWrites(t *testing.T) {
	g := newGroup(t, 3)
	l := g.leader()
	if r := g.propose(l, "SET", "k", "v"); r.Kind != resp.KindSimple {
		t.Fatalf("SET = %+v", r)
	}
	for _, r := range g.replicas {
		g.waitValue(r, "k", "v")
	}
	for _, r := range g.replicas {
		if r == l {
			continue
		}
		_, err := r.shard.Propose(t.Context(), [][][]byte{args("SET", "k", "x")})
		var nl *NotLeaderError
		if !errors.As(err, &nl) || nl.LeaderID != l.id || nl.LeaderAddr != "client-"+l.id {
			t.Fatalf("write on follower %s: %v, want NotLeaderError naming %s", r.id, err, l.id)
		}
		if _, err := r.shard.Read(t.Context(), args("GET", "k")); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("linearizable read on follower %s: %v, want ErrNotLeader", r.id, err)
		}
	}
}

// TestPartitionedLeaderServesNoStaleRead isolates the leader, lets the
// majority elect a new one and overwrite a key, and checks that the old
// leader never answers a read with the old value.
func TestPartitionedLeaderServesNoStaleRead(t *testing.T) {
	g := newGroup(t, 3)
	old := g.leader()
	g.propose(old, "SET", "k", "v1")
	for _, r := range g.replicas {
		g.waitValue(r, "k", "v1")
	}
	g.isolate(old)
	var rest []*replica
	for _, r := range g.replicas {
		if r != old {
			rest = append(rest, r)
		}
	}
	nl := g.leader(rest...)
	g.propose(nl, "SET", "k", "v2")

	// However often it is asked, the deposed leader must refuse.
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := old.shard.Read(ctx, args("GET", "k"))
		cancel()
		if err == nil {
			t.Fatalf("isolated old leader served a read: %q", r.Str)
		}
	}
	g.connectAll()
	g.waitValue(old, "k", "v2")
	if old.shard.IsLeader() && g.leader() != old {
		t.Fatal("two leaders after healing")
	}
}

// TestSnapshotInstallCatchesUpFollower cuts a follower off while the
// leader writes, snapshots and compacts its log, then reconnects it: it
// can only catch up by installing the snapshot.
func TestSnapshotInstallCatchesUpFollower(t *testing.T) {
	g := newGroup(t, 3)
	l := g.leader()
	var f *replica
	for _, r := range g.replicas {
		if r != l {
			f = r
			break
		}
	}
	g.isolate(f)
	l = g.leader(without(g.replicas, f)...)
	for i := 0; i < 200; i++ {
		g.propose(l, "SET", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	if err := l.shard.Snapshot(); err != nil {
		t.Fatal(err)
	}
	for i := 200; i < 230; i++ {
		g.propose(l, "SET", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	if metas, _ := f.shard.snapshots.List(); len(metas) != 0 {
		t.Fatal("isolated follower already has a snapshot")
	}
	g.connectAll()
	g.waitValue(f, "k229", "v229")
	g.waitValue(f, "k0", "v0")
	if metas, _ := f.shard.snapshots.List(); len(metas) == 0 {
		t.Fatal("follower caught up without installing a snapshot")
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.shard.Digest() != l.shard.Digest() {
		if time.Now().After(deadline) {
			t.Fatal("follower's replica differs from the leader's after catching up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func without(rs []*replica, x *replica) []*replica {
	var out []*replica
	for _, r := range rs {
		if r != x {
			out = append(out, r)
		}
	}
	return out
}

// TestMembershipChange adds a fourth replica, which receives the data,
// then removes one of the original three; writes go on throughout.
func TestMembershipChange(t *testing.T) {
	g := newGroup(t, 3)
	l := g.leader()
	g.propose(l, "SET", "before", "1")

	addr, trans := raft.NewInmemTransport("")
	r4 := &replica{id: "r4", addr: addr, trans: trans}
	g.replicas = append(g.replicas, r4)
	g.connectAll()
	g.start(r4, nil) // joins empty, never bootstraps
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.shard.AddVoter(ctx, r4.id, string(r4.addr)); err != nil {
		t.Fatal(err)
	}
	g.propose(l, "SET", "after", "2")
	g.waitValue(r4, "before", "1")
	g.waitValue(r4, "after", "2")

	victim := g.replicas[0]
	if victim == l {
		victim = g.replicas[1]
	}
	if err := l.shard.RemoveServer(ctx, victim.id); err != nil {
		t.Fatal(err)
	}
	voters, err := l.shard.Voters()
	if err != nil {
		t.Fatal(err)
	}
	if len(voters) != 3 {
		t.Fatalf("voters after add and remove = %v", voters)
	}
	for _, v := range voters {
		if string(v.ID) == victim.id {
			t.Fatalf("removed %s is still a voter", victim.id)
		}
	}
	g.propose(l, "SET", "removed", "3")
	g.waitValue(r4, "removed", "3")
	if err := victim.shard.AddVoter(ctx, "x", "y"); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("membership change on a non-leader: %v", err)
	}
}

// failingLogs is a raft.LogStore whose writes fail once armed, like a full
// disk.
type failingLogs struct {
	*raft.InmemStore
	fail atomic.Bool
}

var errDiskFull = errors.New("write raft.db: no space left on device")

func (f *failingLogs) StoreLog(l *raft.Log) error { return f.StoreLogs([]*raft.Log{l}) }

func (f *failingLogs) StoreLogs(ls []*raft.Log) error {
	if f.fail.Load() {
		return errDiskFull
	}
	return f.InmemStore.StoreLogs(ls)
}

// TestFullDiskFailsWritesClearly: a leader whose log cannot be written
// answers the write with the storage error, and nothing of it is applied
// anywhere.
func TestFullDiskFailsWritesClearly(t *testing.T) {
	addr, trans := raft.NewInmemTransport("")
	logs := &failingLogs{InmemStore: raft.NewInmemStore()}
	s, err := startShard(shardConfig{
		id: 0, lastSlot: store16383, nodeID: "r1",
		log: zaptest.NewLogger(t), cfg: inmemConfig(),
		bootstrap:    []raft.Server{{Suffrage: raft.Voter, ID: "r1", Address: addr}},
		clientAddrOf: func(string) string { return "" },
	}, shardStorage{logs: logs, stable: logs.InmemStore, snapshots: raft.NewInmemSnapshotStore(), transport: trans})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.waitForReadyLeader(ctx); err != nil {
		t.Fatal(err)
	}
	logs.fail.Store(true)
	_, err = s.Propose(t.Context(), [][][]byte{args("SET", "k", "v")})
	if !errors.Is(err, errDiskFull) || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("write on a full disk: %v, want the storage error as a definite failure", err)
	}
	if r := s.ReadLocal(args("GET", "k")); r.Kind != resp.KindNull {
		t.Fatalf("failed write was applied: %+v", r)
	}
}

// TestGroupCommitSharesEntries proposes from many goroutines at once:
// every caller gets its own replies, in its own order, and the proposals
// share log entries.
func TestGroupCommitSharesEntries(t *testing.T) {
	g := newGroup(t, 1)
	l := g.leader()
	before := l.shard.raft.LastIndex()
	const callers, each = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				key := fmt.Sprintf("c%d", c)
				replies, err := l.shard.Propose(context.Background(), [][][]byte{args("INCR", key), args("GET", key)})
				if err != nil {
					errs <- err
					return
				}
				if replies[0].Int != int64(i+1) || string(replies[1].Str) != fmt.Sprint(i+1) {
					errs <- fmt.Errorf("caller %d step %d got %+v", c, i, replies)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	entries := l.shard.raft.LastIndex() - before
	if entries >= callers*each {
		t.Fatalf("%d proposals took %d log entries; concurrent proposals should share entries", callers*each, entries)
	}
	t.Logf("%d concurrent proposals in %d log entries", callers*each, entries)
}

// TestReadConfirmationOnlyWithOtherVoters: a shard whose only voter is
// its leader serves reads without a leadership round trip (nobody can
// depose it without its vote); with other voters, every read batch waits
// for one.
func TestReadConfirmationOnlyWithOtherVoters(t *testing.T) {
	for _, c := range []struct {
		voters     int
		wantRounds bool
	}{{1, false}, {3, true}} {
		t.Run(fmt.Sprintf("%d voters", c.voters), func(t *testing.T) {
			g := newGroup(t, c.voters)
			l := g.leader()
			g.propose(l, "SET", "k", "v")
			before := l.shard.verify.rounds.Load()
			for range 5 {
				rs, err := l.shard.ReadBatch(context.Background(), [][][]byte{args("GET", "k")}, nil)
				if err != nil || string(rs[0].Str) != "v" {
					t.Fatalf("GET k = %+v, %v", rs, err)
				}
			}
			if rounds := l.shard.verify.rounds.Load() - before; (rounds > 0) != c.wantRounds {
				t.Fatalf("%d leadership confirmations for 5 reads with %d voters", rounds, c.voters)
			}
		})
	}
}
