package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/raftcache/raftcache/resp"
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

// TestInternalRPC drives the internal RPC ops of a live node: the frame
// layout on a raw connection, who-are-you, indexes, forwarded reads and
// writes, and the refusals of malformed or misplaced requests.
func TestInternalRPC(t *testing.T) {
	ns := newNodeSet(t, 3, 1, steadyLeaders)
	leader := ns.leader(0)
	follower := ns.followerOf(0)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	// Frame layout: length(4) | request id(8) | op(1) | body; the answer
	// echoes the id and starts with a status byte.
	c, err := dialMux(follower.cfg.ClusterAddr, muxKey{kind: connKindRPC}, 3*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := writeFrame(c, append(binary.BigEndian.AppendUint64(nil, 42), opInfo)); err != nil {
		t.Fatal(err)
	}
	frame, err := readFrame(bufio.NewReader(c))
	if err != nil {
		t.Fatal(err)
	}
	if len(frame) < 9 || binary.BigEndian.Uint64(frame) != 42 || frame[8] != statusOK {
		t.Fatalf("raw opInfo answer: %q", frame)
	}

	info, shards, err := leader.askInfo(ctx, follower.cfg.ClusterAddr)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Peer{ID: follower.ID(), Addr: follower.cfg.Addr, ClusterAddr: follower.cfg.ClusterAddr}); info != want || shards != 1 {
		t.Fatalf("opInfo: %+v, %d shards; want %+v, 1", info, shards, want)
	}

	rs, err := leader.Propose(ctx, 0, [][][]byte{args("SET", "k", "v")})
	if err != nil || string(rs[0].Str) != "OK" {
		t.Fatalf("SET: %+v, %v", rs, err)
	}
	applied := leader.shards[0].appliedIndex()
	ns.waitApplied(0, applied)
	idx, err := leader.indexesOf(ctx, 0, follower.ID(), follower.cfg.ClusterAddr)
	if err != nil {
		t.Fatal(err)
	}
	if idx.applied < applied || idx.commit < idx.applied || idx.last < idx.commit {
		t.Fatalf("opIndexes of the follower: %+v, want applied >= %d <= commit <= last", idx, applied)
	}

	call := func(to *Node, req []byte) (byte, []byte) {
		t.Helper()
		status, body, err := leader.rpcTo(to.cfg.ClusterAddr).call(ctx, req)
		if err != nil {
			t.Fatalf("call op %d: %v", req[0], err)
		}
		return status, body
	}
	read := encodeEntry([]byte{opRead, 0, 0}, 0, [][][]byte{args("GET", "k")})
	if status, body := call(leader, read); status != statusOK {
		t.Fatalf("opRead on the leader: status %d %q", status, body)
	} else if rs, err := resp.DecodeReplies(body); err != nil || len(rs) != 1 || string(rs[0].Str) != "v" {
		t.Fatalf("opRead on the leader: %+v, %v", rs, err)
	}
	if status, body := call(follower, read); status != statusNotLeader || string(body) != leader.ID() {
		t.Fatalf("opRead on a follower: status %d %q, want not-leader naming %s", status, body, leader.ID())
	}
	for _, bad := range []struct {
		name string
		req  []byte
	}{
		{"unknown op", []byte{99}},
		{"indexes without a shard", []byte{opIndexes}},
		{"indexes of a missing shard", []byte{opIndexes, 0, 7}},
		{"propose of garbage", []byte{opPropose, 0, 0, 1, 2, 3}},
		{"membership change of a missing shard", []byte{opAddVoter, 0, 7, 0, 0}},
	} {
		if status, body := call(follower, bad.req); status != statusError {
			t.Errorf("%s: status %d %q, want an error", bad.name, status, body)
		}
	}
}
