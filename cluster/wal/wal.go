package wal

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// SyncMode says when the log's writes are made durable.
type SyncMode int

const (
	// SyncAlways syncs every write before it is acknowledged (Redis's
	// appendfsync always).
	SyncAlways SyncMode = iota
	// SyncEverySec acknowledges a write once the operating system has it
	// and syncs at most a second later (Redis's appendfsync everysec). A
	// crash of the process loses nothing; a power loss may lose the last
	// second. Term and vote changes are always synced.
	SyncEverySec
)

// ParseSyncMode parses "always" or "everysec".
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case "always":
		return SyncAlways, nil
	case "everysec":
		return SyncEverySec, nil
	}
	return 0, fmt.Errorf("fsync must be always or everysec, not %q", s)
}

func (m SyncMode) String() string {
	if m == SyncEverySec {
		return "everysec"
	}
	return "always"
}

// Defaults for Options left zero.
const (
	DefaultSegmentSize = 64 << 20
	defaultSyncEvery   = time.Second
)

// Options configures a log.
type Options struct {
	// Dir holds the segment files; it is created if missing.
	Dir string
	// SegmentSize is the size each segment file is preallocated to; a
	// segment is closed once the next write would not fit.
	SegmentSize int64
	Sync        SyncMode
	Logger      *zap.Logger
	// SyncObserver, if set, is called after every sync of a segment with
	// how long it took, on the writer's goroutine: it must be quick (a
	// histogram's Observe), since the next write waits for it.
	SyncObserver func(time.Duration)

	fs        fileSystem    // nil: the real one
	syncEvery time.Duration // SyncEverySec's period
}

// position locates one entry record.
type position struct {
	seg uint64
	off int64
	n   uint32
}

// shardState is one shard's view of the log.
type shardState struct {
	// first is the index of pos[0]; pos holds entries first, first+1, ...
	first uint64
	pos   []position
	// pfirst and plast project first and last index onto the operations
	// queued but not written yet (plast 0: empty), so that a queued append
	// is checked against what will be there when it is written.
	pfirst, plast uint64
	stable        map[string][]byte
}

func (s *shardState) last() uint64 {
	if len(s.pos) == 0 {
		return 0
	}
	return s.first + uint64(len(s.pos)) - 1
}

// segment is one open segment file.
type segment struct {
	id   uint64
	name string
	f    file
	// size is the preallocated size; writes past it grow the file.
	size int64
	// mu is held shared by readers and exclusively by removal.
	mu     sync.RWMutex
	closed bool
}

// WAL is one node's write-ahead log, shared by the Raft groups of all its
// shards. Every method is safe for concurrent use. Writes from all shards
// that arrive while one is being written and synced are written together
// with the next write call and covered by its single sync.
type WAL struct {
	opts Options
	fs   fileSystem
	log  *zap.Logger

	mu     sync.Mutex
	shards map[uint32]*shardState
	segs   map[uint64]*segment
	cur    *batch // collecting the next write
	// err, once set, fails every later call: the log could not be kept
	// consistent (a failed sync, or a failed write it could not undo).
	err    error
	closed bool

	kick     chan struct{}
	stopping chan struct{}
	wg       sync.WaitGroup

	// Owned by the writer goroutine once Open returns.
	active    *segment
	activeOff int64
	dataStart int64 // activeOff of an active segment that holds no batch yet
	nextSeq   uint64
	dirty     bool // written since the last sync
	// lastSync is how long the last sync took; recent maps a shard to the
	// number of the last batch it appended in (see gather).
	lastSync time.Duration
	recent   map[uint32]uint64
	batchNo  uint64
	// stableW is the stable state as written so far: each new segment
	// starts with a copy, so removing older segments never loses it.
	stableW map[uint32]map[string][]byte
	spare   chan spareFile
	// spareBufs are the buffers of the last written batch, reused.
	spareBuf    []byte
	spareFrames []int
	spareRecs   []recSpan
	spareOps    []op

	stats counters
}

type counters struct {
	batches, frames, syncs, syncNanos, bytes, rotations, removed atomic.Uint64
}

// Stats is what the log has done since it was opened.
type Stats struct {
	Segments     int    // segment files in use
	DiskBytes    int64  // their size on disk, preallocation included
	Writes       uint64 // write calls (batches)
	Frames       uint64
	Syncs        uint64
	SyncTime     time.Duration // spent in fdatasync, in all
	BytesWritten uint64
	Rotations    uint64
	Removed      uint64 // segment files deleted
}

const (
	segmentSuffix = ".wal"
	spareName     = "prealloc.tmp"
)

func segmentName(id uint64) string { return fmt.Sprintf("%020d%s", id, segmentSuffix) }

// Open opens the log in opts.Dir, creating it if needed, and replays it:
// every shard's entries, deletions and stable values are indexed in
// memory. A torn or garbled tail of the newest segment — a write that
// never completed, so was never acknowledged — is cut back to the last
// whole frame. Damage anywhere else is refused with an error wrapping
// ErrCorrupt.
func Open(opts Options) (*WAL, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.SegmentSize < segHeaderLen+frameHeaderLen {
		return nil, fmt.Errorf("segment size %d is too small", opts.SegmentSize)
	}
	if opts.syncEvery <= 0 {
		opts.syncEvery = defaultSyncEvery
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	w := &WAL{
		opts:     opts,
		fs:       opts.fs,
		log:      opts.Logger,
		shards:   make(map[uint32]*shardState),
		segs:     make(map[uint64]*segment),
		kick:     make(chan struct{}, 1),
		stopping: make(chan struct{}),
		stableW:  make(map[uint32]map[string][]byte),
		recent:   make(map[uint32]uint64),
		spare:    make(chan spareFile, 1),
	}
	if w.fs == nil {
		w.fs = osFS{}
	}
	w.cur = w.newBatch()
	if err := w.fs.MkdirAll(opts.Dir); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	if err := w.replay(); err != nil {
		w.closeFiles()
		return nil, err
	}
	w.startSpare()
	if w.active == nil {
		if err := w.rotate(); err != nil {
			if sp := <-w.spare; sp.f != nil { // the preparation rotate started
				_ = sp.f.Close()
				_ = w.fs.Remove(filepath.Join(opts.Dir, spareName))
			}
			w.closeFiles()
			return nil, fmt.Errorf("create first log segment: %w", err)
		}
	}
	w.wg.Add(1)
	go w.run()
	return w, nil
}

// replay reads every segment in order and rebuilds the in-memory state.
func (w *WAL) replay() error {
	names, err := w.fs.List(w.opts.Dir)
	if err != nil {
		return fmt.Errorf("list log dir: %w", err)
	}
	var ids []uint64
	for _, name := range names {
		if strings.HasSuffix(name, ".tmp") {
			// A preallocated segment never put in use.
			if err := w.fs.Remove(filepath.Join(w.opts.Dir, name)); err != nil {
				return fmt.Errorf("remove %s: %w", name, err)
			}
			continue
		}
		base, ok := strings.CutSuffix(name, segmentSuffix)
		if !ok {
			continue
		}
		id, err := strconv.ParseUint(base, 10, 64)
		if err != nil || segmentName(id) != name {
			return fmt.Errorf("%w: unexpected file %s in the log dir", ErrCorrupt, name)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			return fmt.Errorf("%w: segment %d is missing (have %d and %d)", ErrCorrupt, ids[i-1]+1, ids[i-1], ids[i])
		}
	}
	for i, id := range ids {
		if err := w.replaySegment(id, i == 0, i == len(ids)-1); err != nil {
			return err
		}
	}
	for id, st := range w.shards {
		st.pfirst, st.plast = st.first, st.last()
		if len(st.pos) == 0 {
			st.pfirst = 0
		}
		w.log.Info("log replayed", zap.Uint32("shard", id), zap.Uint64("first", st.first),
			zap.Uint64("last", st.last()), zap.Int("segments", len(ids)))
	}
	return nil
}

func (w *WAL) replaySegment(id uint64, first, last bool) error {
	name := filepath.Join(w.opts.Dir, segmentName(id))
	f, err := w.fs.Open(name)
	if err != nil {
		return fmt.Errorf("open log segment %d: %w", id, err)
	}
	seg := &segment{id: id, name: name, f: f}
	w.segs[id] = seg
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("log segment %d size: %w", id, err)
	}
	seg.size = max(size, w.opts.SegmentSize)
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil {
		return fmt.Errorf("read log segment %d: %w", id, err)
	}
	h, err := parseSegHeader(data)
	if err != nil {
		return fmt.Errorf("log segment %d: %w", id, err)
	}
	if h.id != id {
		return fmt.Errorf("%w: segment file %d says it is segment %d", ErrCorrupt, id, h.id)
	}
	if !first && h.firstSeq != w.nextSeq {
		return fmt.Errorf("%w: segment %d starts at frame %d, not %d", ErrCorrupt, id, h.firstSeq, w.nextSeq)
	}
	w.nextSeq = h.firstSeq
	off := int64(segHeaderLen)
	start := off
	frames := 0
	torn := ""
	for {
		if off+frameHeaderLen > size {
			break
		}
		fh := parseFrameHeader(data[off:])
		if fh.zero() {
			break
		}
		end := off + frameHeaderLen + int64(fh.bodyLen)
		if fh.bodyLen > maxFrameBody || end > size {
			torn = "a frame runs past the end of the file"
			break
		}
		body := data[off+frameHeaderLen : end]
		if !fh.check(body) {
			torn = "a frame fails its checksum"
			break
		}
		if fh.seq != w.nextSeq {
			torn = fmt.Sprintf("frame %d is out of order (want %d)", fh.seq, w.nextSeq)
			break
		}
		if err := w.replayFrame(id, off+frameHeaderLen, body); err != nil {
			return fmt.Errorf("log segment %d frame at offset %d: %w", id, off, err)
		}
		frames++
		w.nextSeq++
		off = end
		if frames == 1 {
			start = off // the checkpoint frame
		}
	}
	if torn == "" && slices.ContainsFunc(data[off:], func(b byte) bool { return b != 0 }) {
		// Data past the end marker: frames written after one that never
		// reached the disk.
		torn = "data follows the end of the frames"
	}
	if torn != "" {
		if !last {
			return fmt.Errorf("%w: segment %d at offset %d: %s, and newer segments follow", ErrCorrupt, id, off, torn)
		}
		if at, ok := syncedFrameAfter(data, off, w.nextSeq-1); ok {
			return fmt.Errorf("%w: segment %d at offset %d: %s, and a frame written after it was synced follows at offset %d",
				ErrCorrupt, id, off, torn, at)
		}
		// A write that never completed: it was never synced, so never
		// acknowledged. Cut it off, and make sure nothing written before
		// the crash past this point can ever be read as a frame again.
		w.log.Warn("cutting the log's torn tail", zap.Uint64("segment", id), zap.Int64("offset", off),
			zap.Int64("bytes", size-off), zap.String("reason", torn))
		if err := f.Truncate(off); err != nil {
			return fmt.Errorf("cut log segment %d: %w", id, err)
		}
		if err := f.Truncate(seg.size); err != nil {
			return fmt.Errorf("cut log segment %d: %w", id, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("cut log segment %d: %w", id, err)
		}
	}
	if frames == 0 {
		return fmt.Errorf("%w: segment %d has no checkpoint frame", ErrCorrupt, id)
	}
	if last {
		w.active, w.activeOff, w.dataStart = seg, off, start
	}
	return nil
}

// replayFrame applies the records of one frame whose body starts at
// offset base of segment seg.
func (w *WAL) replayFrame(seg uint64, base int64, body []byte) error {
	for p := 0; p < len(body); {
		r, err := decodeRecord(body[p:])
		if err != nil {
			return err
		}
		st := w.shard(r.shard)
		switch r.kind {
		case kindEntry:
			if len(st.pos) > 0 && r.log.Index != st.last()+1 {
				return fmt.Errorf("%w: shard %d: entry %d follows entry %d", ErrCorrupt, r.shard, r.log.Index, st.last())
			}
			if len(st.pos) == 0 {
				st.first = r.log.Index
			}
			st.pos = append(st.pos, position{seg: seg, off: base + int64(p), n: uint32(r.size)})
		case kindDelete:
			if err := st.delete(r.min, r.max); err != nil {
				return fmt.Errorf("%w: shard %d: %w", ErrCorrupt, r.shard, err)
			}
		case kindSet:
			st.stable[string(r.key)] = slices.Clone(r.val)
			w.setWritten(r.shard, r.key, r.val)
		}
		p += r.size
	}
	return nil
}

func (w *WAL) setWritten(shard uint32, key, val []byte) {
	m := w.stableW[shard]
	if m == nil {
		m = make(map[string][]byte)
		w.stableW[shard] = m
	}
	m[string(key)] = slices.Clone(val)
}

// shard returns the state of shard id, creating it. w.mu must be held
// (or the log not yet running).
func (w *WAL) shard(id uint32) *shardState {
	st := w.shards[id]
	if st == nil {
		st = &shardState{stable: make(map[string][]byte)}
		w.shards[id] = st
	}
	return st
}

// deleteRange computes the index range [first, last] left after deleting
// [min, max] from it (last 0: empty). Raft only ever deletes a prefix
// (compaction) or a suffix (a conflicting tail, or everything before a
// snapshot install); a hole in the middle is refused.
func deleteRange(first, last, min, max uint64) (uint64, uint64, error) {
	switch {
	case last == 0 || min > max || max < first || min > last:
		return first, last, nil
	case min <= first && max >= last:
		return 0, 0, nil
	case min <= first:
		return max + 1, last, nil
	case max >= last:
		return first, min - 1, nil
	}
	return first, last, fmt.Errorf("cannot delete entries %d-%d from the middle of log %d-%d", min, max, first, last)
}

func (s *shardState) delete(min, max uint64) error {
	first, last, err := deleteRange(s.first, s.last(), min, max)
	if err != nil {
		return err
	}
	if last == 0 {
		s.pos = s.pos[:0]
		s.first = 0
		return nil
	}
	s.pos = s.pos[first-s.first : last-s.first+1]
	s.first = first
	return nil
}

// Stats returns what the log has done since it was opened.
func (w *WAL) Stats() Stats {
	w.mu.Lock()
	st := Stats{Segments: len(w.segs)}
	for _, s := range w.segs {
		st.DiskBytes += s.size
	}
	w.mu.Unlock()
	st.Writes = w.stats.batches.Load()
	st.Frames = w.stats.frames.Load()
	st.Syncs = w.stats.syncs.Load()
	st.SyncTime = time.Duration(w.stats.syncNanos.Load())
	st.BytesWritten = w.stats.bytes.Load()
	st.Rotations = w.stats.rotations.Load()
	st.Removed = w.stats.removed.Load()
	return st
}

// ErrClosed is returned by calls on a closed log.
var ErrClosed = errors.New("write-ahead log is closed")

// Close writes and syncs whatever is queued, then closes the files.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stopping)
	w.wg.Wait()
	w.mu.Lock()
	err := w.err
	w.mu.Unlock()
	if sp := <-w.spare; sp.f != nil {
		_ = sp.f.Close()
		_ = w.fs.Remove(filepath.Join(w.opts.Dir, spareName))
	}
	if cerr := w.closeFiles(); err == nil || errors.Is(err, ErrClosed) {
		err = cerr
	}
	return err
}

func (w *WAL) closeFiles() error {
	var err error
	for _, s := range w.segs {
		s.mu.Lock()
		if !s.closed {
			s.closed = true
			if cerr := s.f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close log segment %d: %w", s.id, cerr)
			}
		}
		s.mu.Unlock()
	}
	return err
}
