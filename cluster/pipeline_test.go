package cluster

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// fakePipeline is an AppendPipeline whose completed futures the test
// hands over on an unbuffered channel, as raft's NetworkTransport does
// with its default MaxRPCsInFlight.
type fakePipeline struct {
	done   chan raft.AppendFuture
	closed chan struct{}
}

func (p *fakePipeline) AppendEntries(*raft.AppendEntriesRequest, *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	return nil, nil
}
func (p *fakePipeline) Consumer() <-chan raft.AppendFuture { return p.done }
func (p *fakePipeline) Close() error                       { close(p.closed); return nil }

type fakeFuture struct {
	raft.AppendFuture
	n int
}

// TestDrainedPipelineNeverBlocksTheTransport: with nobody reading the
// pipeline's consumer (raft's decoder has returned), the transport can
// still hand over every completed future (hashicorp/raft#612); a reader
// that comes later gets them in order; Close closes the inner pipeline.
func TestDrainedPipelineNeverBlocksTheTransport(t *testing.T) {
	inner := &fakePipeline{done: make(chan raft.AppendFuture), closed: make(chan struct{})}
	d := newDrainedPipeline(inner)
	for i := range 5 {
		select {
		case inner.done <- &fakeFuture{n: i}:
		case <-time.After(10 * time.Second):
			t.Fatalf("future %d: the transport blocked handing it over with no reader", i)
		}
	}
	for i := range 5 {
		select {
		case f := <-d.Consumer():
			if got := f.(*fakeFuture).n; got != i {
				t.Fatalf("future %d came out as %d", i, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("future %d never reached the consumer", i)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inner.closed:
	default:
		t.Fatal("Close did not close the inner pipeline")
	}
}
