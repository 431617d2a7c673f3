package wal

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// memFS is an in-memory file system that remembers what was synced, so a
// test can take the image a power loss would leave: synced bytes kept,
// unsynced ones cut, garbled or kept at random, and directory changes
// since the last directory sync kept or lost. It can also run out of
// space, and crash at a chosen operation, after which every call fails.
type memFS struct {
	mu    sync.Mutex
	names map[string]*inode // current directory entries
	// durable is the directory as of the last SyncDir.
	durable map[string]*inode
	// space is how many bytes the files may hold in all; < 0: unlimited.
	space int64
	// crashAt, when > 0, counts down mutating calls; at 0 the image is
	// taken into crashed and every later call fails.
	crashAt int
	crashed *memFS
	rng     *rand.Rand
	dead    bool
	// syncDelay makes every file sync take this long, as a disk's does.
	syncDelay time.Duration
}

type inode struct {
	data   []byte
	synced []byte
}

var errDead = errors.New("memfs: machine is down")

func newMemFS(seed uint64) *memFS {
	return &memFS{names: map[string]*inode{}, durable: map[string]*inode{}, space: -1,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (m *memFS) used() int64 {
	var n int64
	seen := map[*inode]bool{}
	for _, ino := range m.names {
		if !seen[ino] {
			seen[ino] = true
			n += int64(len(ino.data))
		}
	}
	return n
}

// step accounts for one mutating call; it returns errDead once the machine
// is down. m.mu is held.
func (m *memFS) step() error {
	if m.dead {
		return errDead
	}
	if m.crashAt > 0 {
		m.crashAt--
		if m.crashAt == 0 {
			m.crashed = m.image()
			m.dead = true
			return errDead
		}
	}
	return nil
}

// image is what a power loss now would leave. m.mu is held.
func (m *memFS) image() *memFS {
	out := newMemFS(m.rng.Uint64())
	dir := m.durable
	if m.rng.IntN(2) == 0 {
		dir = m.names
	}
	copies := map[*inode]*inode{}
	for name, ino := range dir {
		c, ok := copies[ino]
		if !ok {
			c = &inode{data: m.lose(ino)}
			c.synced = append([]byte(nil), c.data...)
			copies[ino] = c
		}
		out.names[name] = c
		out.durable[name] = c
	}
	return out
}

// lose returns a file's content after a power loss: the synced bytes,
// then of what was written since, nothing, a prefix, all of it, or all of
// it with some bytes garbled.
func (m *memFS) lose(ino *inode) []byte {
	data := append([]byte(nil), ino.synced...)
	if len(ino.data) < len(data) {
		data = data[:len(ino.data)] // truncated since the sync
	}
	// Bytes of the current content that differ from the synced ones, or lie
	// past them, are unsynced.
	from := 0
	for from < len(data) && from < len(ino.data) && data[from] == ino.data[from] {
		from++
	}
	if from == len(data) && len(ino.data) == len(data) {
		return data
	}
	cur := append([]byte(nil), ino.data...)
	to := len(cur)
	if len(cur) == len(data) {
		for to > from && cur[to-1] == data[to-1] {
			to--
		}
	}
	switch m.rng.IntN(4) {
	case 0: // nothing of it reached the disk
		return restore(cur, data, from)
	case 1: // a prefix did
		cut := from + m.rng.IntN(len(cur)-from+1)
		return restore(cur, data, cut)
	case 2: // all of it did
		return cur
	default: // all of it, some bytes garbled
		for range 1 + m.rng.IntN(8) {
			if to > from {
				cur[from+m.rng.IntN(to-from)] = byte(m.rng.Uint32())
			}
		}
		return cur
	}
}

// restore returns cur with everything from off on as it was when synced
// (old), the file's synced length kept.
func restore(cur, old []byte, off int) []byte {
	out := append([]byte(nil), cur[:min(off, len(cur))]...)
	if off < len(old) {
		out = append(out, old[off:]...)
	}
	return out
}

// crash returns the image taken at the crash, or takes one now.
func (m *memFS) crash() *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed == nil {
		m.crashed = m.image()
		m.dead = true
	}
	return m.crashed
}

func (m *memFS) Create(name string) (file, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step(); err != nil {
		return nil, err
	}
	if _, ok := m.names[name]; ok {
		return nil, fmt.Errorf("create %s: %w", name, os.ErrExist)
	}
	ino := &inode{}
	m.names[name] = ino
	return &memFile{fs: m, ino: ino, name: name}, nil
}

func (m *memFS) Open(name string) (file, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, errDead
	}
	ino, ok := m.names[name]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, os.ErrNotExist)
	}
	return &memFile{fs: m, ino: ino, name: name}, nil
}

func (m *memFS) Rename(from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step(); err != nil {
		return err
	}
	ino, ok := m.names[from]
	if !ok {
		return fmt.Errorf("rename %s: %w", from, os.ErrNotExist)
	}
	delete(m.names, from)
	m.names[to] = ino
	return nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step(); err != nil {
		return err
	}
	if _, ok := m.names[name]; !ok {
		return fmt.Errorf("remove %s: %w", name, os.ErrNotExist)
	}
	delete(m.names, name)
	return nil
}

func (m *memFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, errDead
	}
	var out []string
	for name := range m.names {
		if filepath.Dir(name) == filepath.Clean(dir) {
			out = append(out, filepath.Base(name))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m *memFS) MkdirAll(string) error { return nil }

func (m *memFS) SyncDir(string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step(); err != nil {
		return err
	}
	m.durable = make(map[string]*inode, len(m.names))
	for k, v := range m.names {
		m.durable[k] = v
	}
	return nil
}

type memFile struct {
	fs     *memFS
	ino    *inode
	name   string
	closed bool
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, os.ErrClosed
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, os.ErrClosed
	}
	if err := f.fs.step(); err != nil {
		return 0, err
	}
	end := off + int64(len(p))
	if grow := end - int64(len(f.ino.data)); grow > 0 && f.fs.space >= 0 && f.fs.used()+grow > f.fs.space {
		// Write what fits, as a real file system does, then fail.
		room := f.fs.space - f.fs.used()
		fit := max(0, int64(len(f.ino.data))+room-off)
		if fit > 0 {
			f.write(p[:min(fit, int64(len(p)))], off)
		}
		return int(max(0, min(fit, int64(len(p))))), fmt.Errorf("write %s: %w", f.name, syscall.ENOSPC)
	}
	f.write(p, off)
	return len(p), nil
}

func (f *memFile) write(p []byte, off int64) {
	if end := off + int64(len(p)); end > int64(len(f.ino.data)) {
		f.ino.data = append(f.ino.data, make([]byte, end-int64(len(f.ino.data)))...)
	}
	copy(f.ino.data[off:], p)
}

func (f *memFile) Sync() error {
	if d := f.fs.syncDelay; d > 0 {
		time.Sleep(d)
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	if err := f.fs.step(); err != nil {
		return err
	}
	f.ino.synced = append(f.ino.synced[:0], f.ino.data...)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.step(); err != nil {
		return err
	}
	if size <= int64(len(f.ino.data)) {
		f.ino.data = f.ino.data[:size]
		return nil
	}
	f.ino.data = append(f.ino.data, make([]byte, size-int64(len(f.ino.data)))...)
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return int64(len(f.ino.data)), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.closed = true
	return nil
}
