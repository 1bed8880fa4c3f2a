package raft

import (
	"context"
)

type readResult struct {
	value []byte
	index uint64
	err   error
}

type readRequest struct {
	query []byte
	index uint64 // set by the node loop once confirmed
	done  chan readResult
}

func (r *readRequest) finish(res readResult) {
	select {
	case r.done <- res:
	default:
	}
}

// Read runs query on the state machine linearizably: the leader confirms
// with a quorum that it still leads, waits until it has applied everything
// committed when the read began, then calls StateMachine.Read. A node that
// is not the leader returns a *NotLeaderError. Reads change nothing, so any
// error may be retried.
func (n *Node) Read(ctx context.Context, query []byte) ([]byte, uint64, error) {
	start := n.metrics.readStarted(readLinearizable)
	value, index, err := n.read(ctx, query)
	n.metrics.readDone(readLinearizable, start, err)
	return value, index, err
}

func (n *Node) read(ctx context.Context, query []byte) ([]byte, uint64, error) {
	r := &readRequest{query: query, done: make(chan readResult, 1)}
	select {
	case n.reads <- r:
	case <-n.stopped:
		return nil, 0, ErrShutdown
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.value, res.index, res.err
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	case <-n.stopped:
		return nil, 0, ErrShutdown
	}
}

func (n *Node) handleRead(r *readRequest) {
	n.nextReadID++
	id := n.nextReadID
	if err := n.core.ReadIndex(id); err != nil {
		r.finish(readResult{err: &NotLeaderError{Leader: n.core.Leader()}})
		return
	}
	n.readWaiters[id] = r
}

// ReadStale runs query on this node's state machine without confirming
// leadership, on any node. The result reflects what this node has applied
// (the returned index) and may miss writes already acknowledged elsewhere.
func (n *Node) ReadStale(ctx context.Context, query []byte) ([]byte, uint64, error) {
	start := n.metrics.readStarted(readStale)
	value, index, err := n.readStale(ctx, query)
	n.metrics.readDone(readStale, start, err)
	return value, index, err
}

func (n *Node) readStale(ctx context.Context, query []byte) ([]byte, uint64, error) {
	r := &readRequest{query: query, done: make(chan readResult, 1)}
	// Index 0 is served at the applier's next wake-up, in order with
	// applies, since StateMachine.Read must not run concurrently with Apply.
	n.applier.addRead(r)
	select {
	case res := <-r.done:
		return res.value, res.index, res.err
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	case <-n.stopped:
		return nil, 0, ErrShutdown
	}
}
