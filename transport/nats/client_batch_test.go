package natstransport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// proposeResult is the outcome of one Propose call of a test.
type proposeResult struct {
	cmd    string
	result string
	err    error
}

// proposeAll runs one Propose per command, each on its own goroutine, and
// returns a channel that receives each outcome.
func proposeAll(ctx context.Context, c *Client, cmds ...string) <-chan proposeResult {
	out := make(chan proposeResult, len(cmds))
	for _, cmd := range cmds {
		go func() {
			result, _, err := c.Propose(ctx, []byte(cmd))
			out <- proposeResult{cmd: cmd, result: string(result), err: err}
		}()
	}
	return out
}

// waitQueued waits until n calls wait in c's batcher.
func waitQueued(t *testing.T, c *Client, n int) {
	t.Helper()
	waitFor(t, func() bool {
		c.batcher.mu.Lock()
		defer c.batcher.mu.Unlock()
		return len(c.batcher.queue) == n
	}, fmt.Sprintf("the batcher did not reach %d queued calls", n))
}

func commandNames(prefix string, n int) []string {
	cmds := make([]string, n)
	for i := range cmds {
		cmds[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return cmds
}

// proposeBehindGate sends one proposal, which goes out alone and waits at
// gated's gate holding the client's only batch slot, then queued more,
// then opens the gate. It checks that every call returns node's result for
// its command without error.
func proposeBehindGate(t *testing.T, c *Client, gated *fakeClient, queued int, node string) {
	t.Helper()
	ctx := context.Background()
	first := proposeAll(ctx, c, "first")
	waitFor(t, func() bool { n, _ := gated.counts(); return n == 1 }, "the first proposal did not arrive")
	rest := proposeAll(ctx, c, commandNames("c", queued)...)
	waitQueued(t, c, queued)
	close(gated.gate)

	for range queued {
		r := <-rest
		if r.err != nil || r.result != node+":"+r.cmd {
			t.Errorf("propose %s = %q, %v; want %q", r.cmd, r.result, r.err, node+":"+r.cmd)
		}
	}
	if r := <-first; r.err != nil || r.result != node+":first" {
		t.Errorf("first propose = %q, %v; want %q", r.result, r.err, node+":first")
	}
}

func TestClientBatchesConcurrentProposals(t *testing.T) {
	s := startServer(t, embedded.Options{})
	leader := newFakeClient("n1")
	leader.gate = make(chan struct{})
	cs, nc := startClientServer(t, s, "n1", leader)
	setLeader(t, cs, nc, true)
	c := newTestClientWith(t, s, ClientConfig{Timeout: 5 * time.Second, MaxBatchesInFlight: 1})
	c.batcher.slotHold = time.Minute // the gated request keeps its slot

	const queued = 40
	proposeBehindGate(t, c, leader, queued, "n1")
	leader.mu.Lock()
	defer leader.mu.Unlock()
	if leader.batches != 1 || leader.proposes != queued+1 {
		t.Errorf("leader saw %d batches and %d commands, want 1 batch and %d commands", leader.batches, leader.proposes, queued+1)
	}
}

func TestClientBatchRedirectedCommandByCommand(t *testing.T) {
	s := startServer(t, embedded.Options{})
	// n1 holds the leader subscription but names n2 as leader.
	follower := newFakeClient("n1")
	follower.answer = &wire.ProposeResponse{Error: wire.ErrorCodeNotLeader, Leader: "n2", Message: "not the leader"}
	follower.gate = make(chan struct{})
	cs1, nc1 := startClientServer(t, s, "n1", follower)
	setLeader(t, cs1, nc1, true)
	leader := newFakeClient("n2")
	startClientServer(t, s, "n2", leader)
	c := newTestClientWith(t, s, ClientConfig{Timeout: 5 * time.Second, MaxBatchesInFlight: 1})
	c.batcher.slotHold = time.Minute // the gated request keeps its slot

	proposeBehindGate(t, c, follower, 10, "n2")
	follower.mu.Lock()
	defer follower.mu.Unlock()
	if follower.batches != 1 {
		t.Errorf("n1 saw %d batches, want 1", follower.batches)
	}
}

func TestClientBatchCallerDeadline(t *testing.T) {
	s := startServer(t, embedded.Options{})
	leader, _, _, release := startGatedLeader(t, s, "n1")
	c := newTestClientWith(t, s, ClientConfig{Timeout: 5 * time.Second, MaxBatchesInFlight: 1})
	c.batcher.slotHold = time.Minute // the gated request keeps its slot

	first := proposeAll(context.Background(), c, "first")
	waitFor(t, func() bool { n, _ := leader.counts(); return n == 1 }, "the first proposal did not reach the leader")

	// A call still queued when its context ends was never sent.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := c.Propose(ctx, []byte("late"))
	if !errors.Is(err, raft.ErrNotApplied) {
		t.Errorf("queued propose after its deadline: error %v, want one matching raft.ErrNotApplied", err)
	}
	waitQueued(t, c, 0)

	release()
	if r := <-first; r.err != nil {
		t.Errorf("first propose: %v", r.err)
	}
	if n, _ := leader.counts(); n != 1 {
		t.Errorf("leader saw %d commands, want only the first", n)
	}
}

// TestClientBatchSlotPassesOnFromStuckRequest checks that a request with
// no reply, as one sent to a leader that crashed, lets later calls go to a
// new leader before its own deadline.
func TestClientBatchSlotPassesOnFromStuckRequest(t *testing.T) {
	s := startServer(t, embedded.Options{})
	stuck, cs1, nc1, release := startGatedLeader(t, s, "n1")
	c := newTestClientWith(t, s, ClientConfig{Timeout: 10 * time.Second, MaxBatchesInFlight: 1})
	c.batcher.slotHold = 20 * time.Millisecond

	first := proposeAll(context.Background(), c, "first")
	waitFor(t, func() bool { n, _ := stuck.counts(); return n == 1 }, "the first proposal did not reach n1")
	// n1 no longer leads, and n2 does.
	setLeader(t, cs1, nc1, false)
	leader := newFakeClient("n2")
	cs2, nc2 := startClientServer(t, s, "n2", leader)
	setLeader(t, cs2, nc2, true)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	result, _, err := c.Propose(ctx, []byte("next"))
	if err != nil || string(result) != "n2:next" {
		t.Fatalf("propose while the first request has no reply = %q, %v; want %q", result, err, "n2:next")
	}
	release()
	if r := <-first; r.err != nil {
		t.Errorf("first propose: %v", r.err)
	}
}

func TestClientBatchingDisabled(t *testing.T) {
	s := startServer(t, embedded.Options{})
	leader := newFakeClient("n1")
	cs, nc := startClientServer(t, s, "n1", leader)
	setLeader(t, cs, nc, true)
	c := newTestClientWith(t, s, ClientConfig{Timeout: 5 * time.Second, DisableBatching: true})

	results := proposeAll(context.Background(), c, commandNames("c", 30)...)
	for range 30 {
		if r := <-results; r.err != nil || r.result != "n1:"+r.cmd {
			t.Errorf("propose %s = %q, %v", r.cmd, r.result, r.err)
		}
	}
	leader.mu.Lock()
	defer leader.mu.Unlock()
	if leader.batches != 0 || leader.proposes != 30 {
		t.Errorf("leader saw %d batches and %d commands, want no batch and 30 commands", leader.batches, leader.proposes)
	}
}

// startGatedLeader starts a ClientServer for node that serves the leader
// subjects with a fakeClient whose proposals wait until release is called.
// release runs at the latest when the test ends, before the server closes.
func startGatedLeader(t *testing.T, s *embedded.Server, node string) (*fakeClient, *ClientServer, *nats.Conn, func()) {
	t.Helper()
	h := newFakeClient(node)
	h.gate = make(chan struct{})
	cs, nc := startClientServer(t, s, node, h)
	setLeader(t, cs, nc, true)
	release := sync.OnceFunc(func() { close(h.gate) })
	t.Cleanup(release)
	return h, cs, nc, release
}

// waitFor polls cond every millisecond for up to 5 seconds and fails the
// test with msg if it never holds.
func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestClientProposeTooLargeNamesSizes(t *testing.T) {
	s := startServer(t, embedded.Options{MaxPayload: 4096})
	leader := newFakeClient("n1")
	cs, nc := startClientServer(t, s, "n1", leader)
	setLeader(t, cs, nc, true)
	c := newTestClient(t, s, 5*time.Second)

	_, _, err := c.Propose(context.Background(), make([]byte, 8000))
	if !errors.Is(err, raft.ErrNotApplied) {
		t.Errorf("oversized propose: error %v, want one matching raft.ErrNotApplied", err)
	}
	if err == nil || !strings.Contains(err.Error(), "8000 bytes") || !strings.Contains(err.Error(), "4096 bytes") {
		t.Errorf("oversized propose: error %v, want the command's size and the max payload", err)
	}
	if n, _ := leader.counts(); n != 0 {
		t.Errorf("the leader received %d proposals, want none", n)
	}
}
