package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fill puts strings, hashes, TTLs (some already passed) and enough bytes
// into s at now for WriteTo to flush its buffer many times.
func fill(t testing.TB, s *Store, now int64) {
	t.Helper()
	var cmds [][][]byte
	val := bytes.Repeat([]byte("v"), 2000)
	for i := range 3000 {
		k := fmt.Sprintf("s:%d", i)
		switch i % 4 {
		case 0:
			cmds = append(cmds, [][]byte{[]byte("SET"), []byte(k), fmt.Appendf(val[:0:0], "%s%d", val, i)})
		case 1:
			cmds = append(cmds, argv("SET", k, fmt.Sprint(i), "PX", fmt.Sprint(1000+i)))
		case 2:
			cmds = append(cmds, argv("SET", k, "", "PXAT", fmt.Sprint(now+1+int64(i%7))))
		case 3:
			cmds = append(cmds, argv("SET", k, fmt.Sprint(i)))
		}
	}
	for i := range 300 {
		k := fmt.Sprintf("{h}:%d", i) // many hashes in one slot
		if i%2 == 0 {
			k = fmt.Sprintf("h:%d", i)
		}
		cmd := argv("HSET", k)
		for f := range 1 + i%12 {
			cmd = append(cmd, fmt.Appendf(nil, "f%d", f), fmt.Appendf(nil, "%d-%d", i, f))
		}
		cmds = append(cmds, cmd)
		if i%3 == 0 {
			cmds = append(cmds, argv("PEXPIRE", k, fmt.Sprint(500+i)))
		}
	}
	mustApply(t, s, now, cmds...)
}

// mutate changes much of what fill stored, in every way a write can: it
// overwrites, deletes, changes snapshotted hashes and TTLs, and removes
// expired keys. Step i is deterministic.
func mutate(i int) [][]byte {
	k := fmt.Sprintf("s:%d", (i*7)%3000)
	h := fmt.Sprintf("h:%d", (i*2)%300)
	if i%3 == 0 {
		h = fmt.Sprintf("{h}:%d", (i*2+1)%300)
	}
	switch i % 31 {
	case 0:
		return argv("SET", k, fmt.Sprintf("new%d", i))
	case 1:
		return argv("DEL", k, fmt.Sprintf("s:%d", (i*13)%3000))
	case 2:
		return argv("HSET", h, "f0", fmt.Sprintf("x%d", i), fmt.Sprintf("n%d", i), "y")
	case 3:
		return argv("HDEL", h, "f0", "f1", "f2", "f3", "f4", "f5")
	case 4:
		return argv("EXPIRE", k, fmt.Sprint(i))
	case 5:
		return argv("PERSIST", k)
	case 6:
		return argv("INCR", fmt.Sprintf("s:%d", (i*4+3)%3000))
	case 7:
		return argv("PEXPIRE", h, fmt.Sprint(i%50))
	case 8:
		return argv("SET", k, "kept", "KEEPTTL")
	case 9:
		return argv(CmdDropExpired, k, fmt.Sprintf("s:%d", (i*5+1)%3000), h)
	case 10:
		return argv("SET", fmt.Sprintf("new:%d", i), "fresh", "EX", "100")
	case 11:
		return argv("HSET", fmt.Sprintf("newh:%d", i), "a", "b")
	case 12:
		return argv("SET", h, "now a string")
	case 13:
		return argv("DEL", h)
	case 14:
		return argv("APPEND", k, fmt.Sprintf("+%d", i))
	case 15:
		return argv("SETRANGE", k, fmt.Sprint(i%5), "xy")
	case 16:
		return argv("RENAME", k, fmt.Sprintf("s:%d", (i*11)%3000))
	case 17:
		return argv("COPY", h, fmt.Sprintf("s:%d", (i*3)%3000), "REPLACE")
	case 18:
		return argv("HINCRBY", h, "cnt", "3")
	case 19:
		return argv("HINCRBYFLOAT", h, "flt", "1.25")
	case 20:
		return argv("GETDEL", k)
	case 21:
		return argv("GETEX", k, "EX", "50")
	case 22:
		return argv("MSET", k, "m", fmt.Sprintf("s:%d", (i*17)%3000), "m2")
	case 23:
		return argv("INCRBYFLOAT", fmt.Sprintf("s:%d", (i*4+3)%3000), "0.5")
	case 24:
		return argv("HSETNX", h, fmt.Sprintf("z%d", i%4), "v")
	case 25:
		// A guard on a version that may or may not match governs the
		// next command of the batch.
		return TxArgs(1, []KeyVersion{{Key: []byte(k), Version: uint64(i % 7), Seq: uint64(i)}})
	case 27:
		// Large records (past 32 KiB): grown by APPEND, replaced by SET.
		return argv("APPEND", fmt.Sprintf("big:%d", i%5), strings.Repeat(fmt.Sprint(i%10), 9000))
	case 28:
		return argv("SET", fmt.Sprintf("big:%d", (i+2)%5), strings.Repeat("L", 40000+i%100))
	case 29:
		// Hashtable hashes: a long value converts them.
		return argv("HSET", fmt.Sprintf("hbig:%d", i%4), fmt.Sprintf("f%d", i%40), strings.Repeat("w", 70+i%5))
	case 30:
		return argv("HDEL", fmt.Sprintf("hbig:%d", i%4), fmt.Sprintf("f%d", (i*7)%40), fmt.Sprintf("f%d", (i*3)%40))
	default:
		return argv("RENAMENX", h, fmt.Sprintf("{h}:%d", (i*5)%300))
	}
}

// gatedWriter holds WriteTo at its first Write until the test lets it go,
// so that writes to the store land while the snapshot is half written.
type gatedWriter struct {
	buf     bytes.Buffer
	once    sync.Once
	started chan struct{}
	proceed chan struct{}
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{started: make(chan struct{}), proceed: make(chan struct{})}
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.started)
		<-g.proceed
	})
	return g.buf.Write(p)
}

func snapshotBytes(t testing.TB, s *Store) []byte {
	t.Helper()
	sn := s.Snapshot()
	defer sn.Release()
	var buf bytes.Buffer
	n, err := sn.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func restored(t testing.TB, b []byte) *Store {
	t.Helper()
	r := New()
	if err := r.Restore(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r)
	return r
}

func TestSnapshotWhileWriting(t *testing.T) {
	s, ref := New(), New()
	fill(t, s, 1000)
	fill(t, ref, 1000)
	want := dump(s)
	wantStats := s.Stats()

	sn := s.Snapshot()
	g := newGatedWriter()
	done := make(chan error, 1)
	go func() {
		_, err := sn.WriteTo(g)
		done <- err
	}()
	<-g.started
	// The snapshot has walked part of the keyspace; change all of it.
	i := 0
	for ; i < 2000; i++ {
		now := int64(2000 + i)
		r1 := s.Apply(now, [][][]byte{mutate(i)}, nil)
		r2 := ref.Apply(now, [][][]byte{mutate(i)}, nil)
		if fmtReply(r1[0]) != fmtReply(r2[0]) {
			t.Fatalf("mutation %d %q: %s with a snapshot, %s without", i, mutate(i), fmtReply(r1[0]), fmtReply(r2[0]))
		}
	}
	close(g.proceed)
	// Keep writing while the rest is written out.
	for running := true; running; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
		now := int64(2000 + i)
		s.Apply(now, [][][]byte{mutate(i)}, nil)
		ref.Apply(now, [][][]byte{mutate(i)}, nil)
	}
	sn.Release()
	t.Logf("%d writes during WriteTo, snapshot of %d bytes", i, g.buf.Len())

	r := restored(t, g.buf.Bytes())
	if got := dump(r); !want.equal(got) {
		t.Fatalf("restored state differs from the state at snapshot time: %s", want.diff(got))
	}
	if got := r.Stats(); got != wantStats {
		t.Fatalf("restored stats %+v, want %+v", got, wantStats)
	}
	if got := r.LastNow(); got != 1000 {
		t.Fatalf("restored LastNow %d, want 1000", got)
	}
	// Copy-on-write lost no write to the live store.
	if a, b := dump(ref), dump(s); !a.equal(b) {
		t.Fatalf("live store differs from a store that was never snapshotted: %s", a.diff(b))
	}
	checkCounts(t, s)
}

func TestSnapshotSurvivesFlushAndRestore(t *testing.T) {
	s := New()
	fill(t, s, 1000)
	want := dump(s)
	other := New()
	mustApply(t, other, 9000, argv("SET", "other", "1"))
	otherBytes := snapshotBytes(t, other)

	sn := s.Snapshot()
	g := newGatedWriter()
	done := make(chan error, 1)
	go func() {
		_, err := sn.WriteTo(g)
		done <- err
	}()
	<-g.started
	mustApply(t, s, 2000, argv("FLUSHALL"))
	mustApply(t, s, 2000, argv("SET", "s:0", "after flush"), argv("HSET", "h:0", "f0", "after"))
	if err := s.Restore(bytes.NewReader(otherBytes)); err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, 9000, argv("SET", "s:4", "after restore"))
	close(g.proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sn.Release()

	if got := dump(restored(t, g.buf.Bytes())); !want.equal(got) {
		t.Fatalf("snapshot changed by FLUSHALL/Restore: %s", want.diff(got))
	}
	if got := s.Stats(); got != (Stats{Keys: 2}) {
		t.Fatalf("live store after restore: %+v", got)
	}
}

func TestOverlappingSnapshots(t *testing.T) {
	s := New()
	fill(t, s, 1000)
	wantA := dump(s)
	a := s.Snapshot()
	for i := range 700 {
		s.Apply(int64(2000+i), [][][]byte{mutate(i)}, nil)
	}
	wantB := dump(s)
	b := s.Snapshot()
	for i := 700; i < 1400; i++ {
		s.Apply(int64(2000+i), [][][]byte{mutate(i)}, nil)
	}
	wantLive := dump(s)

	var bufB bytes.Buffer
	if _, err := b.WriteTo(&bufB); err != nil {
		t.Fatal(err)
	}
	b.Release()
	b.Release() // a second Release is harmless
	for i := 1400; i < 2100; i++ {
		s.Apply(int64(2000+i), [][][]byte{mutate(i)}, nil)
	}
	var bufA bytes.Buffer
	if _, err := a.WriteTo(&bufA); err != nil {
		t.Fatal(err)
	}
	a.Release()

	if got := dump(restored(t, bufA.Bytes())); !wantA.equal(got) {
		t.Fatalf("snapshot A: %s", wantA.diff(got))
	}
	if got := dump(restored(t, bufB.Bytes())); !wantB.equal(got) {
		t.Fatalf("snapshot B: %s", wantB.diff(got))
	}
	if wantLive.equal(dump(s)) {
		t.Fatal("writes after both snapshots were lost")
	}
	if s.liveSnaps != 0 {
		t.Fatalf("liveSnaps %d after releasing both", s.liveSnaps)
	}
}

// TestCopyOnWriteOwnership looks inside: a write copies only what a live
// snapshot holds, and after Release writes go in place again.
func TestCopyOnWriteOwnership(t *testing.T) {
	s := New()
	mustApply(t, s, 1000, argv("SET", "a", "1"), argv("HSET", "h", "f", "v"), argv("SET", "b", "1"))
	recOf := func(k string) obj {
		t.Helper()
		var o obj
		if !s.find(&o, SlotOf([]byte(k)), s.hashKey([]byte(k)), []byte(k)) {
			t.Fatalf("%q missing", k)
		}
		return o
	}
	entriesOf := func(k string) []uint64 { return s.slots[SlotOf([]byte(k))].t.e }

	ra, rh := recOf("a").ref, recOf("h").ref
	frozen := entriesOf("a")
	frozenCopy := slices.Clone(frozen)
	sn := s.Snapshot()
	mustApply(t, s, 1000, argv("INCR", "a"), argv("HSET", "h", "f", "w"))
	if recOf("a").ref == ra {
		t.Fatal("a snapshotted record was changed in place")
	}
	if o := decodeRecord(s.heap.bytes(ra)); string(o.val()) != "1" {
		t.Fatalf("the snapshot's record of a holds %q", o.val())
	}
	if recOf("h").ref == rh {
		t.Fatal("a snapshotted hash was changed in place")
	}
	if o := decodeRecord(s.heap.bytes(rh)); string(o.val()) != string(lpEncode(nil, []pair{{field: []byte("f"), value: []byte("v")}})) {
		t.Fatalf("the snapshot's record of h holds %q", o.val())
	}
	if !slices.Equal(frozen, frozenCopy) || &entriesOf("a")[0] == &frozen[0] {
		t.Fatal("the snapshot's slot table was changed in place")
	}
	// A second write to the same record under the same snapshot does not
	// copy again.
	ra2 := recOf("a").ref
	mustApply(t, s, 1000, argv("INCR", "a"))
	if recOf("a").ref != ra2 {
		t.Fatal("a record already copied was copied again")
	}
	if len(s.heap.pending) != 2 {
		t.Fatalf("%d chunks wait for the snapshot, want the 2 it holds", len(s.heap.pending))
	}
	sn.Release()
	if len(s.heap.pending) != 0 {
		t.Fatal("chunks still wait after the snapshot was released")
	}

	rb := recOf("b").ref
	eb := entriesOf("b")
	mustApply(t, s, 1000, argv("INCR", "b"))
	if recOf("b").ref != rb {
		t.Fatal("with no live snapshot a write copied its record")
	}
	mustApply(t, s, 1000, argv("EXPIRE", "b", "100"), argv("PERSIST", "b"), argv("INCR", "b"))
	if &entriesOf("b")[0] != &eb[0] {
		t.Fatal("with no live snapshot a write copied its slot table")
	}
	if got := s.Read(1000, argv("GET", "b")); string(got.Str) != "3" {
		t.Fatalf("GET b = %s", fmtReply(got))
	}
}

// TestRestoreVersion2 reads a snapshot of the previous version, whose
// listpack hashes list their fields in no particular order: that order
// becomes the hash's.
func TestRestoreVersion2(t *testing.T) {
	b := rec(headerWith(100), slotOf("h"), hashEntry("h", 0, "b", "1", "a", "2"))
	b[len(snapMagic)] = 2
	s := restored(t, sealed(b))
	if got := s.Read(1000, argv("HKEYS", "h")); !replyEqual(got, bulks("b", "a")) {
		t.Fatalf("HKEYS h = %s", fmtReply(got))
	}
	checkCounts(t, s)
}

func TestSnapshotEmptyStore(t *testing.T) {
	b := snapshotBytes(t, New())
	// magic, version, lastNow, seq, no removals, end tag, checksum
	if len(b) != 4+1+8+8+1+1+4 {
		t.Fatalf("empty snapshot is %d bytes", len(b))
	}
	r := New()
	mustApply(t, r, 5000, argv("SET", "a", "1"), argv("HSET", "h", "f", "v"))
	if err := r.Restore(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if got := dump(r); !got.equal(state{Keys: map[string]value{}}) {
		t.Fatalf("restore of an empty snapshot left %v", got)
	}
	if got := r.Stats(); got != (Stats{}) {
		t.Fatalf("stats %+v", got)
	}
	checkCounts(t, r)
}

func TestSnapshotRoundTripValues(t *testing.T) {
	s := New()
	mustApply(t, s, 1234,
		[][]byte{[]byte("SET"), []byte(""), []byte("")},
		[][]byte{[]byte("SET"), []byte("bin\x00\xff"), bytes.Repeat([]byte{0, 1, 2}, 5000)},
		argv("SET", "ttl", "v", "PXAT", "9223372036854775807"),
		argv("SET", "gone", "v", "PX", "1"),
		[][]byte{[]byte("HSET"), []byte("h"), []byte(""), []byte(""), []byte("big"), bytes.Repeat([]byte("x"), 100000)},
	)
	want := dump(s)
	r := restored(t, snapshotBytes(t, s))
	if got := dump(r); !want.equal(got) {
		t.Fatalf("round trip: %s", want.diff(got))
	}
	// The restored store behaves: reads, writes, and a second round trip.
	if got := r.Read(1235, argv("GET", "gone")); !replyEqual(got, null) {
		t.Fatalf("GET gone = %s", fmtReply(got))
	}
	mustApply(t, r, 1000, argv("INCR", "n"), argv("HSET", "h", "new", "1"))
	if got := r.LastNow(); got != 1234 {
		t.Fatalf("LastNow %d: a restored store must not run time backwards", got)
	}
	want = dump(r)
	if got := dump(restored(t, snapshotBytes(t, r))); !want.equal(got) {
		t.Fatalf("second round trip: %s", want.diff(got))
	}
}

// sealed appends the trailer a well-formed snapshot ends with: the end tag
// and the checksum.
func sealed(body []byte) []byte {
	b := append(bytes.Clone(body), 'E')
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// header is the start of a version 2 snapshot taken at lastNow 1000 with
// seq 100 and no removals.
func header() []byte { return headerWith(100) }

// headerWith is header with the given seq and removals (slot, deleteSeq
// pairs).
func headerWith(seq uint64, removals ...uint64) []byte {
	b := append([]byte(snapMagic), snapVersion)
	b = binary.BigEndian.AppendUint64(b, 1000)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.AppendUvarint(b, uint64(len(removals)/2))
	for i := 0; i+1 < len(removals); i += 2 {
		b = binary.BigEndian.AppendUint16(b, uint16(removals[i]))
		b = binary.AppendUvarint(b, removals[i+1])
	}
	return b
}

// rec appends a slot record holding the given pre-encoded entries.
func rec(b []byte, slot int, entries ...[]byte) []byte {
	b = append(b, 'S')
	b = binary.BigEndian.AppendUint16(b, uint16(slot))
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = append(b, e...)
	}
	return b
}

func lp(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// meta is an entry's bookkeeping: its version, last write time and
// encoding.
type meta struct {
	version   uint64
	lastWrite int64
	enc       encoding
}

var (
	strMeta  = meta{version: 1, lastWrite: 1, enc: encEmbstr}
	hashMeta = meta{version: 1, lastWrite: 1, enc: encListpack}
)

func entryHead(key string, expireAt int64, m meta) []byte {
	b := lp(nil, key)
	b = binary.AppendVarint(b, expireAt)
	b = binary.AppendUvarint(b, m.version)
	b = binary.AppendVarint(b, m.lastWrite)
	return append(b, byte(m.enc))
}

func strEntry(key string, expireAt int64, val string) []byte {
	return strEntryMeta(key, expireAt, val, strMeta)
}

func strEntryMeta(key string, expireAt int64, val string, m meta) []byte {
	return lp(entryHead(key, expireAt, m), val)
}

func hashEntry(key string, expireAt int64, kv ...string) []byte {
	return hashEntryMeta(key, expireAt, hashMeta, kv...)
}

func hashEntryMeta(key string, expireAt int64, m meta, kv ...string) []byte {
	b := binary.AppendUvarint(entryHead(key, expireAt, m), uint64(len(kv)/2))
	for _, s := range kv {
		b = lp(b, s)
	}
	return b
}

func slotOf(k string) int { return SlotOf([]byte(k)) }

func TestRestoreCraftedSnapshots(t *testing.T) {
	// The builders make what WriteTo makes.
	good := sealed(rec(rec(header(), slotOf("a"), strEntry("a", 0, "1")), slotOf("h"), hashEntry("h", 5000, "f", "v")))
	r := restored(t, good)
	if got := r.Read(1000, argv("HGETALL", "h")); !replyEqual(got, hmap("f", "v")) {
		t.Fatalf("crafted snapshot: HGETALL h = %s", fmtReply(got))
	}

	varintOverflow := append(append(header(), 'S', 0, 0), bytes.Repeat([]byte{0xff}, 11)...)
	bigHash := []string{}
	for i := range hashMaxListpackEntry + 1 {
		bigHash = append(bigHash, fmt.Sprint("f", i), "v")
	}
	for name, b := range map[string][]byte{
		"bad magic":            sealed(append([]byte("RCSX\x02"), make([]byte, 17)...)),
		"version 1":            sealed(append([]byte("RCSN\x01"), make([]byte, 8)...)),
		"unknown version":      sealed(append([]byte("RCSN\x05"), make([]byte, 17)...)),
		"bad record tag":       sealed(append(header(), 'Q')),
		"slot out of range":    sealed(rec(header(), NumSlots, strEntry("a", 0, "1"))),
		"repeated slot":        sealed(rec(rec(header(), slotOf("a"), strEntry("a", 0, "1")), slotOf("a"), strEntry("{a}b", 0, "1"))),
		"key in wrong slot":    sealed(rec(header(), slotOf("a")+1, strEntry("a", 0, "1"))),
		"bad encoding":         sealed(rec(header(), slotOf("a"), strEntryMeta("a", 0, "1", meta{1, 0, numEncodings}))),
		"duplicate key":        sealed(rec(header(), slotOf("a"), strEntry("a", 5, "1"), strEntry("a", 0, "2"))),
		"duplicate field":      sealed(rec(header(), slotOf("h"), hashEntry("h", 0, "f", "1", "f", "2"))),
		"empty hash":           sealed(rec(header(), slotOf("h"), hashEntry("h", 0))),
		"negative expiry":      sealed(rec(header(), slotOf("a"), strEntry("a", -5, "1"))),
		"version 0":            sealed(rec(header(), slotOf("a"), strEntryMeta("a", 0, "1", meta{0, 0, encEmbstr}))),
		"version after seq":    sealed(rec(header(), slotOf("a"), strEntryMeta("a", 0, "1", meta{101, 0, encEmbstr}))),
		"write after lastNow":  sealed(rec(header(), slotOf("a"), strEntryMeta("a", 0, "1", meta{1, 2, encEmbstr}))),
		"long embstr":          sealed(rec(header(), slotOf("a"), strEntry("a", 0, strings.Repeat("x", 45)))),
		"int not an integer":   sealed(rec(header(), slotOf("a"), strEntryMeta("a", 0, "01", meta{1, 0, encInt}))),
		"shared int too big":   sealed(rec(header(), slotOf("a"), strEntryMeta("a", 0, "10000", meta{1, 0, encIntShared}))),
		"negative shared int":  sealed(rec(header(), slotOf("a"), strEntryMeta("a", 0, "-1", meta{1, 0, encIntShared}))),
		"big listpack":         sealed(rec(header(), slotOf("h"), hashEntry("h", 0, bigHash...))),
		"long listpack value":  sealed(rec(header(), slotOf("h"), hashEntry("h", 0, "f", strings.Repeat("v", 65)))),
		"removal slot order":   sealed(headerWith(100, 5, 1, 5, 2)),
		"removal out of range": sealed(headerWith(100, NumSlots, 1)),
		"removal after seq":    sealed(headerWith(100, 5, 101)),
		"removal of 0":         sealed(headerWith(100, 5, 0)),
		"varint overflow":      sealed(varintOverflow),
		"trailing bytes":       append(bytes.Clone(good), 0),
		"huge key length":      sealed(append(rec(header(), slotOf("a")), binary.AppendUvarint([]byte{}, 1<<40)...)),
		"huge value length":    sealed(append(entryHead("a", 0, strMeta), binary.AppendUvarint(nil, 1<<62)...)),
		"long value, short":    append(rec(header(), slotOf("a"), append(entryHead("a", 0, meta{1, 0, encRaw}), binary.AppendUvarint(nil, 300<<20)...)), "abc"...),
		"huge entry count":     append(append(header(), 'S', 0, 0), binary.AppendUvarint(nil, 1<<60)...),
		"huge field count":     append(rec(header(), slotOf("h"), append(entryHead("h", 0, hashMeta), binary.AppendUvarint(nil, 1<<60)...)), 1, 'f'),
		"huge removal count":   append(append(append([]byte(snapMagic), snapVersion), make([]byte, 16)...), binary.AppendUvarint(nil, 1<<60)...),
		"no end tag":           header(),
		"no checksum":          append(header(), 'E'),
		"short checksum":       append(header(), 'E', 1, 2),
		"garbage":              []byte("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n"),
		"empty":                nil,
		"magic only":           []byte(snapMagic),
		"checksum of nothing":  sealed(nil),
	} {
		t.Run(name, func(t *testing.T) {
			checkRefused(t, b)
		})
	}
}

// target is a store with content of its own, to check that a refused
// snapshot changes nothing.
func target(t testing.TB) *Store {
	s := New()
	mustApply(t, s, 777, argv("SET", "keep", "me", "EX", "100"), argv("HSET", "kh", "f", "v"))
	return s
}

func checkRefused(t *testing.T, b []byte) {
	t.Helper()
	s := target(t)
	before, stats := dump(s), s.Stats()
	err := s.Restore(bytes.NewReader(b))
	if err == nil {
		t.Fatalf("Restore accepted %d bytes %q", len(b), truncate(b))
	}
	if !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("Restore error %q does not wrap ErrCorruptSnapshot", err)
	}
	if after := dump(s); !before.equal(after) || s.Stats() != stats {
		t.Fatalf("a refused snapshot changed the store: %s", before.diff(after))
	}
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func TestRestoreDamagedSnapshot(t *testing.T) {
	s := New()
	mustApply(t, s, 1000,
		argv("SET", "a", "hello", "EX", "100"),
		argv("SET", "b", "world"),
		argv("HSET", "h", "f1", "v1", "f2", "v2"),
		argv("PEXPIRE", "h", "12345"),
	)
	good := snapshotBytes(t, s)
	restored(t, good)

	t.Run("every byte flipped", func(t *testing.T) {
		for i := range good {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				b := bytes.Clone(good)
				b[i] ^= mask
				checkRefused(t, b)
			}
		}
	})
	t.Run("every truncation", func(t *testing.T) {
		for i := range good {
			checkRefused(t, good[:i])
		}
	})
	t.Run("garbage", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 500 {
			b := make([]byte, rng.IntN(200))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			if i%2 == 0 && len(b) >= 5 {
				copy(b, snapMagic+"\x02") // get past the header
			}
			checkRefused(t, b)
		}
	})
}

// failingReader fails after n bytes with an I/O error, which Restore must
// pass on (it is not corruption) while leaving the store unchanged.
type failingReader struct {
	r io.Reader
	n int
}

var errDisk = errors.New("disk on fire")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDisk
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestRestoreReadError(t *testing.T) {
	src := New()
	fill(t, src, 1000)
	good := snapshotBytes(t, src)
	for _, at := range []int{0, 3, 100, len(good) / 2, len(good) - 1} {
		s := target(t)
		before := dump(s)
		err := s.Restore(&failingReader{r: bytes.NewReader(good), n: at})
		if !errors.Is(err, errDisk) {
			t.Fatalf("at %d: error %v, want the reader's error", at, err)
		}
		if !before.equal(dump(s)) {
			t.Fatalf("at %d: a failed Restore changed the store", at)
		}
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		n := f.n
		f.n = 0
		return n, errDisk
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteToError(t *testing.T) {
	s := New()
	fill(t, s, 1000)
	full := snapshotBytes(t, s)
	for _, at := range []int{0, 10, len(full) / 2, len(full) - 2} {
		sn := s.Snapshot()
		n, err := sn.WriteTo(&failingWriter{n: at})
		sn.Release()
		if !errors.Is(err, errDisk) {
			t.Fatalf("at %d: error %v, want the writer's error", at, err)
		}
		if n != int64(at) {
			t.Fatalf("at %d: WriteTo reported %d bytes", at, n)
		}
	}
}

// TestConcurrentReadsWritesSnapshots runs reads in parallel with writes
// and snapshots, as a shard does: one goroutine applies (and takes
// snapshots, as the Raft FSM does), others read, and each snapshot is
// written out in the background and checked. Run it with -race.
func TestConcurrentReadsWritesSnapshots(t *testing.T) {
	s := New()
	fill(t, s, 1000)
	iterations := 3000
	if testing.Short() {
		iterations = 600
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				now := int64(2000 + i)
				k := fmt.Sprintf("s:%d", (i*31+r)%3000)
				h := fmt.Sprintf("h:%d", (i*2)%300)
				for _, args := range [][][]byte{
					argv("GET", k), argv("TTL", k), argv("PTTL", k), argv("EXISTS", k, h),
					argv("HGETALL", h), argv("HGET", h, "f0"), argv("DBSIZE"),
					argv("MGET", k, h), argv("GETRANGE", k, "0", "3"), argv("STRLEN", k),
					argv("HKEYS", h), argv("HSCAN", h, "0"), argv("HRANDFIELD", h, "-3", "WITHVALUES"),
					argv("SCAN", fmt.Sprint(i%NumSlots), "COUNT", "20"), argv("KEYS", "s:1?"),
					argv("OBJECT", "ENCODING", k), argv("OBJECT", "IDLETIME", h), argv("TYPE", k),
					argv(CmdVersion, k, h), argv("RANDOMKEY"), argv("LCS", k, "s:1"),
				} {
					if got := s.Read(now, args); got.IsError() && string(got.Str) != errWrongType &&
						string(got.Str) != "ERR The specified keys must contain string values" {
						t.Errorf("%q: %s", args, got.Str)
						return
					}
				}
				s.Stats()
				s.LastNow()
				s.ExpiredKeys(now, i%NumSlots, 10)
			}
		})
	}

	var writers sync.WaitGroup
	for i := range iterations {
		now := int64(2000 + i)
		s.Apply(now, [][][]byte{mutate(i), mutate(i + iterations)}, nil)
		if i%500 == 0 {
			want := dump(s)
			sn := s.Snapshot()
			writers.Go(func() {
				defer sn.Release()
				var buf bytes.Buffer
				if _, err := sn.WriteTo(&buf); err != nil {
					t.Error(err)
					return
				}
				r := New()
				if err := r.Restore(&buf); err != nil {
					t.Error(err)
					return
				}
				if got := dump(r); !want.equal(got) {
					t.Errorf("snapshot at %d: %s", now, want.diff(got))
				}
			})
		}
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	checkCounts(t, s)
	if s.liveSnaps != 0 {
		t.Fatalf("liveSnaps %d", s.liveSnaps)
	}
}
