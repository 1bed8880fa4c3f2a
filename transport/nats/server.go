package natstransport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// LeaderQueue is the NATS queue group of the cluster-level propose, batch and read
// subscriptions. Only the leader subscribes, so a request reaches the leader
// or gets NATS's no-responders status at once.
const LeaderQueue = "leader"

// MaxConcurrentRequests is how many client requests a ClientServer handles at
// once. A request beyond it gets a reply with ErrorCodeOverloaded (status
// requests are dropped), so the client backs off and retries.
const MaxConcurrentRequests = 4096

// ClientServer serves client requests (propose, read, status) for one node
// over NATS request/reply. It subscribes to:
//
//   - "<prefix>.<cluster>.<node>.client.<suffix>": requests addressed to this
//     node, for example after a NotLeader redirect;
//   - "<prefix>.<cluster>.client.status": status requests, to which every
//     node replies;
//   - "<prefix>.<cluster>.client.propose", ".client.propose_batch" and
//     ".client.read" in queue group LeaderQueue, only between
//     SetLeader(true) and SetLeader(false).
type ClientServer struct {
	nc          *nats.Conn
	cfg         Config
	h           wire.ClientHandler
	log         *slog.Logger
	clusterBase string // "<prefix>.<cluster>.client"

	ctx    context.Context // ends on Close; parent of every request's context
	cancel context.CancelFunc
	sem    chan struct{} // one slot per running request
	wg     sync.WaitGroup

	mu         sync.RWMutex // guards closed, subs and leaderSubs
	closed     bool
	subs       []*nats.Subscription
	leaderSubs []*nats.Subscription

	counters serverCounters
	drops    dropLog
}

type serverCounters struct {
	requests, overloaded, malformed, unknownSubject, noReply, respondErrors atomic.Uint64
}

// ClientServerStats are a ClientServer's counters since it was created.
type ClientServerStats struct {
	// Requests counts requests passed to the handler.
	Requests uint64
	// Overloaded counts requests rejected because MaxConcurrentRequests
	// were running.
	Overloaded uint64
	// Malformed counts requests that failed to decode.
	Malformed uint64
	// DroppedUnknownSubject counts requests on a subject the schema does
	// not define.
	DroppedUnknownSubject uint64
	// DroppedNoReply counts requests without a reply subject.
	DroppedNoReply uint64
	// RespondErrors counts replies that could not be published.
	RespondErrors uint64
}

// NewClientServer subscribes to the node's client subjects and the cluster's
// status subject, and serves requests with h. Each request runs on its own
// goroutine with a context that ends on Close. Call SetLeader when the node
// gains or loses leadership. The caller keeps ownership of nc. Config.Peers,
// MaxPayload and the pending limits are not used.
func NewClientServer(nc *nats.Conn, cfg Config, h wire.ClientHandler) (*ClientServer, error) {
	if nc == nil {
		return nil, errors.New("natstransport: nil connection: pass a connected *nats.Conn")
	}
	if h == nil {
		return nil, errors.New("natstransport: nil client handler")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &ClientServer{
		nc:          nc,
		cfg:         cfg,
		h:           clusterCheck{cluster: cfg.Cluster, h: h},
		log:         cfg.Logger.With("node", cfg.Node, "cluster", cfg.Cluster),
		clusterBase: clusterClientBase(cfg.Prefix, cfg.Cluster),
		ctx:         ctx,
		cancel:      cancel,
		sem:         make(chan struct{}, MaxConcurrentRequests),
	}
	s.drops.log = s.log

	nodeSubject := nodeClientBase(cfg.Prefix, cfg.Cluster, cfg.Node) + ".*"
	nodeSub, err := nc.Subscribe(nodeSubject, func(m *nats.Msg) {
		s.serve(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:], m)
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("natstransport: subscribe to %s: %w", nodeSubject, err)
	}
	statusSubject := s.clusterBase + "." + wire.SubjectStatus
	statusSub, err := nc.Subscribe(statusSubject, func(m *nats.Msg) {
		s.serve(wire.SubjectStatus, m)
	})
	if err != nil {
		cancel()
		_ = nodeSub.Unsubscribe()
		return nil, fmt.Errorf("natstransport: subscribe to %s: %w", statusSubject, err)
	}
	s.subs = []*nats.Subscription{nodeSub, statusSub}
	s.log.Info("client server started", "subjects", []string{nodeSubject, statusSubject})
	return s, nil
}

// SetLeader subscribes to the cluster's propose, batch and read subjects in queue
// group LeaderQueue when leader is true, and drains those subscriptions when
// it is false. Draining still handles the requests already received, and
// the handler, no longer leader, replies to them with NotLeader. Repeated calls with the same
// value do nothing. SetLeader(true) after Close returns ErrClosed.
func (s *ClientServer) SetLeader(leader bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		if leader {
			return ErrClosed
		}
		return nil
	}
	if leader == (s.leaderSubs != nil) {
		return nil
	}

	if !leader {
		for _, sub := range s.leaderSubs {
			if err := sub.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				s.log.Error("drain leader subscription failed", "subject", sub.Subject, "error", err)
			}
		}
		s.leaderSubs = nil
		s.log.Info("stopped serving cluster client requests")
		return nil
	}

	subs := make([]*nats.Subscription, 0, 2)
	for _, suffix := range []string{wire.SubjectPropose, wire.SubjectProposeBatch, wire.SubjectRead} {
		subject := s.clusterBase + "." + suffix
		sub, err := s.nc.QueueSubscribe(subject, LeaderQueue, func(m *nats.Msg) { s.serve(suffix, m) })
		if err != nil {
			for _, done := range subs {
				_ = done.Unsubscribe()
			}
			return fmt.Errorf("natstransport: subscribe to %s in queue %s: %w", subject, LeaderQueue, err)
		}
		subs = append(subs, sub)
	}
	s.leaderSubs = subs
	s.log.Info("serving cluster client requests", "queue", LeaderQueue)
	return nil
}

// serve starts handling one request on its own goroutine, or rejects it when
// MaxConcurrentRequests are already running.
func (s *ClientServer) serve(suffix string, m *nats.Msg) {
	if m.Reply == "" {
		s.counters.noReply.Add(1)
		s.drops.report(reasonNoReply, "subject", m.Subject)
		return
	}
	select {
	case s.sem <- struct{}{}:
	default:
		s.counters.overloaded.Add(1)
		s.drops.report(reasonOverloaded, "subject", m.Subject, "running", MaxConcurrentRequests)
		if resp := errorResponse(suffix, wire.ErrorCodeOverloaded, "node overloaded: too many requests in progress, retry later"); resp != nil {
			s.respond(m, resp)
		}
		return
	}

	// The read lock orders wg.Add before Close's wg.Wait.
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		<-s.sem
		return
	}
	s.wg.Add(1)
	s.mu.RUnlock()

	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		s.handle(suffix, m)
	}()
}

// handle decodes one request, runs the handler and sends the reply.
func (s *ClientServer) handle(suffix string, m *nats.Msg) {
	resp, err := wire.DispatchClient(s.ctx, suffix, m.Data, s.h)
	switch {
	case err == nil:
		s.counters.requests.Add(1)
	case errors.Is(err, wire.ErrUnknownSubject):
		s.counters.unknownSubject.Add(1)
		s.drops.report(reasonUnknownSubject, "subject", m.Subject, "error", err)
		return
	case errors.Is(err, wire.ErrMalformed):
		s.counters.malformed.Add(1)
		s.drops.report(reasonMalformed, "subject", m.Subject, "size", len(m.Data), "error", err)
		resp = errorResponse(suffix, wire.ErrorCodeInvalid, "invalid request: "+err.Error())
		if resp == nil {
			return
		}
	default:
		// The handler broke its contract, for example by returning nil.
		s.counters.requests.Add(1)
		s.log.Error("client handler failed", "subject", m.Subject, "error", err)
		resp = errorResponse(suffix, wire.ErrorCodeInternal, "internal error: "+err.Error())
		if resp == nil {
			return
		}
	}
	s.respond(m, resp)
}

func (s *ClientServer) respond(m *nats.Msg, resp []byte) {
	if err := m.Respond(resp); err != nil {
		s.counters.respondErrors.Add(1)
		s.log.Error("reply to client failed", "subject", m.Subject, "error", err)
	}
}

// errorResponse encodes an error reply for a request kind that has an error
// field (propose, propose_batch and read), or returns nil for one that has
// none (status).
func errorResponse(suffix string, code wire.ErrorCode, message string) []byte {
	switch suffix {
	case wire.SubjectPropose:
		return (&wire.ProposeResponse{Error: code, Message: message}).Marshal()
	case wire.SubjectProposeBatch:
		return (&wire.ProposeBatchResponse{Error: code, Message: message}).Marshal()
	case wire.SubjectRead:
		return (&wire.ReadResponse{Error: code, Message: message}).Marshal()
	}
	return nil
}

// Stats returns the server's counters.
func (s *ClientServer) Stats() ClientServerStats {
	return ClientServerStats{
		Requests:              s.counters.requests.Load(),
		Overloaded:            s.counters.overloaded.Load(),
		Malformed:             s.counters.malformed.Load(),
		DroppedUnknownSubject: s.counters.unknownSubject.Load(),
		DroppedNoReply:        s.counters.noReply.Load(),
		RespondErrors:         s.counters.respondErrors.Load(),
	}
}

// Close unsubscribes, cancels the context of running requests and waits for
// their handlers to return. It does not close the connection. It is safe to
// call more than once.
func (s *ClientServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	subs := append(s.subs, s.leaderSubs...)
	s.subs, s.leaderSubs = nil, nil
	s.mu.Unlock()

	var errs []error
	for _, sub := range subs {
		err := sub.Unsubscribe()
		if err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			errs = append(errs, fmt.Errorf("unsubscribe from %s: %w", sub.Subject, err))
		}
	}
	s.cancel()
	s.wg.Wait()
	s.log.Info("client server closed")
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("natstransport: close client server: %w", err)
	}
	return nil
}

// clusterCheck replies to propose and read requests for another cluster
// with ErrorCodeInvalid instead of passing them to the handler. A request with an
// empty cluster id is accepted, as raft.NewClientService accepts it. Status
// requests pass through: the reply carries the cluster id, which the client
// checks.
type clusterCheck struct {
	cluster string
	h       wire.ClientHandler
}

func (c clusterCheck) foreign(cluster string) bool {
	return cluster != "" && cluster != c.cluster
}

func (c clusterCheck) wrongCluster(got string) string {
	return fmt.Sprintf("request for cluster %q reached cluster %q: check the client's cluster id", got, c.cluster)
}

func (c clusterCheck) Propose(ctx context.Context, req *wire.ProposeRequest) *wire.ProposeResponse {
	if c.foreign(req.GetCluster()) {
		return &wire.ProposeResponse{Error: wire.ErrorCodeInvalid, Message: c.wrongCluster(req.GetCluster())}
	}
	return c.h.Propose(ctx, req)
}

func (c clusterCheck) ProposeBatch(ctx context.Context, req *wire.ProposeBatchRequest) *wire.ProposeBatchResponse {
	if c.foreign(req.GetCluster()) {
		return &wire.ProposeBatchResponse{Error: wire.ErrorCodeInvalid, Message: c.wrongCluster(req.GetCluster())}
	}
	return c.h.ProposeBatch(ctx, req)
}

func (c clusterCheck) Read(ctx context.Context, req *wire.ReadRequest) *wire.ReadResponse {
	if c.foreign(req.GetCluster()) {
		return &wire.ReadResponse{Error: wire.ErrorCodeInvalid, Message: c.wrongCluster(req.GetCluster())}
	}
	return c.h.Read(ctx, req)
}

func (c clusterCheck) Status(ctx context.Context, req *wire.StatusRequest) *wire.StatusResponse {
	return c.h.Status(ctx, req)
}

// leadershipRecheck is how often followLeadership compares the subscription
// state with the node's role, in case an event was missed.
const leadershipRecheck = time.Second

// followLeadership keeps the leader subscriptions in step with the node's
// role until Close or until events is closed: it calls SetLeader on every
// role change in events, and with isLeader() at start and every
// leadershipRecheck. stop releases the event subscription when it returns.
func (s *ClientServer) followLeadership(events <-chan raft.Event, stop func(), isLeader func() bool) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		stop()
		return
	}
	s.wg.Add(1)
	s.mu.RUnlock()
	go func() {
		defer s.wg.Done()
		defer stop()
		s.setLeaderLogged(isLeader())
		ticker := time.NewTicker(leadershipRecheck)
		defer ticker.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					s.setLeaderLogged(false)
					return
				}
				if ev.Type == raft.EventRoleChanged {
					s.setLeaderLogged(ev.Role == raft.RoleLeader)
				}
			case <-ticker.C:
				s.setLeaderLogged(isLeader())
			}
		}
	}()
}

func (s *ClientServer) setLeaderLogged(leader bool) {
	if err := s.SetLeader(leader); err != nil && !errors.Is(err, ErrClosed) {
		s.log.Error("update leader subscriptions failed", "leader", leader, "error", err)
	}
}
