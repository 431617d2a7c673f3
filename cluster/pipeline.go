package cluster

import (
	"sync"

	"github.com/hashicorp/raft"
)

// hashicorp/raft's pipelined replication can wedge for good
// (hashicorp/raft#612): when a follower's answer ends the leader's
// response decoder (a newer term, or a refused append), nothing reads the
// pipeline's completed futures any more; the transport's decoder then
// blocks handing one over, the next AppendEntries blocks handing its
// future to that decoder, and the replication goroutine, stuck in that
// call, never closes the pipeline. The follower gets no more entries
// (heartbeats go on, so no election heals it) and raft's Shutdown waits
// for that goroutine for ever.
//
// drainingTransport breaks the cycle: its pipelines take every completed
// future from the transport at once, into a queue that raft reads at its
// own pace, so the transport never blocks on raft.
type drainingTransport struct {
	*raft.NetworkTransport
}

// AppendEntriesPipeline returns the transport's pipeline, drained.
func (t drainingTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.NetworkTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	return newDrainedPipeline(p), nil
}

// drainedPipeline is an AppendPipeline whose completed futures are moved
// from the inner pipeline's channel into a queue as soon as they arrive.
// The queue holds at most what the replication loop sends between the
// decoder's exit and its closing the pipeline: a few futures.
type drainedPipeline struct {
	raft.AppendPipeline
	out       chan raft.AppendFuture
	closed    chan struct{}
	closeOnce sync.Once
}

func newDrainedPipeline(p raft.AppendPipeline) *drainedPipeline {
	d := &drainedPipeline{AppendPipeline: p, out: make(chan raft.AppendFuture), closed: make(chan struct{})}
	go d.forward()
	return d
}

func (d *drainedPipeline) forward() {
	in := d.AppendPipeline.Consumer()
	var queue []raft.AppendFuture
	for {
		var out chan raft.AppendFuture
		var next raft.AppendFuture
		if len(queue) > 0 {
			out, next = d.out, queue[0]
		}
		select {
		case f := <-in:
			queue = append(queue, f)
		case out <- next:
			queue[0] = nil
			queue = queue[1:]
		case <-d.closed:
			return
		}
	}
}

// Consumer returns the completed futures, in order.
func (d *drainedPipeline) Consumer() <-chan raft.AppendFuture { return d.out }

// Close closes the inner pipeline and stops the draining.
func (d *drainedPipeline) Close() error {
	d.closeOnce.Do(func() { close(d.closed) })
	return d.AppendPipeline.Close()
}
