package raft

import "testing"

func TestProposalQueueBoundAndOrder(t *testing.T) {
	q := newProposalQueue(3)
	ps := make([]*proposal, 4)
	for i := range ps {
		ps[i] = &proposal{data: make([]byte, 10)}
	}
	for _, p := range ps[:3] {
		if _, ok := q.push(p); !ok {
			t.Fatal("push into a queue below its bound failed")
		}
	}
	select {
	case <-q.ready:
	default:
		t.Fatal("no ready token after pushes into an empty queue")
	}
	wait, ok := q.push(ps[3])
	if ok || wait == nil {
		t.Fatalf("push into a full queue = %v, %v; want a wait channel and false", wait, ok)
	}

	// Two proposals fit the byte limit of accept; the third does not.
	got := q.take(10, func(count, bytes int) bool { return bytes <= 20 })
	if len(got) != 2 || got[0] != ps[0] || got[1] != ps[1] {
		t.Fatalf("take returned %d proposals, want the first two in order", len(got))
	}
	select {
	case <-wait:
	default:
		t.Fatal("wait channel not closed after take made room")
	}
	select {
	case <-q.ready:
	default:
		t.Fatal("no ready token while a proposal remains")
	}
	if got := q.take(1, func(int, int) bool { return false }); len(got) != 1 || got[0] != ps[2] {
		t.Fatal("take must return at least the oldest proposal")
	}

	if _, ok := q.push(ps[3]); !ok {
		t.Fatal("push after take failed")
	}
	if left := q.drain(); len(left) != 1 || left[0] != ps[3] {
		t.Fatalf("drain returned %d proposals, want 1", len(left))
	}
	if wait, ok := q.push(ps[0]); ok || wait != nil {
		t.Fatal("push after drain must return nil, false")
	}
}
