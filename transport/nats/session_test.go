package natstransport

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/statemachine/sessionwire"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// sessionHandler is a wire.ClientHandler that records the session commands
// it receives and answers each with the next function of its script. Once
// the script is used up, it answers Applied with the command as result.
type sessionHandler struct {
	mu       sync.Mutex
	received []sessionwire.SessionCommand
	script   []func(ctx context.Context, sc *sessionwire.SessionCommand) *wire.ProposeResponse
}

func (h *sessionHandler) Propose(ctx context.Context, req *wire.ProposeRequest) *wire.ProposeResponse {
	var sc sessionwire.SessionCommand
	if err := sc.Unmarshal(req.Command); err != nil {
		return &wire.ProposeResponse{Error: wire.ErrorCodeInvalid, Message: err.Error()}
	}
	h.mu.Lock()
	h.received = append(h.received, sc)
	var step func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse
	if len(h.script) > 0 {
		step, h.script = h.script[0], h.script[1:]
	}
	h.mu.Unlock()
	if step != nil {
		return step(ctx, &sc)
	}
	return sessionReplyOf(sessionwire.StatusApplied, 9, sc.Command)
}

func (h *sessionHandler) ProposeBatch(context.Context, *wire.ProposeBatchRequest) *wire.ProposeBatchResponse {
	return &wire.ProposeBatchResponse{Error: wire.ErrorCodeInternal, Message: "session commands are never batched"}
}

func (h *sessionHandler) Read(context.Context, *wire.ReadRequest) *wire.ReadResponse {
	return &wire.ReadResponse{Error: wire.ErrorCodeInternal, Message: "no reads here"}
}

func (h *sessionHandler) Status(context.Context, *wire.StatusRequest) *wire.StatusResponse {
	return &wire.StatusResponse{Cluster: testCluster, Node: "n1", Role: "leader"}
}

func (h *sessionHandler) commands() []sessionwire.SessionCommand {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sessionwire.SessionCommand(nil), h.received...)
}

// sessionReplyOf returns a propose response that carries a session result.
func sessionReplyOf(status sessionwire.Status, index uint64, result []byte) *wire.ProposeResponse {
	res := sessionwire.SessionResult{Status: status, Result: result, Index: index, Message: "status " + status.String()}
	return &wire.ProposeResponse{Index: index, Result: res.Marshal()}
}

// blockUntilDone answers only when the attempt's context ends: a reply
// that never comes.
func blockUntilDone(ctx context.Context, _ *sessionwire.SessionCommand) *wire.ProposeResponse {
	<-ctx.Done()
	return &wire.ProposeResponse{Error: wire.ErrorCodeOutcomeUnknown, Message: "too late"}
}

func answer(resp *wire.ProposeResponse) func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse {
	return func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse { return resp }
}

// startSessionLeader serves h as the leader and returns a session client
// with the given attempt timeout.
func startSessionLeader(t *testing.T, h *sessionHandler, attempt time.Duration) (*Client, *embedded.Server) {
	t.Helper()
	s := startServer(t, embedded.Options{})
	cs, nc := startClientServer(t, s, "n1", h)
	setLeader(t, cs, nc, true)
	c, err := NewClient(connect(t, s), ClientConfig{Cluster: testCluster, Sessions: true, AttemptTimeout: attempt, Logger: quietLogger})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c, s
}

func TestSessionProposeResendsSameSequence(t *testing.T) {
	h := &sessionHandler{script: []func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse{
		answer(&wire.ProposeResponse{Error: wire.ErrorCodeOutcomeUnknown, Message: "leadership lost"}),
		blockUntilDone,
		answer(&wire.ProposeResponse{Error: wire.ErrorCodeDropped, Message: "entry replaced"}),
		answer(sessionReplyOf(sessionwire.StatusDuplicate, 4, []byte("first result"))),
	}}
	c, _ := startSessionLeader(t, h, 200*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	result, index, err := c.Propose(ctx, []byte("cmd"))
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	if string(result) != "first result" || index != 4 {
		t.Errorf("propose returned %q at index %d, want the recorded %q at index 4", result, index, "first result")
	}
	got := h.commands()
	if len(got) != 4 {
		t.Fatalf("the handler received %d attempts, want 4", len(got))
	}
	for i, sc := range got {
		if sc.ClientID != c.ClientID() || sc.Sequence != 1 || sc.Ack != 0 || string(sc.Command) != "cmd" {
			t.Errorf("attempt %d sent %+v, want client %s, sequence 1, ack 0, command %q", i+1, sc, c.ClientID(), "cmd")
		}
	}
}

func TestSessionProposeAcknowledgesReplies(t *testing.T) {
	h := &sessionHandler{}
	c, _ := startSessionLeader(t, h, time.Second)
	ctx := context.Background()
	for range 3 {
		if _, _, err := c.Propose(ctx, []byte("x")); err != nil {
			t.Fatalf("propose: %v", err)
		}
	}
	got := h.commands()
	for i, sc := range got {
		if sc.Sequence != uint64(i+1) || sc.Ack != uint64(i) {
			t.Errorf("command %d: sequence %d, ack %d; want %d, %d", i, sc.Sequence, sc.Ack, i+1, i)
		}
	}
	if len(c.ClientID()) != 32 {
		t.Errorf("random client id %q, want 32 hex digits", c.ClientID())
	}
}

func TestClientSessionAckWaitsForOldest(t *testing.T) {
	s, err := newClientSession("c")
	if err != nil {
		t.Fatal(err)
	}
	one, two, three := s.begin(), s.begin(), s.begin()
	if got := s.ack(); got != 0 {
		t.Errorf("ack with 1, 2, 3 pending: %d, want 0", got)
	}
	s.finish(two)
	if got := s.ack(); got != 0 {
		t.Errorf("ack with 1 and 3 pending: %d, want 0", got)
	}
	s.finish(one)
	if got := s.ack(); got != 2 {
		t.Errorf("ack with 3 pending: %d, want 2", got)
	}
	s.finish(three)
	if got := s.ack(); got != 3 {
		t.Errorf("ack with nothing pending: %d, want 3", got)
	}
}

func TestSessionProposeDeadlineAfterSendIsUnknown(t *testing.T) {
	h := &sessionHandler{script: []func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse{
		blockUntilDone, blockUntilDone, blockUntilDone, blockUntilDone, blockUntilDone, blockUntilDone,
	}}
	c, _ := startSessionLeader(t, h, 100*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	_, _, err := c.Propose(ctx, []byte("cmd"))
	if !errors.Is(err, raft.ErrOutcomeUnknown) || errors.Is(err, raft.ErrNotApplied) {
		t.Fatalf("propose error %v: want it to match ErrOutcomeUnknown only", err)
	}
	if n := len(h.commands()); n < 2 {
		t.Errorf("the handler received %d attempts, want at least 2 within the deadline", n)
	}
}

func TestSessionProposeWithoutLeaderIsNotApplied(t *testing.T) {
	s := startServer(t, embedded.Options{})
	c, err := NewClient(connect(t, s), ClientConfig{Cluster: testCluster, Sessions: true, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err = c.Propose(ctx, []byte("cmd"))
	if !errors.Is(err, raft.ErrNotApplied) || errors.Is(err, raft.ErrOutcomeUnknown) {
		t.Fatalf("propose error %v: want it to match ErrNotApplied only", err)
	}
	if !errors.Is(err, raft.ErrNoLeader) {
		t.Errorf("propose error %v: want it to match ErrNoLeader", err)
	}
}

func TestSessionProposeRenewsExpiredSession(t *testing.T) {
	h := &sessionHandler{}
	c, _ := startSessionLeader(t, h, time.Second)
	ctx := context.Background()
	if _, _, err := c.Propose(ctx, []byte("a")); err != nil {
		t.Fatalf("first propose: %v", err)
	}
	h.mu.Lock()
	h.script = append(h.script, answer(sessionReplyOf(sessionwire.StatusSessionExpired, 0, nil)))
	h.mu.Unlock()

	result, _, err := c.Propose(ctx, []byte("b"))
	if err != nil {
		t.Fatalf("propose after expiry: %v", err)
	}
	if string(result) != "b" {
		t.Errorf("result %q, want %q", result, "b")
	}
	got := h.commands()
	if len(got) != 3 {
		t.Fatalf("the handler received %d commands, want 3", len(got))
	}
	if got[1].Sequence != 2 || got[1].Ack != 1 {
		t.Errorf("the rejected attempt sent sequence %d, ack %d; want 2, 1", got[1].Sequence, got[1].Ack)
	}
	if got[2].Sequence != 2 || got[2].Ack != 0 {
		t.Errorf("the renewing attempt sent sequence %d, ack %d; want 2, 0 to start a new session", got[2].Sequence, got[2].Ack)
	}
}

func TestSessionProposeFailures(t *testing.T) {
	tests := []struct {
		name        string
		script      []func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse
		want        error
		notApplied  bool
		messagePart string
	}{
		{
			name:       "invalid command",
			script:     []func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse{answer(sessionReplyOf(sessionwire.StatusInvalid, 0, nil))},
			want:       ErrInvalidRequest,
			notApplied: true,
		},
		{
			name:   "invalid after an unknown attempt",
			script: []func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse{answer(&wire.ProposeResponse{Error: wire.ErrorCodeOutcomeUnknown}), answer(sessionReplyOf(sessionwire.StatusInvalid, 0, nil))},
			want:   raft.ErrOutcomeUnknown, messagePart: "an earlier attempt may have been applied",
		},
		{
			name:   "discarded result",
			script: []func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse{answer(sessionReplyOf(sessionwire.StatusDiscarded, 0, nil))},
			want:   ErrResultDiscarded,
		},
		{
			name:   "expired twice",
			script: []func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse{answer(sessionReplyOf(sessionwire.StatusSessionExpired, 0, nil)), answer(sessionReplyOf(sessionwire.StatusSessionExpired, 0, nil))},
			want:   ErrSessionExpired, notApplied: true,
		},
		{
			name:   "plain state machine",
			script: []func(context.Context, *sessionwire.SessionCommand) *wire.ProposeResponse{answer(&wire.ProposeResponse{Index: 3, Result: []byte{0x81, 0x05, 0xa1, 'x'}})},
			want:   ErrNoSessions,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := startSessionLeader(t, &sessionHandler{script: tt.script}, time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _, err := c.Propose(ctx, []byte("cmd"))
			if !errors.Is(err, tt.want) {
				t.Fatalf("propose error %v: want it to match %v", err, tt.want)
			}
			if errors.Is(err, raft.ErrNotApplied) != tt.notApplied || errors.Is(err, raft.ErrOutcomeUnknown) == tt.notApplied {
				t.Errorf("propose error %v: not applied %v, outcome unknown %v; want not applied %v",
					err, errors.Is(err, raft.ErrNotApplied), errors.Is(err, raft.ErrOutcomeUnknown), tt.notApplied)
			}
			if !strings.Contains(err.Error(), tt.messagePart) {
				t.Errorf("propose error %q does not contain %q", err, tt.messagePart)
			}
		})
	}
}

func TestNewClientRejectsLongClientID(t *testing.T) {
	s := startServer(t, embedded.Options{})
	_, err := NewClient(connect(t, s), ClientConfig{Cluster: testCluster, ClientID: strings.Repeat("x", MaxClientIDLen+1)})
	if err == nil || !strings.Contains(err.Error(), "longer than 128 bytes") {
		t.Fatalf("NewClient error %v, want a client id length error", err)
	}
	c, err := NewClient(connect(t, s), ClientConfig{Cluster: testCluster, ClientID: "svc-1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID() != "svc-1" {
		t.Errorf("client id %q, want svc-1: a ClientID enables sessions", c.ClientID())
	}
	plain := newTestClient(t, s, time.Second)
	if plain.ClientID() != "" {
		t.Errorf("client id %q without sessions, want empty", plain.ClientID())
	}
}
