package wal

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// batch is what the writer writes with one write call: frames back to
// back in buf, and the operations they carry, applied to the in-memory
// state once the write (and, when due, the sync) succeeded.
type batch struct {
	buf []byte
	// frames holds the offset in buf where each frame starts; the last
	// one is being filled.
	frames []int
	recs   []recSpan
	ops    []op
	// sync is set when a call needs this batch synced even with
	// SyncEverySec (term and vote changes).
	sync bool
	done chan struct{}
	err  error
}

// recSpan is an entry record inside a batch's buf.
type recSpan struct {
	off int
	n   uint32
}

type op struct {
	kind  byte
	shard uint32
	// kindEntry: the records recs[lo:hi], the first with index first.
	lo, hi int
	first  uint64
	// kindDelete
	min, max uint64
	// kindSet
	key string
	val []byte
}

func (w *WAL) newBatch() *batch {
	b := &batch{buf: w.spareBuf[:0], frames: w.spareFrames[:0], recs: w.spareRecs[:0], ops: w.spareOps[:0],
		done: make(chan struct{})}
	w.spareBuf, w.spareFrames, w.spareRecs, w.spareOps = nil, nil, nil, nil
	return b
}

// reserve makes room in the current frame for n more bytes of records
// that must stay in one frame, starting a new frame when the current one
// has reached frameTarget.
func (b *batch) reserve(n int) {
	if k := len(b.frames); k > 0 {
		used := len(b.buf) - b.frames[k-1] - frameHeaderLen
		if used == 0 || used+n <= frameTarget {
			return
		}
	}
	b.frames = append(b.frames, len(b.buf))
	b.buf = append(b.buf, make([]byte, frameHeaderLen)...)
}

// usable returns the error every call gets once the log is closed or
// broken. w.mu must be held.
func (w *WAL) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	return nil
}

// enqueue adds records to the batch being collected, under w.mu: add
// appends them (or refuses, and then nothing is queued). It wakes the
// writer and waits for the batch's outcome.
func (w *WAL) enqueue(add func(w *WAL, b *batch) error) error {
	w.mu.Lock()
	if err := w.usable(); err != nil {
		w.mu.Unlock()
		return err
	}
	b := w.cur
	if err := add(w, b); err != nil {
		w.mu.Unlock()
		return err
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
	w.mu.Unlock()
	return wait(b)
}

// wait waits for b to be written (and synced, if due) and returns its
// outcome.
func wait(b *batch) error {
	<-b.done
	return b.err
}

// ErrMaybeWritten is wrapped by the error of a write that failed in a way
// that leaves it unknown whether it reached the disk (a failed sync, or a
// failed write that could not be undone). The log refuses every later
// call: the node must be restarted, and replays what the disk holds.
var ErrMaybeWritten = errors.New("log write outcome unknown")

// run is the writer: it takes whatever was queued while it wrote the
// previous batch, writes it with one call, syncs, and answers every
// caller at once.
func (w *WAL) run() {
	defer w.wg.Done()
	var tick <-chan time.Time
	if w.opts.Sync == SyncEverySec {
		t := time.NewTicker(w.opts.syncEvery)
		defer t.Stop()
		tick = t.C
	}
	stopping := false
	for {
		select {
		case <-w.kick:
		case <-tick:
			w.syncIfDirty()
			continue
		case <-w.stopping:
			stopping = true
		}
		if !stopping {
			w.gather()
		}
		w.mu.Lock()
		b := w.cur
		if len(b.ops) == 0 {
			w.mu.Unlock()
			if stopping {
				w.syncIfDirty()
				return
			}
			continue
		}
		w.cur = w.newBatch()
		w.mu.Unlock()
		w.noteShards(b)

		err := w.write(b)
		w.mu.Lock()
		if err == nil {
			w.apply(b)
		} else {
			w.fail(b, err)
		}
		removable := w.removable()
		w.mu.Unlock()
		// Removed before the callers are answered, so a DeleteRange that
		// returns has freed the space it could.
		w.remove(removable)
		b.err = err
		close(b.done)
		w.spareBuf, w.spareFrames, w.spareRecs, w.spareOps = b.buf, b.frames, b.recs, b.ops
		if stopping {
			// Drain what is left before leaving.
			select {
			case w.kick <- struct{}{}:
			default:
			}
		}
	}
}

// Gathering: under load each shard's Raft group appends once per round
// (its leader loop, or its follower's RPC loop, waits for the append to be
// durable before the next), and the groups drift out of step, so that
// each sync would carry one group's append and the next group's would wait
// for the following one. Before a write the writer therefore waits, a
// little, for the groups that appended in the last two writes and have
// not queued anything yet: at most a quarter of the last sync's time (and
// lingerMax), never when one group is alone.
const (
	lingerFraction = 4
	lingerMax      = 200 * time.Microsecond
)

// gather waits for the recently active shards' appends, within the
// linger bound.
func (w *WAL) gather() {
	limit := min(w.lastSync/lingerFraction, lingerMax)
	if limit <= 0 || len(w.recent) < 2 {
		return
	}
	deadline := time.Now().Add(limit)
	var timer *time.Timer
	for {
		w.mu.Lock()
		missing := false
		for shard, last := range w.recent {
			if last+2 < w.batchNo {
				delete(w.recent, shard) // idle: stop waiting for it
				continue
			}
			if !w.cur.hasAppendOf(shard) {
				missing = true
			}
		}
		w.mu.Unlock()
		wait := time.Until(deadline)
		if !missing || wait <= 0 {
			return
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-w.kick:
		case <-timer.C:
			return
		case <-w.stopping:
			select { // let run see a kick and drain
			case w.kick <- struct{}{}:
			default:
			}
			return
		}
	}
}

// noteShards records which shards appended in the batch about to be
// written.
func (w *WAL) noteShards(b *batch) {
	w.batchNo++
	for i := range b.ops {
		if b.ops[i].kind == kindEntry {
			w.recent[b.ops[i].shard] = w.batchNo
		}
	}
}

func (b *batch) hasAppendOf(shard uint32) bool {
	for i := range b.ops {
		if b.ops[i].kind == kindEntry && b.ops[i].shard == shard {
			return true
		}
	}
	return false
}

// syncIfDirty syncs what was written since the last sync and returns
// the log's error, if it has one (a failed sync poisons it).
func (w *WAL) syncIfDirty() error {
	if !w.dirty {
		return w.failed()
	}
	start := time.Now()
	if err := w.active.f.Sync(); err != nil {
		w.poison(fmt.Errorf("%w: sync log segment %d: %w", ErrMaybeWritten, w.active.id, err))
		return w.failed()
	}
	took := time.Since(start)
	w.lastSync = took
	w.stats.syncNanos.Add(uint64(took))
	w.stats.syncs.Add(1)
	if w.opts.SyncObserver != nil {
		w.opts.SyncObserver(took)
	}
	w.dirty = false
	return nil
}

// failed returns the error that stopped the log, nil if none.
func (w *WAL) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *WAL) poison(err error) {
	w.log.Error("write-ahead log failed; it refuses every write until the node restarts", zap.Error(err))
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// write writes b's frames with one write call at the end of the active
// segment, rotating to a new segment first when they do not fit, then
// syncs when due.
func (w *WAL) write(b *batch) error {
	if err := w.failed(); err != nil {
		return err
	}
	if w.activeOff > w.dataStart && w.activeOff+int64(len(b.buf)) > w.active.size {
		if err := w.rotate(); err != nil {
			return fmt.Errorf("start log segment: %w", err)
		}
	}
	for i, start := range b.frames {
		end := len(b.buf)
		if i+1 < len(b.frames) {
			end = b.frames[i+1]
		}
		// The first frame says whether all before it is on disk already.
		sealFrame(b.buf[start:end], w.nextSeq, i == 0 && !w.dirty)
		w.nextSeq++
	}
	at := w.activeOff
	if _, err := w.active.f.WriteAt(b.buf, at); err != nil {
		w.nextSeq -= uint64(len(b.frames))
		if uerr := w.undo(at, int64(len(b.buf))); uerr != nil {
			err = fmt.Errorf("%w: write log segment %d: %w (and undoing it failed: %w)", ErrMaybeWritten, w.active.id, err, uerr)
			w.poison(err)
			return err
		}
		return fmt.Errorf("write log segment %d: %w", w.active.id, err)
	}
	w.activeOff += int64(len(b.buf))
	w.dirty = true
	w.stats.batches.Add(1)
	w.stats.frames.Add(uint64(len(b.frames)))
	w.stats.bytes.Add(uint64(len(b.buf)))
	if w.opts.Sync == SyncAlways || b.sync {
		if err := w.syncIfDirty(); err != nil {
			return err
		}
	}
	// Positions: the batch's records now live at at+off.
	for i := range b.recs {
		b.recs[i].off += int(at)
	}
	return nil
}

// undo makes a failed write's bytes unreadable as frames again: zeros
// over what lies within the preallocated size, the file cut back to it
// beyond, then a sync.
func (w *WAL) undo(at, n int64) error {
	s := w.active
	if end := at + n; end > s.size {
		if err := s.f.Truncate(max(at, s.size)); err != nil {
			return err
		}
		n = max(0, s.size-at)
	}
	if n > 0 {
		if _, err := s.f.WriteAt(make([]byte, n), at); err != nil {
			return err
		}
	}
	return s.f.Sync()
}

// apply makes a written batch's operations visible. w.mu is held.
func (w *WAL) apply(b *batch) {
	seg := w.active.id
	for i := range b.ops {
		o := &b.ops[i]
		st := w.shard(o.shard)
		switch o.kind {
		case kindEntry:
			if len(st.pos) == 0 {
				st.first = o.first
			}
			for _, r := range b.recs[o.lo:o.hi] {
				st.pos = append(st.pos, position{seg: seg, off: int64(r.off), n: r.n})
			}
		case kindDelete:
			// Checked against the projection when queued.
			_ = st.delete(o.min, o.max)
		case kindSet:
			st.stable[o.key] = o.val
			w.setWritten(o.shard, []byte(o.key), o.val)
		}
	}
}

// fail forgets a batch that was not written, and the one collecting
// behind it, whose operations were checked against a projection that
// counted the failed ones: both fail with err, and the projections go
// back to what is written. w.mu is held.
func (w *WAL) fail(b *batch, err error) {
	w.log.Warn("log write failed", zap.Error(err), zap.Int("operations", len(b.ops)))
	next := w.cur
	if len(next.ops) > 0 {
		w.cur = w.newBatch()
		next.err = err
		close(next.done)
	}
	for _, st := range w.shards {
		st.pfirst, st.plast = st.first, st.last()
		if len(st.pos) == 0 {
			st.pfirst = 0
		}
	}
}

// removable returns the segments no shard needs any more: older than the
// segment of every shard's first entry, and not the active one. Their
// entries are all deleted, and every newer segment starts with a copy of
// the stable state. w.mu is held.
func (w *WAL) removable() []*segment {
	oldest := w.active.id
	for _, st := range w.shards {
		if len(st.pos) > 0 {
			oldest = min(oldest, st.pos[0].seg)
		}
	}
	var out []*segment
	for id := oldest - 1; id > 0; id-- {
		s, ok := w.segs[id]
		if !ok {
			break
		}
		delete(w.segs, id)
		out = append(out, s)
	}
	return out
}

// remove closes and deletes segments, oldest first, each deletion made
// durable before the next: a later start must never find a hole in the
// sequence of segments.
func (w *WAL) remove(segs []*segment) {
	if len(segs) == 0 {
		return
	}
	// The deletions that free these segments must be on disk first: with
	// SyncEverySec they may not be yet, and a crash would bring back a log
	// that needs what was removed.
	err := w.syncIfDirty()
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		s.mu.Lock()
		s.closed = true
		_ = s.f.Close()
		s.mu.Unlock()
		if err != nil {
			continue // closed, but kept: a restart replays it harmlessly
		}
		if err = w.fs.Remove(s.name); err == nil {
			err = w.fs.SyncDir(w.opts.Dir)
		}
		if err != nil {
			// The files left stay closed; a restart replays them harmlessly.
			w.log.Warn("remove log segment", zap.Uint64("segment", s.id), zap.Error(err))
			continue
		}
		w.stats.removed.Add(1)
	}
}

// spareFile is a preallocated file ready to become the next segment, or
// the error preparing it.
type spareFile struct {
	f   file
	err error
}

// startSpare prepares the next segment file in the background: zeros of
// the full segment size, synced, so that writes into it later change
// neither its size nor its block map and fdatasync has only data to write.
func (w *WAL) startSpare() {
	go func() { w.spare <- w.prepareSpare() }()
}

func (w *WAL) prepareSpare() spareFile {
	name := filepath.Join(w.opts.Dir, spareName)
	f, err := w.fs.Create(name)
	if err != nil {
		return spareFile{err: fmt.Errorf("create %s: %w", spareName, err)}
	}
	zeros := make([]byte, min(w.opts.SegmentSize, 1<<20))
	for off := int64(0); off < w.opts.SegmentSize; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), w.opts.SegmentSize-off)
		if _, err = f.WriteAt(zeros[:n], off); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Close()
		_ = w.fs.Remove(name)
		return spareFile{err: fmt.Errorf("preallocate %s: %w", spareName, err)}
	}
	return spareFile{f: f}
}

// rotate makes the next segment active: it syncs the current one (a newer
// segment is written only once every older one is whole on disk), takes
// the spare file, writes the segment header and a checkpoint frame of
// every shard's stable state into it, syncs it and renames it into place.
func (w *WAL) rotate() error {
	if w.active != nil {
		if err := w.syncIfDirty(); err != nil {
			return err
		}
	}
	sp := <-w.spare
	if sp.err != nil {
		// Perhaps space was freed since: try once more, now.
		sp = w.prepareSpare()
	}
	defer w.startSpare()
	if sp.err != nil {
		return sp.err
	}
	id := uint64(1)
	if w.active != nil {
		id = w.active.id + 1
	}
	head := appendSegHeader(make([]byte, 0, 4096), segHeader{id: id, firstSeq: w.nextSeq})
	frame := len(head)
	head = append(head, make([]byte, frameHeaderLen)...)
	for shard, m := range w.stableW {
		for k, v := range m {
			head = appendSet(head, shard, []byte(k), v)
		}
	}
	sealFrame(head[frame:], w.nextSeq, true)
	tmp := filepath.Join(w.opts.Dir, spareName)
	name := filepath.Join(w.opts.Dir, segmentName(id))
	err := func() error {
		if _, err := sp.f.WriteAt(head, 0); err != nil {
			return err
		}
		if err := sp.f.Sync(); err != nil {
			return err
		}
		if err := w.fs.Rename(tmp, name); err != nil {
			return err
		}
		return w.fs.SyncDir(w.opts.Dir)
	}()
	if err != nil {
		_ = sp.f.Close()
		_ = w.fs.Remove(tmp)
		_ = w.fs.Remove(name)
		return fmt.Errorf("start log segment %d: %w", id, err)
	}
	w.nextSeq++
	seg := &segment{id: id, name: name, f: sp.f, size: w.opts.SegmentSize}
	w.mu.Lock()
	w.segs[id] = seg
	w.mu.Unlock()
	w.active, w.activeOff, w.dataStart = seg, int64(len(head)), int64(len(head))
	w.dirty = false
	w.stats.rotations.Add(1)
	return nil
}
