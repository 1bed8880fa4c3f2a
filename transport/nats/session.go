package natstransport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine/sessionwire"
)

// MaxClientIDLen bounds ClientConfig.ClientID, in bytes. Every recorded
// result in the cluster's session table carries the id.
const MaxClientIDLen = 128

// clientSession numbers a client's proposals and tracks which replies it
// has received, for the acknowledgements it sends.
type clientSession struct {
	id string

	mu sync.Mutex // guards last and pending
	// last is the last sequence number handed out.
	last uint64
	// pending holds the sequence numbers of the proposals still running.
	pending map[uint64]struct{}

	// dropReply, when a test sets it, makes the attempt of seq numbered
	// attempt (from 1) behave as if its reply was lost after the cluster
	// applied the command.
	dropReply func(seq uint64, attempt int) bool
}

func newClientSession(id string) (*clientSession, error) {
	if len(id) > MaxClientIDLen {
		return nil, fmt.Errorf("natstransport: client id of %d bytes is longer than %d bytes: use a shorter id", len(id), MaxClientIDLen)
	}
	if id == "" {
		var b [16]byte
		// crypto/rand.Read never returns an error.
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	return &clientSession{id: id, pending: make(map[uint64]struct{})}, nil
}

// begin returns the next sequence number and marks it pending.
func (s *clientSession) begin() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last++
	s.pending[s.last] = struct{}{}
	return s.last
}

// finish marks seq done, whether it succeeded or not: the client waits for
// its reply no longer, so the cluster may discard its result.
func (s *clientSession) finish(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, seq)
}

// ack returns the highest sequence number such that it and every lower
// number are done. It is below every pending sequence number.
func (s *clientSession) ack() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ack := s.last
	for seq := range s.pending {
		ack = min(ack, seq-1)
	}
	return ack
}

// sessionAttempt is the state of a session Propose across its attempts.
type sessionAttempt struct {
	seq uint64
	// maybeApplied is set once an attempt may have reached the state
	// machine without a reply: from then on, only a reply can rule out
	// that the command was applied.
	maybeApplied bool
	// renew sends ack 0, which starts a new session, after the state
	// machine reported that the session expired.
	renew   bool
	lastErr error
}

// proposeSession wraps cmd in a session command and sends it until a reply
// comes, an error rules out further attempts, or ctx ends. Every attempt
// carries the same sequence number, so a state machine that runs
// statemachine.WithSessions applies the command at most once.
func (c *Client) proposeSession(ctx context.Context, cmd []byte) ([]byte, uint64, error) {
	a := &sessionAttempt{seq: c.session.begin()}
	defer c.session.finish(a.seq)
	wait := backoffMin
	for attempt := 1; ; attempt++ {
		ack := c.session.ack()
		if a.renew {
			ack = 0
		}
		data := (&sessionwire.SessionCommand{ClientID: c.session.id, Sequence: a.seq, Ack: ack, Command: cmd}).Marshal()
		actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
		raw, index, err := c.proposeOnce(actx, data)
		cancel()
		if err == nil && c.session.dropReply != nil && c.session.dropReply(a.seq, attempt) {
			err = raft.OutcomeUnknown(fmt.Errorf("propose: reply of attempt %d dropped by a test hook", attempt))
		}

		if err == nil {
			result, index, retry, err := c.sessionReply(a, raw, index)
			if !retry {
				return result, index, err
			}
			c.log.Warn("session expired; starting a new session", "sequence", a.seq, "error", err)
			continue
		}

		if !errors.Is(err, raft.ErrNotApplied) {
			a.maybeApplied = true
		}
		a.lastErr = err
		if finalSessionError(err) {
			return nil, 0, a.failure(err)
		}
		c.log.Debug("sending session command again", "sequence", a.seq, "attempt", attempt, "error", err)
		if ctx.Err() != nil || !pause(ctx, jitter(wait)) {
			return nil, 0, a.deadline(ctx)
		}
		wait = min(2*wait, backoffMax)
	}
}

// sessionReply decodes the state machine's reply to an attempt. It returns
// the inner result and its log index, or an error, and whether to send the
// command again at once to start a new session.
func (c *Client) sessionReply(a *sessionAttempt, raw []byte, index uint64) ([]byte, uint64, bool, error) {
	var res sessionwire.SessionResult
	if err := res.Unmarshal(raw); err != nil || res.Status == sessionwire.StatusUnspecified {
		// The cluster applied something, but not through sessions.
		return nil, index, false, raft.OutcomeUnknown(fmt.Errorf(
			"propose sequence %d: the reply at log index %d is not a session result: %w", a.seq, index, ErrNoSessions))
	}
	switch res.Status {
	case sessionwire.StatusApplied, sessionwire.StatusDuplicate:
		if res.Status == sessionwire.StatusDuplicate {
			c.log.Debug("result returned from the session record", "sequence", a.seq, "index", res.Index)
		}
		return res.Result, res.Index, false, nil
	case sessionwire.StatusSessionExpired:
		err := fmt.Errorf("propose sequence %d: %w: %s", a.seq, ErrSessionExpired, res.Message)
		if !a.maybeApplied && !a.renew {
			a.renew = true
			return nil, 0, true, err
		}
		return nil, 0, false, a.failure(raft.NotApplied(err))
	case sessionwire.StatusDiscarded:
		return nil, 0, false, raft.OutcomeUnknown(fmt.Errorf("propose sequence %d: %w: %s", a.seq, ErrResultDiscarded, res.Message))
	case sessionwire.StatusInvalid:
		return nil, 0, false, a.failure(raft.NotApplied(fmt.Errorf("propose sequence %d: %w: %s", a.seq, ErrInvalidRequest, res.Message)))
	default:
		return nil, 0, false, raft.OutcomeUnknown(fmt.Errorf("propose sequence %d: unknown session status %v at log index %d: %s",
			a.seq, res.Status, index, res.Message))
	}
}

// finalSessionError reports whether err rules out another attempt: the
// cluster rejected the request, or it could not be sent.
func finalSessionError(err error) bool {
	return errors.Is(err, ErrInvalidRequest) || errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrBadSubject) ||
		errors.Is(err, nats.ErrInvalidConnection) || errors.Is(err, nats.ErrConnectionClosed)
}

// failure returns err, turned into an outcome-unknown error if an earlier
// attempt may have been applied.
func (a *sessionAttempt) failure(err error) error {
	if !a.maybeApplied || errors.Is(err, raft.ErrOutcomeUnknown) {
		return err
	}
	// The message of err is kept, but not its class. err may report that
	// the last attempt was not applied, which tells nothing of the earlier
	// ones.
	return raft.OutcomeUnknown(fmt.Errorf("propose sequence %d: an earlier attempt may have been applied, and the last one failed: %v", a.seq, err))
}

// deadline returns the error of a session Propose whose context ended.
func (a *sessionAttempt) deadline(ctx context.Context) error {
	if a.lastErr == nil {
		return raft.NotApplied(fmt.Errorf("propose sequence %d: context ended before a request was sent: %w", a.seq, ctx.Err()))
	}
	if a.maybeApplied {
		return raft.OutcomeUnknown(fmt.Errorf("propose sequence %d: no reply before the context ended (%w); last attempt: %v",
			a.seq, ctx.Err(), a.lastErr))
	}
	return fmt.Errorf("propose sequence %d: gave up when the context ended (%w): %w", a.seq, ctx.Err(), a.lastErr)
}
