package raft

import "sync"

// proposalQueue holds proposals between Propose and the node loop, oldest
// first, up to a bound. Callers push under a mutex and the node loop takes
// many at once, so a proposal costs one lock and, only when the queue was
// empty, one wake-up of the loop.
type proposalQueue struct {
	max int
	// ready has capacity 1 and holds a token while the queue may be
	// non-empty. The node loop receives it, takes proposals and puts the
	// token back if some remain.
	ready chan struct{}

	mu    sync.Mutex
	items []*proposal
	// space is closed when the queue drops below max; nil until a caller
	// has to wait for room.
	space chan struct{}
	// closed is set by drain; push then refuses proposals.
	closed bool
}

func newProposalQueue(max int) *proposalQueue {
	return &proposalQueue{max: max, ready: make(chan struct{}, 1)}
}

// push adds p and returns nil, true. If the queue is full it returns a
// channel that is closed once there is room, and false. After drain it
// returns nil, false.
func (q *proposalQueue) push(p *proposal) (wait <-chan struct{}, ok bool) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, false
	}
	if len(q.items) >= q.max {
		if q.space == nil {
			q.space = make(chan struct{})
		}
		wait = q.space
		q.mu.Unlock()
		return wait, false
	}
	q.items = append(q.items, p)
	wake := len(q.items) == 1
	q.mu.Unlock()
	if wake {
		q.signal()
	}
	return nil, true
}

func (q *proposalQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take removes the longest prefix of the queue, up to limit proposals, for
// which accept returns true. accept receives the number of proposals taken
// so far and their command bytes, both including the candidate. The oldest
// proposal is taken without asking accept. take puts the ready token back
// when proposals remain.
func (q *proposalQueue) take(limit int, accept func(count, bytes int) bool) []*proposal {
	q.mu.Lock()
	n, bytes := 0, 0
	for n < len(q.items) && n < limit {
		bytes += len(q.items[n].data)
		if n > 0 && !accept(n+1, bytes) {
			break
		}
		n++
	}
	out := make([]*proposal, n)
	copy(out, q.items)
	rest := copy(q.items, q.items[n:])
	clear(q.items[rest:])
	q.items = q.items[:rest]
	if q.space != nil && len(q.items) < q.max {
		close(q.space)
		q.space = nil
	}
	q.mu.Unlock()
	if rest > 0 {
		q.signal()
	}
	return out
}

// drain closes the queue to new proposals and returns those it holds.
func (q *proposalQueue) drain() []*proposal {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	out := q.items
	q.items = nil
	if q.space != nil {
		close(q.space)
		q.space = nil
	}
	return out
}

// len returns the number of queued proposals.
func (q *proposalQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
