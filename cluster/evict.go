package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/raftcache/raftcache/store"
)

// Eviction (see DESIGN.md, "Eviction"): every node holds a replica of
// every shard, so a node's memory is what maxmemory bounds. Only shard
// leaders decide: when the node's keyspace memory passes maxmemory, each
// shard this node leads is brought down to its budget (shardBudgets) by
// Redis's sampled eviction (a pool of the 16 best candidates, refilled
// with maxmemory-samples random keys), and
// proposes the victims as one raftcache.evict entry through the group
// commit. Replicas apply it like any write and never evict on their own,
// so they stay identical. A key written after it was sampled survives the
// entry (its version changed). A new leader starts with the access data
// its replica kept: the writes, and the reads it served as a leader
// before; so for its first evictWarmup it evicts only past 1.25 ×
// maxmemory, while the reads it now serves mark the keys in use. A key not
// read in that time is judged by its older access data.

// EvictionConfig is maxmemory and the settings of its policy.
type EvictionConfig struct {
	MaxMemory    int64 // bytes; 0: no limit
	Policy       store.EvictPolicy
	Samples      int
	LFULogFactor int
	LFUDecayTime int
}

// DefaultEvictionConfig is Redis's defaults: no limit, noeviction, 5
// samples, lfu-log-factor 10, lfu-decay-time 1.
func DefaultEvictionConfig() EvictionConfig {
	return EvictionConfig{Policy: store.NoEviction, Samples: 5, LFULogFactor: 10, LFUDecayTime: 1}
}

// Check reports what is wrong with c, as CONFIG SET would.
func (c EvictionConfig) Check() error {
	switch {
	case c.MaxMemory < 0:
		return errors.New("maxmemory must not be negative")
	case c.Samples < 1 || c.Samples > 64:
		return errors.New("maxmemory-samples must be between 1 and 64")
	case c.LFULogFactor < 0:
		return errors.New("lfu-log-factor must not be negative")
	case c.LFUDecayTime < 0:
		return errors.New("lfu-decay-time must not be negative")
	}
	return nil
}

// evictState is a node's eviction settings and counters.
type evictState struct {
	cfg  atomic.Pointer[EvictionConfig]
	wake chan struct{}
	// used is the node's keyspace memory as last measured (every tick).
	used atomic.Int64
	// overSince is when used last went over maxmemory (Unix ns; 0: not
	// over); exceeded adds up the time spent over.
	overSince atomic.Int64
	exceeded  atomic.Int64
}

const (
	evictTick     = 10 * time.Millisecond
	evictPoolSize = 16  // Redis's EVPOOL_SIZE
	evictBatchMax = 256 // keys in one entry
	// evictWarmup is how long a new leader waits before it evicts, unless
	// memory is a quarter past maxmemory.
	evictWarmup = 500 * time.Millisecond
)

// Eviction returns the node's eviction settings.
func (n *Node) Eviction() EvictionConfig {
	if c := n.evict.cfg.Load(); c != nil {
		return *c
	}
	return DefaultEvictionConfig()
}

// SetEviction changes this node's eviction settings and keeps them in its
// data directory (evictionFile), so that a restart keeps them too.
func (n *Node) SetEviction(c EvictionConfig) error {
	if err := c.Check(); err != nil {
		return err
	}
	if err := saveEviction(n.cfg.Dir, c); err != nil {
		return err
	}
	n.useEviction(c)
	return nil
}

// evictionFile keeps the settings CONFIG SET gave, in the data directory.
const evictionFile = "eviction.json"

type evictionJSON struct {
	MaxMemory    int64  `json:"maxmemory"`
	Policy       string `json:"maxmemory_policy"`
	Samples      int    `json:"maxmemory_samples"`
	LFULogFactor int    `json:"lfu_log_factor"`
	LFUDecayTime int    `json:"lfu_decay_time"`
}

func saveEviction(dir string, c EvictionConfig) error {
	b, err := json.Marshal(evictionJSON{c.MaxMemory, c.Policy.String(), c.Samples, c.LFULogFactor, c.LFUDecayTime})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(dir, evictionFile, append(b, '\n')); err != nil {
		return fmt.Errorf("keep the eviction settings: %w", err)
	}
	return nil
}

// loadEviction reads the settings a CONFIG SET kept; ok is false when
// there are none.
func loadEviction(dir string) (c EvictionConfig, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, evictionFile))
	if errors.Is(err, os.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read %s: %w", evictionFile, err)
	}
	var j evictionJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return c, false, fmt.Errorf("parse %s: %w", evictionFile, err)
	}
	p, known := store.ParseEvictPolicy(j.Policy)
	if !known {
		return c, false, fmt.Errorf("%s: unknown policy %q", evictionFile, j.Policy)
	}
	c = EvictionConfig{MaxMemory: j.MaxMemory, Policy: p, Samples: j.Samples, LFULogFactor: j.LFULogFactor,
		LFUDecayTime: j.LFUDecayTime}
	if err := c.Check(); err != nil {
		return c, false, fmt.Errorf("%s: %w", evictionFile, err)
	}
	return c, true, nil
}

// useEviction puts settings in force on this node.
func (n *Node) useEviction(c EvictionConfig) {
	n.evict.cfg.Store(&c)
	for _, s := range n.shards {
		s.store.SetAccessParams(store.AccessParams{Policy: c.Policy, LFULogFactor: c.LFULogFactor,
			LFUDecayTime: c.LFUDecayTime})
	}
	select {
	case n.evict.wake <- struct{}{}:
	default:
	}
}

// SetEvictionEverywhere changes the eviction settings of this node and of
// every other member, over the cluster port: the node a client's CONFIG
// SET reaches passes it on. It answers the first node that could not be
// told; the others have it. Each node keeps them in its data directory:
// a restarted node keeps them, whatever its flags say (the flags set a new
// node's; deleting eviction.json goes back to them).
func (n *Node) SetEvictionEverywhere(ctx context.Context, c EvictionConfig) error {
	if err := n.SetEviction(c); err != nil {
		return err
	}
	var firstErr error
	for _, m := range n.Members(ctx) {
		if m.Self {
			continue
		}
		status, body, err := n.rpcTo(m.ClusterAddr).call(ctx, append([]byte{opEviction}, encodeEviction(c)...))
		if err == nil && status != statusOK {
			err = errors.New(string(body))
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("tell %s the eviction settings: %w", m.ID, err)
		}
	}
	return firstErr
}

func encodeEviction(c EvictionConfig) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(c.MaxMemory))
	b = append(b, byte(c.Policy))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Samples))
	b = binary.BigEndian.AppendUint32(b, uint32(c.LFULogFactor))
	return binary.BigEndian.AppendUint32(b, uint32(c.LFUDecayTime))
}

func decodeEviction(b []byte) (EvictionConfig, error) {
	if len(b) != 21 || b[8] > byte(store.VolatileTTL) {
		return EvictionConfig{}, fmt.Errorf("%w: eviction settings", errBadFrame)
	}
	return EvictionConfig{
		MaxMemory:    int64(binary.BigEndian.Uint64(b)),
		Policy:       store.EvictPolicy(b[8]),
		Samples:      int(int32(binary.BigEndian.Uint32(b[9:]))),
		LFULogFactor: int(int32(binary.BigEndian.Uint32(b[13:]))),
		LFUDecayTime: int(int32(binary.BigEndian.Uint32(b[17:]))),
	}, nil
}

// handleEviction applies settings a peer passed on.
func (n *Node) handleEviction(body []byte) []byte {
	c, err := decodeEviction(body)
	if err == nil {
		err = n.SetEviction(c)
	}
	if err != nil {
		return errorStatus(statusError, err.Error())
	}
	return []byte{statusOK}
}

// MemoryUsed is the node's keyspace memory as maxmemory counts it: the
// records and large values allocated, the indexes and the stores' fixed
// structures of every shard's replica (store.MemoryStats.Counted), as last
// measured (every 10 ms).
func (n *Node) MemoryUsed() int64 { return n.evict.used.Load() }

// OverMaxMemory reports whether the node's keyspace memory is past
// maxmemory (never without a limit).
func (n *Node) OverMaxMemory() bool {
	c := n.Eviction()
	return c.MaxMemory > 0 && n.MemoryUsed() > c.MaxMemory
}

// EvictionStats are the node's eviction counters for INFO.
type EvictionStats struct {
	Evicted, Hits, Misses int64
	// ExceededTotal is the time spent over maxmemory; ExceededNow that of
	// the current stretch (0 when under).
	ExceededTotal, ExceededNow time.Duration
}

// EvictionStats adds up the shards' counters (each replica counts the
// evictions it applied, so every node shows the same evicted_keys).
func (n *Node) EvictionStats() EvictionStats {
	var st EvictionStats
	for _, s := range n.shards {
		k := s.store.KeyspaceStats()
		st.Evicted += k.Evicted
		st.Hits += k.Hits
		st.Misses += k.Misses
	}
	st.ExceededTotal = time.Duration(n.evict.exceeded.Load())
	if since := n.evict.overSince.Load(); since != 0 {
		st.ExceededNow = time.Since(time.Unix(0, since))
		st.ExceededTotal += st.ExceededNow
	}
	return st
}

// measureMemory measures the node's keyspace memory and each shard's,
// and keeps the time spent over maxmemory.
func (n *Node) measureMemory(limit int64) (int64, []int64) {
	per := make([]int64, len(n.shards))
	var used int64
	for i, s := range n.shards {
		per[i] = s.store.Memory().Counted()
		used += per[i]
	}
	n.evict.used.Store(used)
	now := time.Now().UnixNano()
	over := limit > 0 && used > limit
	since := n.evict.overSince.Load()
	switch {
	case over && since == 0:
		n.evict.overSince.Store(now)
	case !over && since != 0:
		n.evict.overSince.Store(0)
		n.evict.exceeded.Add(now - since)
	}
	return used, per
}

// evictLoop measures the node's memory every tick and, past maxmemory,
// has the leaders among its shards shed the excess.
func (n *Node) evictLoop() {
	defer n.wg.Done()
	t := time.NewTicker(evictTick)
	defer t.Stop()
	lastHints := time.Now()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		case <-n.evict.wake:
		}
		c := n.Eviction()
		if time.Since(lastHints) >= hintEvery {
			lastHints = time.Now()
			n.sendHints(c)
		}
		used, per := n.measureMemory(c.MaxMemory)
		if c.MaxMemory <= 0 || used <= c.MaxMemory || c.Policy == store.NoEviction {
			continue
		}
		budget := shardBudgets(c.MaxMemory, per)
		var wg sync.WaitGroup
		for i, s := range n.shards {
			if _, ok := s.leaderReady(); !ok || per[i] == 0 {
				continue
			}
			// A new leader knows only the accesses its replica saw (the
			// writes, and reads it served as leader before): it first lets
			// the reads it now serves mark the keys in use.
			if time.Since(time.Unix(0, s.readySince.Load())) < evictWarmup && used <= c.MaxMemory*5/4 {
				continue
			}
			if over := per[i] - budget[i]; over > 0 {
				wg.Go(func() { n.evictFrom(s, c, over) })
			}
		}
		wg.Wait()
	}
}

// sendHints has every shard this node leads, while eviction is on,
// sample its reads, and proposes what it sampled since the last time as
// access hints (store.CmdTouch), so that the followers — one of which may
// lead next — know which keys are read.
func (n *Node) sendHints(c EvictionConfig) {
	on := c.MaxMemory > 0 && c.Policy != store.NoEviction
	for _, s := range n.shards {
		lead := on && s.raft.State() == raft.Leader
		s.store.SetHinting(lead)
		if !lead {
			continue
		}
		cmd := s.store.TakeHints()
		if cmd == nil {
			continue
		}
		n.wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.applyLimit)
			defer cancel()
			if _, err := s.Propose(ctx, [][][]byte{cmd}); err != nil && !errors.Is(err, ErrNotLeader) &&
				!errors.Is(err, ErrShutdown) {
				s.log.Debug("access hints not sent", zap.Error(err))
			}
		})
	}
}

// hintEvery is how often a leader sends the access hints it sampled.
const hintEvery = time.Second

// shardBudgets splits maxmemory among the shards of a node: an equal part
// each, and what the shards below their part leave unused shared among the
// others in proportion to their size. Past maxmemory each shard's leader
// evicts its shard down to its budget: a shard whose leader cannot evict
// (an election under way) does not make the others evict its part.
func shardBudgets(limit int64, per []int64) []int64 {
	out := make([]int64, len(per))
	if len(per) == 0 {
		return out
	}
	equal := limit / int64(len(per))
	var spare, big int64
	for _, p := range per {
		if p < equal {
			spare += equal - p
		} else {
			big += p
		}
	}
	for i, p := range per {
		out[i] = equal
		if p >= equal && big > 0 {
			out[i] += spare * p / big
		}
	}
	return out
}

// evictFrom proposes the eviction of about want bytes of s's keys, chosen
// by c's policy.
func (n *Node) evictFrom(s *Shard, c EvictionConfig, want int64) {
	// A pool of this round only: a key's score is its access data when
	// sampled, and a hot key sampled a while ago may have been read since.
	pool := &evictPool{}
	now := time.Now().UnixMilli()
	var victims []store.Candidate
	var freed int64
	chosen := map[string]bool{}
	var sample []store.Candidate
	for freed < want && len(victims) < evictBatchMax {
		sample = s.store.Sample(c.Policy, c.Samples, now, sample[:0])
		pool.add(sample, chosen)
		v, ok := pool.take()
		if !ok {
			break // nothing this policy may evict
		}
		chosen[string(v.Key)] = true
		victims = append(victims, v)
		freed += v.Size
	}
	if len(victims) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.applyLimit)
	defer cancel()
	if _, err := s.Propose(ctx, [][][]byte{store.EvictArgs(victims)}); err != nil && !errors.Is(err, ErrNotLeader) {
		s.log.Warn("eviction proposal failed", zap.Error(err), zap.Int("keys", len(victims)))
	}
}

// evictPool keeps the best candidates seen, as Redis's eviction pool:
// each round adds a few random keys, and the best of all goes first.
type evictPool struct {
	mu    sync.Mutex
	cands []store.Candidate // sorted by score, best last
}

// add merges cands into the pool, keeping the evictPoolSize best; keys in
// skip (already chosen this round) stay out.
func (p *evictPool) add(cands []store.Candidate, skip map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cands {
		if skip[string(c.Key)] || slices.ContainsFunc(p.cands, func(x store.Candidate) bool {
			return string(x.Key) == string(c.Key)
		}) {
			continue
		}
		i, _ := slices.BinarySearchFunc(p.cands, c.Score, func(x store.Candidate, score uint64) int {
			switch {
			case x.Score < score:
				return -1
			case x.Score > score:
				return 1
			}
			return 0
		})
		if len(p.cands) == evictPoolSize {
			if i == 0 {
				continue // worse than everything kept
			}
			p.cands = slices.Delete(p.cands, 0, 1)
			i--
		}
		p.cands = slices.Insert(p.cands, i, c)
	}
}

// take removes and returns the best candidate.
func (p *evictPool) take() (store.Candidate, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.cands) == 0 {
		return store.Candidate{}, false
	}
	c := p.cands[len(p.cands)-1]
	p.cands = p.cands[:len(p.cands)-1]
	return c, true
}
