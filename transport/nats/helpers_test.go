package natstransport

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

const testCluster = "c1"

// waitTimeout bounds every wait for a message in these tests. It only
// limits how long a failing test hangs.
const waitTimeout = 10 * time.Second

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer starts an embedded NATS server for one test.
func startServer(t *testing.T, opts embedded.Options) *embedded.Server {
	t.Helper()
	if opts.Port == 0 {
		opts.Port = embedded.NoListener
	}
	s, err := embedded.Start(opts)
	if err != nil {
		t.Fatalf("start nats server: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// connect opens a connection that the test closes at cleanup.
func connect(t *testing.T, s *embedded.Server) *nats.Conn {
	t.Helper()
	nc, err := s.Connect()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// flush waits until the server has processed everything nc sent, such as
// subscriptions made just before.
func flush(t *testing.T, nc *nats.Conn) {
	t.Helper()
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func testConfig(node string, peers ...string) Config {
	return Config{Cluster: testCluster, Node: node, Peers: peers, Logger: quietLogger}
}

// recorder is a wire.PeerHandler that forwards every message to a channel.
type recorder struct {
	msgs chan wire.Message
}

func newRecorder() *recorder { return &recorder{msgs: make(chan wire.Message, 1024)} }

func (r *recorder) HandleRequestVote(m *wire.VoteRequest)                         { r.msgs <- m }
func (r *recorder) HandleRequestVoteResponse(m *wire.VoteResponse)                { r.msgs <- m }
func (r *recorder) HandleAppendEntries(m *wire.AppendEntriesRequest)              { r.msgs <- m }
func (r *recorder) HandleAppendEntriesResponse(m *wire.AppendEntriesResponse)     { r.msgs <- m }
func (r *recorder) HandleInstallSnapshot(m *wire.InstallSnapshotRequest)          { r.msgs <- m }
func (r *recorder) HandleInstallSnapshotResponse(m *wire.InstallSnapshotResponse) { r.msgs <- m }
func (r *recorder) HandleTimeoutNow(m *wire.TimeoutNowRequest)                    { r.msgs <- m }

// next returns the next delivered message, failing the test after
// waitTimeout.
func (r *recorder) next(t *testing.T) wire.Message {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("no message delivered within %s", waitTimeout)
		return nil
	}
}

// fakeClient is a wire.ClientHandler whose replies a test sets. By default
// every request succeeds.
type fakeClient struct {
	node string

	mu       sync.Mutex
	proposes int
	reads    int
	// batches counts ProposeBatch requests; their commands count in
	// proposes.
	batches int
	// answer, if set, replaces the success response of Propose and Read.
	answer *wire.ProposeResponse
	// block makes Propose and Read wait until their context ends.
	block bool
	// gate, when set, makes Propose and ProposeBatch wait until it is
	// closed.
	gate chan struct{}
	// ctxErr is the context error a blocked handler saw.
	ctxErr chan error
	role   string
	term   uint64
	voters []string
}

func newFakeClient(node string) *fakeClient {
	return &fakeClient{node: node, role: "follower", ctxErr: make(chan error, 16)}
}

func (f *fakeClient) set(fn func(f *fakeClient)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeClient) counts() (proposes, reads int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.proposes, f.reads
}

// waitGate waits until gate is closed, or returns at once if it is nil.
func waitGate(gate chan struct{}) {
	if gate != nil {
		<-gate
	}
}

func (f *fakeClient) wait(ctx context.Context, block bool) {
	if block {
		<-ctx.Done()
		f.ctxErr <- ctx.Err()
	}
}

func (f *fakeClient) Propose(ctx context.Context, req *wire.ProposeRequest) *wire.ProposeResponse {
	f.mu.Lock()
	f.proposes++
	answer, block, gate := f.answer, f.block, f.gate
	f.mu.Unlock()
	waitGate(gate)
	f.wait(ctx, block)
	if answer != nil {
		return answer
	}
	return &wire.ProposeResponse{Index: 7, Result: []byte(f.node + ":" + string(req.Command))}
}

// ProposeBatch returns for each command the response Propose would return.
// A set answer with an error fails the whole batch instead, as a node that
// is not the leader does.
func (f *fakeClient) ProposeBatch(ctx context.Context, req *wire.ProposeBatchRequest) *wire.ProposeBatchResponse {
	f.mu.Lock()
	f.batches++
	f.proposes += len(req.Commands)
	answer, block, gate := f.answer, f.block, f.gate
	f.mu.Unlock()
	waitGate(gate)
	f.wait(ctx, block)
	if answer != nil && answer.Error != wire.ErrorCodeOK {
		return &wire.ProposeBatchResponse{Error: answer.Error, Message: answer.Message, Leader: answer.Leader}
	}
	resp := &wire.ProposeBatchResponse{Responses: make([]wire.ProposeResponse, len(req.Commands))}
	for i, cmd := range req.Commands {
		resp.Responses[i] = wire.ProposeResponse{Index: 7, Result: []byte(f.node + ":" + string(cmd))}
		if answer != nil {
			resp.Responses[i] = *answer
		}
	}
	return resp
}

func (f *fakeClient) Read(ctx context.Context, req *wire.ReadRequest) *wire.ReadResponse {
	f.mu.Lock()
	f.reads++
	answer, block := f.answer, f.block
	f.mu.Unlock()
	f.wait(ctx, block)
	if answer != nil {
		return &wire.ReadResponse{Error: answer.Error, Message: answer.Message, Leader: answer.Leader}
	}
	return &wire.ReadResponse{Index: 7, Result: []byte(f.node + ":" + string(req.Query))}
}

func (f *fakeClient) Status(ctx context.Context, req *wire.StatusRequest) *wire.StatusResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &wire.StatusResponse{
		Cluster: testCluster,
		Node:    f.node,
		Role:    f.role,
		Term:    f.term,
		Voters:  f.voters,
	}
}

// startClientServer starts a ClientServer for node on its own connection.
func startClientServer(t *testing.T, s *embedded.Server, node string, h wire.ClientHandler) (*ClientServer, *nats.Conn) {
	t.Helper()
	nc := connect(t, s)
	cs, err := NewClientServer(nc, testConfig(node), h)
	if err != nil {
		t.Fatalf("new client server %s: %v", node, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	flush(t, nc)
	return cs, nc
}

// setLeader calls SetLeader and waits until the server has applied it.
func setLeader(t *testing.T, cs *ClientServer, nc *nats.Conn, leader bool) {
	t.Helper()
	if err := cs.SetLeader(leader); err != nil {
		t.Fatalf("set leader %v: %v", leader, err)
	}
	flush(t, nc)
}

func newTestClient(t *testing.T, s *embedded.Server, timeout time.Duration) *Client {
	t.Helper()
	return newTestClientWith(t, s, ClientConfig{Timeout: timeout})
}

// newTestClientWith returns a client for testCluster with cfg.
func newTestClientWith(t *testing.T, s *embedded.Server, cfg ClientConfig) *Client {
	t.Helper()
	cfg.Cluster, cfg.Logger = testCluster, quietLogger
	c, err := NewClient(connect(t, s), cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// waitSubscriptions waits until nc has want subscriptions. Drained
// subscriptions are removed in the background, after their last message.
func waitSubscriptions(t *testing.T, nc *nats.Conn, want int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for nc.NumSubscriptions() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions, want %d", nc.NumSubscriptions(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
