package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"
)

// slowSink is a connection end that takes a millisecond per write, as a
// busy socket does, and counts the writes.
type slowSink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (s *slowSink) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

// TestFrameWriterGroupsFlushes checks that frames written at once from
// many goroutines all arrive whole, and share write calls.
func TestFrameWriterGroupsFlushes(t *testing.T) {
	sink := &slowSink{}
	fw := &frameWriter{w: bufio.NewWriterSize(sink, 1<<20)}
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				frame := binary.BigEndian.AppendUint32(nil, uint32(w*each+i))
				if err := fw.write(frame); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	seen := map[uint32]bool{}
	r := bytes.NewReader(sink.buf.Bytes())
	for r.Len() > 0 {
		f, err := readFrame(r)
		if err != nil || len(f) != 4 {
			t.Fatalf("frame %d: %q, %v", len(seen), f, err)
		}
		seen[binary.BigEndian.Uint32(f)] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct frames arrived, want %d", len(seen), writers*each)
	}
	if sink.writes >= writers*each/2 {
		t.Fatalf("%d frames took %d write calls: flushes were not shared", writers*each, sink.writes)
	}
	t.Logf("%d frames, %d write calls", writers*each, sink.writes)
}
