package raft

import (
	"sync"
	"sync/atomic"
)

// eventHub fans events out to subscribers without ever blocking the node:
// an event that does not fit a subscriber's buffer is dropped and counted.
type eventHub struct {
	mu      sync.Mutex
	subs    map[int]chan Event // guarded by mu
	nextID  int                // guarded by mu
	closed  bool               // guarded by mu
	dropped atomic.Uint64
}

func (h *eventHub) init() { h.subs = make(map[int]chan Event) }

func (h *eventHub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.subs {
		select {
		case ch <- e:
		default:
			h.dropped.Add(1)
		}
	}
}

func (h *eventHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for id, ch := range h.subs {
		close(ch)
		delete(h.subs, id)
	}
}

// Subscribe returns a channel of the node's events with room for buffer
// events, and a function that ends the subscription. Events that find the
// channel full are dropped (see DroppedEvents). The channel is closed when
// the subscription ends or the node stops.
func (n *Node) Subscribe(buffer int) (<-chan Event, func()) {
	h := &n.events
	ch := make(chan Event, max(buffer, 1))
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	id := h.nextID
	h.nextID++
	h.subs[id] = ch
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if c, ok := h.subs[id]; ok {
			close(c)
			delete(h.subs, id)
		}
	}
}

// DroppedEvents returns how many events were dropped because a
// subscriber's channel was full.
func (n *Node) DroppedEvents() uint64 { return n.events.dropped.Load() }
