package natstransport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// Errors for failures reported by a node, wrapped with the node's message.
var (
	// ErrInvalidRequest is returned when a node rejects a request as
	// malformed or addressed to another cluster. The command was not
	// applied.
	ErrInvalidRequest = errors.New("natstransport: invalid request")
	// ErrInternal is returned when a node fails a request for a reason of
	// its own.
	ErrInternal = errors.New("natstransport: internal error on node")
	// ErrSessionExpired is wrapped by a session Propose whose session the
	// cluster no longer has (see ClientConfig.Sessions).
	ErrSessionExpired = errors.New("natstransport: client session expired")
	// ErrResultDiscarded is wrapped by a session Propose whose result the
	// cluster discarded before the reply arrived.
	ErrResultDiscarded = errors.New("natstransport: session result discarded")
	// ErrNoSessions is wrapped by a session Propose whose reply is not a
	// session result: the cluster's state machine does not run
	// statemachine.WithSessions.
	ErrNoSessions = errors.New("natstransport: the cluster's state machine does not run client sessions")
)

// Client defaults.
const (
	// DefaultClientTimeout bounds a request whose context has no deadline.
	DefaultClientTimeout = 5 * time.Second
	// DefaultStatusQuiet is how long Status waits for more replies after
	// the last one, unless every voter has replied.
	DefaultStatusQuiet = 100 * time.Millisecond
	// DefaultAttemptTimeout bounds one attempt of a session Propose before
	// it sends the same command again.
	DefaultAttemptTimeout = 2 * time.Second
)

// Retry backoff bounds. Each wait is drawn between half and all of the
// current bound, which doubles after each wait.
const (
	backoffMin = 10 * time.Millisecond
	backoffMax = 200 * time.Millisecond
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// Prefix is the cluster's subject prefix. Empty means DefaultPrefix.
	Prefix string
	// Cluster is the cluster id. Required.
	Cluster string
	// Timeout bounds each call whose context has no deadline. Zero means
	// DefaultClientTimeout.
	Timeout time.Duration
	// StatusQuiet is how long Status waits for more replies after the last
	// one, unless every voter has replied. Zero means DefaultStatusQuiet.
	StatusQuiet time.Duration
	// Logger receives retries at debug level. Nil means slog.Default().
	Logger *slog.Logger

	// Sessions wraps every Propose in a client session, for a cluster whose
	// state machine runs statemachine.WithSessions. Propose then numbers
	// its commands and sends a command again, with the same number, after
	// a lost reply, an unknown outcome or a leader change, until the
	// caller's deadline, and the state machine applies it once. Setting
	// ClientID enables sessions too.
	Sessions bool
	// ClientID names the session. Empty with Sessions set means a random
	// id. The id must belong to this Client alone for as long as the
	// cluster keeps the session (statemachine.SessionOptions.TTL after its
	// last command): another Client, or a restarted process, with the same
	// id would receive results recorded for this one. At most
	// MaxClientIDLen bytes.
	ClientID string
	// DisableBatching sends every Propose as a request of its own. By
	// default, concurrent Propose calls without sessions share requests:
	// while MaxBatchesInFlight requests wait for their replies, new calls
	// queue and leave together in one ProposeBatch request, which the
	// leader appends as one batch. A lone call is sent at once. A batch
	// carries at most 1024 commands and fits in the server's max payload.
	// A request that has no reply after 100 ms, for example one sent to a
	// leader that crashed, stops counting against MaxBatchesInFlight, so
	// queued calls do not wait for its deadline. Session proposals are
	// never batched.
	DisableBatching bool
	// MaxBatchesInFlight bounds the batch requests in flight at once. Zero
	// means DefaultMaxBatchesInFlight. It is not used with sessions or with
	// DisableBatching.
	MaxBatchesInFlight int
	// AttemptTimeout bounds one attempt of a session Propose: when no
	// reply comes within it, the command is sent again. Zero means
	// DefaultAttemptTimeout. Without sessions it is not used.
	AttemptTimeout time.Duration
}

// Client sends requests to a cluster over NATS request/reply. It addresses the
// cluster, not a node: requests go to the leader's queue subscription,
// follow NotLeader redirects and are retried with backoff until the deadline
// while they certainly were not applied (see Propose for the rest).
// A Client is safe for concurrent use. It holds no subscription between
// calls, so it needs no Close; the caller keeps ownership of nc.
type Client struct {
	nc          *nats.Conn
	cfg         ClientConfig
	log         *slog.Logger
	clusterBase string // "<prefix>.<cluster>.client"
	// session numbers the proposals, or is nil without sessions.
	session *clientSession
	// batcher gathers concurrent proposals, or is nil when batching is
	// disabled or sessions are on.
	batcher *batcher
}

// NewClient returns a client for the cluster cfg.Cluster on the caller's
// connection.
func NewClient(nc *nats.Conn, cfg ClientConfig) (*Client, error) {
	if nc == nil {
		return nil, errors.New("natstransport: nil connection: pass a connected *nats.Conn")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if err := validatePrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	if err := validateToken("cluster", cfg.Cluster); err != nil {
		return nil, err
	}
	if cfg.MaxBatchesInFlight < 0 {
		return nil, fmt.Errorf("natstransport: invalid MaxBatchesInFlight %d: use 0 for the default of %d or a positive number",
			cfg.MaxBatchesInFlight, DefaultMaxBatchesInFlight)
	}
	if cfg.MaxBatchesInFlight == 0 {
		cfg.MaxBatchesInFlight = DefaultMaxBatchesInFlight
	}
	if cfg.Timeout < 0 || cfg.StatusQuiet < 0 || cfg.AttemptTimeout < 0 {
		return nil, fmt.Errorf("natstransport: invalid client timeouts %s, %s, %s: use 0 for the default or a positive duration",
			cfg.Timeout, cfg.StatusQuiet, cfg.AttemptTimeout)
	}
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultClientTimeout
	}
	if cfg.StatusQuiet == 0 {
		cfg.StatusQuiet = DefaultStatusQuiet
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Client{
		nc:          nc,
		cfg:         cfg,
		log:         cfg.Logger.With("cluster", cfg.Cluster),
		clusterBase: clusterClientBase(cfg.Prefix, cfg.Cluster),
	}
	if cfg.Sessions || cfg.ClientID != "" {
		session, err := newClientSession(cfg.ClientID)
		if err != nil {
			return nil, err
		}
		c.session = session
		c.cfg.ClientID = session.id
		c.log = c.log.With("client", session.id)
	} else if !cfg.DisableBatching {
		c.batcher = &batcher{c: c, maxInFlight: cfg.MaxBatchesInFlight, slotHold: batchSlotHold}
	}
	return c, nil
}

// ClientID returns the id of the client's session, or "" without
// sessions.
func (c *Client) ClientID() string { return c.cfg.ClientID }

// withDeadline returns ctx bounded by the client's timeout if it has no
// deadline of its own.
func (c *Client) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.cfg.Timeout)
}

// stub returns the generated client for the leader's queue subscription
// (node "") or for one node's subjects.
func (c *Client) stub(node string) (wire.ClientStub, string) {
	base := c.clusterBase
	if node != "" {
		base = nodeClientBase(c.cfg.Prefix, c.cfg.Cluster, node)
	}
	return wire.ClientStub{Caller: requester{nc: c.nc, base: base}}, base
}

// requester implements wire.Caller with NATS request/reply on the subjects
// under base.
type requester struct {
	nc   *nats.Conn
	base string
}

func (r requester) Call(ctx context.Context, subject string, request []byte) ([]byte, error) {
	m, err := r.nc.RequestWithContext(ctx, r.base+"."+subject, request)
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}

// reply is the part of a propose or read response that retry inspects.
type reply interface {
	GetError() wire.ErrorCode
	GetMessage() string
	GetLeader() string
}

// Propose submits cmd to the cluster and returns the state machine's result
// and the log index the command was applied at.
//
// Errors match raft.ErrNotApplied when the command certainly was not
// applied (safe to retry), and raft.ErrOutcomeUnknown when it may have been
// (for example when a request reached a node but no reply came before the
// deadline). Without sessions, a Propose whose outcome is unknown is never
// retried here, because a retry could apply the command twice. With
// sessions (ClientConfig.Sessions), Propose sends the command again with
// the same sequence number until ctx ends. The error then matches
// raft.ErrOutcomeUnknown only if an attempt may have been applied and no
// reply rules that out, for example when no reply came before ctx ended.
//
// Without sessions, concurrent calls share requests unless
// ClientConfig.DisableBatching is set; each call still gets its own result
// or error.
func (c *Client) Propose(ctx context.Context, cmd []byte) (result []byte, index uint64, err error) {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	if c.session != nil {
		return c.proposeSession(ctx, cmd)
	}
	if c.batcher != nil {
		return c.batcher.propose(ctx, cmd)
	}
	return c.proposeOnce(ctx, cmd)
}

// proposeOnce sends cmd as it is, following redirects and retrying while
// the command certainly was not applied, until ctx ends.
func (c *Client) proposeOnce(ctx context.Context, cmd []byte) (result []byte, index uint64, err error) {
	req := &wire.ProposeRequest{Cluster: c.cfg.Cluster, Command: cmd}
	var resp *wire.ProposeResponse
	err = c.retry(ctx, wire.SubjectPropose, func(node string) (reply, string, error) {
		stub, base := c.stub(node)
		r, err := stub.Propose(ctx, req)
		resp = r
		if errors.Is(err, nats.ErrMaxPayload) {
			err = fmt.Errorf("the request with a command of %d bytes exceeds the server's max payload of %d bytes: split the command or raise max_payload: %w",
				len(cmd), c.nc.MaxPayload(), err)
		}
		return r, base, err
	})
	if err != nil {
		return nil, 0, err
	}
	return resp.GetResult(), resp.GetIndex(), nil
}

// Read runs query on the leader's state machine after the leader confirms
// its leadership, and returns the state machine's result. Reads change nothing, so every
// failure that leaves the cluster usable is retried until the deadline.
func (c *Client) Read(ctx context.Context, query []byte) ([]byte, error) {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	req := &wire.ReadRequest{Cluster: c.cfg.Cluster, Query: query}
	var resp *wire.ReadResponse
	err := c.retry(ctx, wire.SubjectRead, func(node string) (reply, string, error) {
		stub, base := c.stub(node)
		r, err := stub.Read(ctx, req)
		resp = r
		return r, base, err
	})
	if err != nil {
		return nil, err
	}
	return resp.GetResult(), nil
}

// retry calls attempt until it succeeds, fails for good or ctx ends. node is
// "" to address the leader's queue subscription, or a node id after a
// NotLeader redirect. attempt returns the reply, the subject root it used and
// the request error.
func (c *Client) retry(ctx context.Context, op string, attempt func(node string) (reply, string, error)) error {
	var (
		node      string
		redirects int
		wait      = backoffMin
		lastErr   error
	)
	for {
		if ctx.Err() != nil {
			return c.deadlineError(ctx, op, lastErr)
		}
		r, base, err := attempt(node)
		subject := base + "." + op
		delay := jitter(wait)
		if err != nil {
			if op != wire.SubjectPropose && ctx.Err() != nil && lastErr != nil {
				// A read cut off by the deadline changed nothing, so
				// report why the earlier attempts failed.
				return c.deadlineError(ctx, op, lastErr)
			}
			final, retryable := c.requestError(ctx, op, subject, err)
			if !retryable {
				return final
			}
			lastErr = final
			node, redirects = "", 0
		} else {
			final, next, retryable := classifyReply(op, subject, r)
			if !retryable {
				return final
			}
			lastErr = final
			node = next
			if next != "" && redirects < 2 {
				// Follow a leader hint at once, but only twice in a
				// row, so two nodes that name each other during an
				// election do not bounce the request without pause.
				delay = 0
				redirects++
			} else {
				redirects = 0
			}
		}
		c.log.Debug("retrying request", "op", op, "subject", subject, "node", node, "wait", delay, "error", lastErr)
		if !pause(ctx, delay) {
			return c.deadlineError(ctx, op, lastErr)
		}
		if delay > 0 {
			wait = min(2*wait, backoffMax)
		}
	}
}

// requestError classifies an error of the NATS request itself. It returns
// the error to report and whether another attempt may follow.
func (c *Client) requestError(ctx context.Context, op, subject string, err error) (error, bool) {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		// No node subscribes to the subject: there is no leader right
		// now, or the redirect target is gone. The request reached no node.
		return raft.NotApplied(fmt.Errorf("%s on %s: no node subscribed to receive it: %w", op, subject, raft.ErrNoLeader)), true
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrBadSubject),
		errors.Is(err, nats.ErrInvalidConnection), errors.Is(err, nats.ErrInvalidContext):
		// Rejected by the client library before anything was sent.
		return raft.NotApplied(fmt.Errorf("%s on %s: %w", op, subject, err)), false
	case op != wire.SubjectPropose:
		if ctx.Err() != nil {
			return fmt.Errorf("%s on %s: no reply before the deadline: %w", op, subject, err), false
		}
		return fmt.Errorf("%s on %s: %w", op, subject, err), false
	case ctx.Err() != nil:
		// The request reached a node (NATS would have reported no
		// responders otherwise) but no reply came in time.
		return raft.OutcomeUnknown(fmt.Errorf("propose on %s: no reply before the deadline: %w", subject, err)), false
	default:
		// For example the connection closed or failed while the request
		// was in flight, or the reply could not be decoded.
		return raft.OutcomeUnknown(fmt.Errorf("propose on %s: %w", subject, err)), false
	}
}

// classifyReply maps a node's reply to an error. It returns the error (nil
// on success), the node to address next (a leader hint, or "" for the
// cluster subject) and whether another attempt may follow.
func classifyReply(op, subject string, r reply) (err error, next string, retryable bool) {
	message := r.GetMessage()
	isRead := op == wire.SubjectRead
	switch code := r.GetError(); code {
	case wire.ErrorCodeOK:
		return nil, "", false
	case wire.ErrorCodeNotLeader:
		return &raft.NotLeaderError{Leader: r.GetLeader()}, r.GetLeader(), true
	case wire.ErrorCodeNoLeader:
		return raft.NotApplied(fmt.Errorf("%s on %s: %w: %s", op, subject, raft.ErrNoLeader, message)), "", true
	case wire.ErrorCodeOverloaded:
		return raft.NotApplied(fmt.Errorf("%s on %s: %w: %s", op, subject, raft.ErrOverloaded, message)), "", true
	case wire.ErrorCodeShuttingDown:
		return raft.NotApplied(fmt.Errorf("%s on %s: %w: %s", op, subject, raft.ErrShutdown, message)), "", true
	case wire.ErrorCodeDropped:
		err := raft.NotApplied(fmt.Errorf("%s on %s: %w: %s", op, subject, raft.ErrProposalDropped, message))
		return err, "", isRead
	case wire.ErrorCodeOutcomeUnknown:
		err := raft.OutcomeUnknown(fmt.Errorf("%s on %s: %s", op, subject, message))
		return err, "", isRead
	case wire.ErrorCodeInvalid:
		return raft.NotApplied(fmt.Errorf("%s on %s: %w: %s", op, subject, ErrInvalidRequest, message)), "", false
	case wire.ErrorCodeInternal:
		return fmt.Errorf("%s on %s: %w: %s", op, subject, ErrInternal, message), "", false
	default:
		return fmt.Errorf("%s on %s: unknown error code %v: %s", op, subject, code, message), "", false
	}
}

// deadlineError returns the error for a call whose context ended between
// attempts. No request was then waiting for a reply, so a proposal's outcome
// is known unless lastErr reports otherwise.
func (c *Client) deadlineError(ctx context.Context, op string, lastErr error) error {
	var notLeader *raft.NotLeaderError
	switch {
	case lastErr == nil:
		return raft.NotApplied(fmt.Errorf("%s: context ended before a request was sent: %w", op, ctx.Err()))
	case errors.Is(lastErr, raft.ErrNoLeader):
		return raft.NotApplied(fmt.Errorf("%s: %w: no leader replied on %s before the context ended (%w)",
			op, raft.ErrNoLeader, c.clusterBase+"."+op, ctx.Err()))
	case errors.As(lastErr, &notLeader) && notLeader.Leader == "":
		// The nodes that replied had no leader to name either.
		return raft.NotApplied(fmt.Errorf("%s: %w: no leader replied on %s before the context ended (%w): %w",
			op, raft.ErrNoLeader, c.clusterBase+"."+op, ctx.Err(), lastErr))
	default:
		return fmt.Errorf("%s: gave up when the context ended (%w): %w", op, ctx.Err(), lastErr)
	}
}

// jitter returns a duration between d/2 and d.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// minAttemptTime is the least time before the deadline at which pause lets
// another attempt start. A request still in flight at the deadline leaves a
// proposal's outcome unknown even if no node received it, so the client stops
// retrying a little early instead. It is an estimate of a request's round
// trip on a loaded bus, not a guarantee.
const minAttemptTime = 20 * time.Millisecond

// pause waits d before the next attempt and reports whether the attempt may
// start. When less than d plus minAttemptTime remains before ctx's deadline,
// it waits for ctx to end and returns false.
func pause(ctx context.Context, d time.Duration) bool {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d+minAttemptTime {
		<-ctx.Done()
		return false
	}
	if d == 0 {
		return ctx.Err() == nil
	}
	return sleep(ctx, d)
}

// sleep waits for d or until ctx ends, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
