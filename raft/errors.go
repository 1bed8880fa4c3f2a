package raft

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on. Proposal errors fall in two classes, tested with
// errors.Is: ErrNotApplied (the command certainly was not applied and may be
// retried) and ErrOutcomeUnknown (it may or may not be applied).
var (
	// ErrNotApplied matches every error after which a proposal was
	// certainly not applied, so a retry cannot apply it twice.
	ErrNotApplied = errors.New("raft: command not applied")
	// ErrOutcomeUnknown matches errors after which a proposal may still be
	// applied: it was appended to the log, then leadership was lost, the
	// node stopped or the caller's context ended before it committed.
	ErrOutcomeUnknown = errors.New("raft: outcome of command unknown")

	// ErrNotLeader is returned by a node that is not the leader. The error
	// is a *NotLeaderError carrying the leader's id when one is known.
	ErrNotLeader = errors.New("raft: not the leader")
	// ErrNoLeader is returned when no leader could be found before the
	// caller's deadline.
	ErrNoLeader = errors.New("raft: no leader")
	// ErrOverloaded is returned when a node's proposal queue is full.
	ErrOverloaded = errors.New("raft: node overloaded")
	// ErrProposalDropped is returned when a proposal's entry was replaced by
	// a new leader's entry before it committed.
	ErrProposalDropped = errors.New("raft: proposal dropped")
	// ErrLeadershipLost is returned when the node stopped being leader after
	// it appended a proposal; it matches ErrOutcomeUnknown.
	ErrLeadershipLost = errors.New("raft: leadership lost")
	// ErrShutdown is returned by a node that is stopping or stopped.
	ErrShutdown = errors.New("raft: node is shut down")
	// ErrPeersMismatch is returned by NewNode when Config.Peers differs from
	// the voters recorded in the node's log. Membership changes are not
	// supported, so the peers must stay those of the first start.
	ErrPeersMismatch = errors.New("raft: peers differ from the configuration in the log")
)

// NotLeaderError is returned by a follower or candidate. It matches
// ErrNotLeader and ErrNotApplied.
type NotLeaderError struct {
	// Leader is the id of the current leader, or empty if none is known.
	Leader string
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return "raft: not the leader, and no leader is known"
	}
	return fmt.Sprintf("raft: not the leader; the leader is %s", e.Leader)
}

// Is makes errors.Is(err, ErrNotLeader) and errors.Is(err, ErrNotApplied) true.
func (e *NotLeaderError) Is(target error) bool {
	return target == ErrNotLeader || target == ErrNotApplied
}

// notApplied wraps a cause that leaves a proposal certainly unapplied.
type notApplied struct{ cause error }

func (e notApplied) Error() string { return e.cause.Error() }
func (e notApplied) Unwrap() []error {
	return []error{e.cause, ErrNotApplied}
}

// outcomeUnknown wraps a cause after which a proposal may still be applied.
type outcomeUnknown struct{ cause error }

// outcomeUnknownNote ends the message of every outcome-unknown error.
const outcomeUnknownNote = " (the command may still be applied)"

func (e outcomeUnknown) Error() string {
	msg := e.cause.Error()
	// A message relayed from another node may carry the note already.
	if strings.HasSuffix(msg, outcomeUnknownNote) {
		return msg
	}
	return msg + outcomeUnknownNote
}
func (e outcomeUnknown) Unwrap() []error {
	return []error{e.cause, ErrOutcomeUnknown}
}

// NotApplied returns cause marked so that it matches ErrNotApplied.
func NotApplied(cause error) error { return notApplied{cause} }

// OutcomeUnknown returns cause marked so that it matches ErrOutcomeUnknown.
func OutcomeUnknown(cause error) error { return outcomeUnknown{cause} }
