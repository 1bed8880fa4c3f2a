package natstransport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

func TestClientProposeReachesLeader(t *testing.T) {
	s := startServer(t, embedded.Options{})
	leader := newFakeClient("n1")
	cs, nc := startClientServer(t, s, "n1", leader)
	setLeader(t, cs, nc, true)
	c := newTestClient(t, s, 5*time.Second)

	result, index, err := c.Propose(context.Background(), []byte("cmd"))
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	if string(result) != "n1:cmd" || index != 7 {
		t.Fatalf("propose returned %q at index %d, want %q at 7", result, index, "n1:cmd")
	}
	answer, err := c.Read(context.Background(), []byte("q"))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(answer) != "n1:q" {
		t.Fatalf("read returned %q, want %q", answer, "n1:q")
	}
	if got := cs.Stats().Requests; got != 2 {
		t.Fatalf("server requests %d, want 2", got)
	}
}

func TestClientFollowsLeaderHint(t *testing.T) {
	s := startServer(t, embedded.Options{})
	// n1 still holds the leader subscription, but its reply names n2 as leader.
	follower := newFakeClient("n1")
	follower.answer = &wire.ProposeResponse{Error: wire.ErrorCodeNotLeader, Leader: "n2", Message: "not the leader"}
	cs1, nc1 := startClientServer(t, s, "n1", follower)
	setLeader(t, cs1, nc1, true)
	leader := newFakeClient("n2")
	startClientServer(t, s, "n2", leader)
	c := newTestClient(t, s, 5*time.Second)

	result, _, err := c.Propose(context.Background(), []byte("cmd"))
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	if string(result) != "n2:cmd" {
		t.Fatalf("propose result %q, want it from n2", result)
	}
	if p, _ := follower.counts(); p != 1 {
		t.Errorf("follower got %d proposals, want 1", p)
	}
	if p, _ := leader.counts(); p != 1 {
		t.Errorf("leader got %d proposals, want 1", p)
	}

	answer, err := c.Read(context.Background(), []byte("q"))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(answer) != "n2:q" {
		t.Fatalf("read result %q, want it from n2", answer)
	}
}

func TestClientNoResponders(t *testing.T) {
	s := startServer(t, embedded.Options{})
	c := newTestClient(t, s, 300*time.Millisecond)

	_, _, err := c.Propose(context.Background(), []byte("cmd"))
	if !errors.Is(err, raft.ErrNoLeader) || !errors.Is(err, raft.ErrNotApplied) {
		t.Fatalf("propose without a leader: %v, want ErrNoLeader and ErrNotApplied", err)
	}
	if errors.Is(err, raft.ErrOutcomeUnknown) {
		t.Fatalf("propose without a leader: %v matches ErrOutcomeUnknown", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Read(ctx, []byte("q")); !errors.Is(err, raft.ErrNoLeader) {
		t.Fatalf("read without a leader: %v, want ErrNoLeader", err)
	}
}

func TestClientRetriesUntilLeaderAppears(t *testing.T) {
	s := startServer(t, embedded.Options{})
	leader := newFakeClient("n1")
	cs, nc := startClientServer(t, s, "n1", leader)
	c := newTestClient(t, s, 10*time.Second)

	done := make(chan error, 1)
	go func() {
		_, _, err := c.Propose(context.Background(), []byte("cmd"))
		done <- err
	}()
	// The client gets no responders until the leader subscribes.
	time.Sleep(50 * time.Millisecond)
	setLeader(t, cs, nc, true)
	if err := <-done; err != nil {
		t.Fatalf("propose: %v", err)
	}
}

func TestClientErrorCodes(t *testing.T) {
	cases := []struct {
		code      wire.ErrorCode
		want      []error
		notWant   []error
		retried   bool
		readRetry bool
	}{
		{code: wire.ErrorCodeNotLeader, want: []error{raft.ErrNotLeader, raft.ErrNotApplied, raft.ErrNoLeader}, retried: true, readRetry: true},
		{code: wire.ErrorCodeNoLeader, want: []error{raft.ErrNoLeader, raft.ErrNotApplied}, retried: true, readRetry: true},
		{code: wire.ErrorCodeOverloaded, want: []error{raft.ErrOverloaded, raft.ErrNotApplied}, retried: true, readRetry: true},
		{code: wire.ErrorCodeShuttingDown, want: []error{raft.ErrShutdown, raft.ErrNotApplied}, retried: true, readRetry: true},
		{code: wire.ErrorCodeDropped, want: []error{raft.ErrProposalDropped, raft.ErrNotApplied}, notWant: []error{raft.ErrOutcomeUnknown}, readRetry: true},
		{code: wire.ErrorCodeOutcomeUnknown, want: []error{raft.ErrOutcomeUnknown}, notWant: []error{raft.ErrNotApplied}, readRetry: true},
		{code: wire.ErrorCodeInvalid, want: []error{ErrInvalidRequest, raft.ErrNotApplied}},
		{code: wire.ErrorCodeInternal, want: []error{ErrInternal}, notWant: []error{raft.ErrNotApplied, raft.ErrOutcomeUnknown}},
	}
	s := startServer(t, embedded.Options{})
	h := newFakeClient("n1")
	cs, nc := startClientServer(t, s, "n1", h)
	setLeader(t, cs, nc, true)
	c := newTestClient(t, s, 150*time.Millisecond)

	for _, tc := range cases {
		t.Run(tc.code.String(), func(t *testing.T) {
			h.set(func(f *fakeClient) {
				f.answer = &wire.ProposeResponse{Error: tc.code, Message: "from n1"}
				f.proposes, f.reads = 0, 0
			})
			_, _, err := c.Propose(context.Background(), []byte("cmd"))
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("propose error %v does not match %v", err, w)
				}
			}
			for _, w := range tc.notWant {
				if errors.Is(err, w) {
					t.Errorf("propose error %v matches %v", err, w)
				}
			}
			proposes, _ := h.counts()
			if tc.retried && proposes < 2 {
				t.Errorf("proposals sent %d, want retries", proposes)
			}
			if !tc.retried && proposes != 1 {
				t.Errorf("proposals sent %d, want exactly 1", proposes)
			}

			_, err = c.Read(context.Background(), []byte("q"))
			if err == nil {
				t.Fatal("read: want error")
			}
			_, reads := h.counts()
			if tc.readRetry && reads < 2 {
				t.Errorf("reads sent %d, want retries", reads)
			}
			if !tc.readRetry && reads != 1 {
				t.Errorf("reads sent %d, want exactly 1", reads)
			}
		})
	}
}

func TestClientProposeTimeoutIsOutcomeUnknown(t *testing.T) {
	s := startServer(t, embedded.Options{})
	h := newFakeClient("n1")
	h.block = true
	cs, nc := startClientServer(t, s, "n1", h)
	setLeader(t, cs, nc, true)
	c := newTestClient(t, s, 200*time.Millisecond)

	_, _, err := c.Propose(context.Background(), []byte("cmd"))
	if !errors.Is(err, raft.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("propose with no reply: %v, want ErrOutcomeUnknown and DeadlineExceeded", err)
	}
	if errors.Is(err, raft.ErrNotApplied) {
		t.Fatalf("propose with no reply: %v matches ErrNotApplied", err)
	}
	if p, _ := h.counts(); p != 1 {
		t.Fatalf("proposals sent %d, want 1: a delivered proposal must not be retried", p)
	}

	_, err = c.Read(context.Background(), []byte("q"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read with no reply: %v, want DeadlineExceeded", err)
	}
	if errors.Is(err, raft.ErrOutcomeUnknown) {
		t.Fatalf("read with no reply: %v matches ErrOutcomeUnknown", err)
	}
}

func TestClientStatusFromThreeNodes(t *testing.T) {
	s := startServer(t, embedded.Options{})
	voters := []string{"n1", "n2", "n3"}
	for i, node := range []string{"n3", "n1", "n2"} {
		h := newFakeClient(node)
		h.voters = voters
		h.term = uint64(5 + i)
		if node == "n2" {
			h.role = raft.RoleLeader.String()
		}
		startClientServer(t, s, node, h)
	}
	// A long quiet period shows that Status stops once every voter replied.
	c, err := NewClient(connect(t, s), ClientConfig{Cluster: testCluster, StatusQuiet: time.Minute, Logger: quietLogger})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}

	replies, err := c.Status(context.Background())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	var nodes []string
	for _, r := range replies {
		nodes = append(nodes, r.GetNode())
	}
	if fmt.Sprint(nodes) != "[n1 n2 n3]" {
		t.Fatalf("status replies from %v, want [n1 n2 n3] in order", nodes)
	}

	leader, err := c.Leader(context.Background())
	if err != nil {
		t.Fatalf("leader: %v", err)
	}
	if leader != "n2" {
		t.Fatalf("leader %q, want n2", leader)
	}
}

func TestClientStatusQuietPeriod(t *testing.T) {
	s := startServer(t, embedded.Options{})
	// n1 names a voter n9 that never replies.
	h := newFakeClient("n1")
	h.voters = []string{"n1", "n9"}
	startClientServer(t, s, "n1", h)
	c := newTestClient(t, s, 10*time.Second)

	replies, err := c.Status(context.Background())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if len(replies) != 1 || replies[0].GetNode() != "n1" {
		t.Fatalf("status replies %v, want only n1's", replies)
	}
}

func TestClientStatusNoNodes(t *testing.T) {
	s := startServer(t, embedded.Options{})
	c := newTestClient(t, s, time.Second)

	if _, err := c.Status(context.Background()); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("status without nodes: %v, want nats.ErrNoResponders", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Leader(ctx); !errors.Is(err, raft.ErrNoLeader) {
		t.Fatalf("leader without nodes: %v, want ErrNoLeader", err)
	}
}

func TestClientServerSetLeaderToggle(t *testing.T) {
	s := startServer(t, embedded.Options{})
	h1, h2 := newFakeClient("n1"), newFakeClient("n2")
	cs1, nc1 := startClientServer(t, s, "n1", h1)
	cs2, nc2 := startClientServer(t, s, "n2", h2)
	c := newTestClient(t, s, 5*time.Second)

	propose := func() string {
		t.Helper()
		result, _, err := c.Propose(context.Background(), []byte("x"))
		if err != nil {
			t.Fatalf("propose: %v", err)
		}
		return string(result)
	}

	setLeader(t, cs1, nc1, true)
	setLeader(t, cs1, nc1, true) // idempotent: still one queue member
	if got := propose(); got != "n1:x" {
		t.Fatalf("with n1 leading, result %q", got)
	}
	if got := nc1.NumSubscriptions(); got != 5 {
		t.Fatalf("n1 has %d subscriptions, want 5 (node, status, propose, propose_batch, read)", got)
	}

	setLeader(t, cs1, nc1, false)
	setLeader(t, cs2, nc2, true)
	for range 5 {
		if got := propose(); got != "n2:x" {
			t.Fatalf("with n2 leading, result %q", got)
		}
	}
	if p, _ := h1.counts(); p != 1 {
		t.Fatalf("n1 got %d proposals, want 1", p)
	}

	setLeader(t, cs2, nc2, false)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := c.Propose(ctx, []byte("x")); !errors.Is(err, raft.ErrNoLeader) {
		t.Fatalf("propose with no node leading: %v, want ErrNoLeader", err)
	}
}

func TestClientServerSetLeaderConcurrent(t *testing.T) {
	s := startServer(t, embedded.Options{})
	cs, nc := startClientServer(t, s, "n1", newFakeClient("n1"))

	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 50 {
				if err := cs.SetLeader((i+j)%2 == 0); err != nil {
					t.Errorf("set leader: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	setLeader(t, cs, nc, true)
	// Drained subscriptions go away in the background.
	waitSubscriptions(t, nc, 5)
	if err := cs.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := cs.SetLeader(true); !errors.Is(err, ErrClosed) {
		t.Fatalf("set leader after close: %v, want ErrClosed", err)
	}
	if err := cs.SetLeader(false); err != nil {
		t.Fatalf("set leader false after close: %v", err)
	}
}

func TestClientServerMalformedRequests(t *testing.T) {
	s := startServer(t, embedded.Options{})
	cs, _ := startClientServer(t, s, "n1", newFakeClient("n1"))
	raw := connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	garbage := []byte{0xc1, 0x00}
	for _, suffix := range []string{wire.SubjectPropose, wire.SubjectRead} {
		m, err := raw.RequestWithContext(ctx, "natsraft.c1.n1.client."+suffix, garbage)
		if err != nil {
			t.Fatalf("%s request: %v", suffix, err)
		}
		var resp wire.ReadResponse // propose and read replies share field ids 2 and 3
		if suffix == wire.SubjectPropose {
			var p wire.ProposeResponse
			if err := p.Unmarshal(m.Data); err != nil {
				t.Fatalf("decode propose reply: %v", err)
			}
			resp.Error, resp.Message = p.Error, p.Message
		} else if err := resp.Unmarshal(m.Data); err != nil {
			t.Fatalf("decode read reply: %v", err)
		}
		if resp.Error != wire.ErrorCodeInvalid {
			t.Fatalf("%s reply code %v (%q), want Invalid", suffix, resp.Error, resp.Message)
		}
	}

	// Status has no error field, and an unknown suffix has no reply type:
	// both are dropped, and the requester times out.
	for _, subject := range []string{"natsraft.c1.n1.client.status", "natsraft.c1.n1.client.bogus"} {
		short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
		_, err := raw.RequestWithContext(short, subject, garbage)
		cancelShort()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("request on %s: %v, want no reply", subject, err)
		}
	}

	// Wrong cluster id.
	m, err := raw.RequestWithContext(ctx, "natsraft.c1.n1.client.propose", (&wire.ProposeRequest{Cluster: "other"}).Marshal())
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	var resp wire.ProposeResponse
	if err := resp.Unmarshal(m.Data); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if resp.Error != wire.ErrorCodeInvalid {
		t.Fatalf("propose for another cluster: code %v, want Invalid", resp.Error)
	}

	// A request without a reply subject.
	if err := raw.Publish("natsraft.c1.n1.client.propose", (&wire.ProposeRequest{Cluster: testCluster}).Marshal()); err != nil {
		t.Fatalf("publish: %v", err)
	}
	flush(t, raw)
	// The status request that follows is handled after the publish above.
	if _, err := raw.RequestWithContext(ctx, "natsraft.c1.n1.client.status", (&wire.StatusRequest{Cluster: testCluster}).Marshal()); err != nil {
		t.Fatalf("status request: %v", err)
	}

	st := cs.Stats()
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"malformed", st.Malformed, 3},
		{"unknown subject", st.DroppedUnknownSubject, 1},
		{"no reply", st.DroppedNoReply, 1},
		{"requests", st.Requests, 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestClientServerCloseCancelsRequests(t *testing.T) {
	s := startServer(t, embedded.Options{})
	h := newFakeClient("n1")
	h.block = true
	cs, nc := startClientServer(t, s, "n1", h)
	setLeader(t, cs, nc, true)
	c := newTestClient(t, s, waitTimeout)

	done := make(chan error, 1)
	go func() {
		_, _, err := c.Propose(context.Background(), []byte("cmd"))
		done <- err
	}()
	select {
	case <-time.After(waitTimeout):
		t.Fatal("proposal did not reach the handler")
	case <-waitForProposal(h):
	}

	if err := cs.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := <-h.ctxErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler context ended with %v, want Canceled", err)
	}
	// The handler's reply (a success from the fake) is still sent.
	if err := <-done; err != nil {
		t.Fatalf("propose: %v", err)
	}
	if nc.IsClosed() {
		t.Fatal("Close closed the caller's connection")
	}
}

// waitForProposal returns a channel closed once h has received a proposal.
func waitForProposal(h *fakeClient) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for {
			if p, _ := h.counts(); p > 0 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return ch
}

func TestFollowLeadership(t *testing.T) {
	s := startServer(t, embedded.Options{})
	cs, nc := startClientServer(t, s, "n1", newFakeClient("n1"))
	events := make(chan raft.Event, 4)
	stopped := make(chan struct{})
	cs.followLeadership(events, func() { close(stopped) }, func() bool { return false })

	events <- raft.Event{Type: raft.EventRoleChanged, Role: raft.RoleLeader}
	waitSubscriptions(t, nc, 5)
	events <- raft.Event{Type: raft.EventLeaderChanged, Leader: "n2"}
	events <- raft.Event{Type: raft.EventRoleChanged, Role: raft.RoleFollower}
	waitSubscriptions(t, nc, 2)

	if err := cs.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case <-stopped:
	case <-time.After(waitTimeout):
		t.Fatal("event subscription not released on Close")
	}
}

func TestNewClientValidation(t *testing.T) {
	s := startServer(t, embedded.Options{})
	nc := connect(t, s)
	if _, err := NewClient(nc, ClientConfig{}); err == nil {
		t.Error("missing cluster: want error")
	}
	if _, err := NewClient(nc, ClientConfig{Cluster: "c", Timeout: -time.Second}); err == nil {
		t.Error("negative timeout: want error")
	}
	if _, err := NewClient(nil, ClientConfig{Cluster: "c"}); err == nil {
		t.Error("nil connection: want error")
	}
	if _, err := NewClientServer(nc, Config{Cluster: "c", Node: "n1"}, nil); err == nil {
		t.Error("nil handler: want error")
	}
}
