package raft

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/natsraft/natsraft/raft/wire"
)

// Result is the outcome of a committed and applied proposal.
type Result struct {
	// Index is the log index the command was committed at.
	Index uint64
	// Value is the state machine's result for the command.
	Value []byte
}

type proposalResult struct {
	index uint64
	value []byte
	err   error
}

// Proposal states, moved by compare-and-swap so that a proposal is either
// appended by the node loop or abandoned by its caller, never both.
const (
	proposalQueued int32 = iota
	proposalAppended
	proposalAbandoned
)

type proposal struct {
	data  []byte
	state atomic.Int32
	done  chan proposalResult // capacity 1
	// index and term are set by the applier's register, before the
	// proposal can be resolved.
	index, term uint64
}

func (p *proposal) finish(r proposalResult) {
	select {
	case p.done <- r:
	default:
	}
}

// Propose replicates cmd through the log and returns the state machine's
// result once the command is committed and applied on this node. It fails
// with a *NotLeaderError on a node that is not the leader.
//
// Errors match ErrNotApplied when the command certainly was not applied
// (retrying is safe), and ErrOutcomeUnknown when it may have been: it was
// appended, and then leadership was lost, the node stopped or ctx ended.
func (n *Node) Propose(ctx context.Context, cmd []byte) (Result, error) {
	start := n.metrics.proposalStarted()
	res, err := n.propose(ctx, cmd)
	n.metrics.proposalDone(start, err)
	return res, err
}

func (n *Node) propose(ctx context.Context, cmd []byte) (Result, error) {
	p := newProposal(cmd)
	if err := n.enqueue(ctx, p); err != nil {
		return Result{}, err
	}
	return n.await(ctx, p)
}

func newProposal(cmd []byte) *proposal {
	return &proposal{data: cmd, done: make(chan proposalResult, 1)}
}

// await waits for the outcome of the queued proposal p, or for ctx to end.
func (n *Node) await(ctx context.Context, p *proposal) (Result, error) {
	select {
	case r := <-p.done:
		if r.err != nil {
			return Result{}, r.err
		}
		return Result{Index: r.index, Value: r.value}, nil
	case <-ctx.Done():
		if p.state.CompareAndSwap(proposalQueued, proposalAbandoned) {
			// The node loop never took the proposal: it was held back by
			// the bound on unapplied entries.
			return Result{}, NotApplied(fmt.Errorf("%w: proposal not appended before %w", ErrOverloaded, ctx.Err()))
		}
		return Result{}, OutcomeUnknown(ctx.Err())
	}
}

// enqueue queues p for the node loop, waiting within ctx while the queue
// is full.
func (n *Node) enqueue(ctx context.Context, p *proposal) error {
	for {
		wait, ok := n.proposals.push(p)
		if ok {
			return nil
		}
		if wait == nil {
			return NotApplied(ErrShutdown)
		}
		select {
		case <-wait:
		case <-n.stopped:
			return NotApplied(ErrShutdown)
		case <-ctx.Done():
			return NotApplied(fmt.Errorf("%w: proposal queue full: %w", ErrOverloaded, ctx.Err()))
		}
	}
}

// handleProposals appends the queued proposals as one batch, one log write
// and one AppendEntries per follower, up to MaxEntriesPerMessage proposals
// and within the bound on unapplied entries and bytes.
func (n *Node) handleProposals() {
	last := n.core.LastIndex()
	batch := n.proposals.take(n.cfg.MaxEntriesPerMessage, func(count, bytes int) bool {
		return !n.backlog.fullWith(last+uint64(count-1), bytes)
	})
	if len(batch) == 0 {
		return
	}
	if n.core.Role() != RoleLeader {
		err := &NotLeaderError{Leader: n.core.Leader()}
		for _, p := range batch {
			p.finish(proposalResult{err: err})
		}
		return
	}
	live := batch[:0]
	for _, p := range batch {
		if p.state.CompareAndSwap(proposalQueued, proposalAppended) {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return
	}
	entries := make([]wire.Entry, len(live))
	now := time.Now().UnixNano()
	for i, p := range live {
		entries[i] = wire.Entry{Type: wire.EntryTypeCommand, Data: p.data, Time: now}
	}
	term, firstIndex, err := n.core.Propose(entries)
	if err != nil {
		// Unreachable while the role check above holds; kept so a change
		// there cannot leave callers waiting forever.
		for _, p := range live {
			p.finish(proposalResult{err: &NotLeaderError{Leader: n.core.Leader()}})
		}
		return
	}
	n.batches.appended(term, firstIndex+uint64(len(live))-1)
	n.applier.register(term, firstIndex, live)
	n.backlog.add(firstIndex+uint64(len(live))-1, entries)
}
