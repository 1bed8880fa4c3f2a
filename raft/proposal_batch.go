package raft

import (
	"context"
	"time"
)

// BatchResult is the outcome of one command of a ProposeBatch call: its
// Result, or the error Propose would have returned for it.
type BatchResult struct {
	Result
	Err error
}

// ProposeBatch proposes cmds in order, as Propose would one by one, and
// returns one BatchResult per command once every command is resolved or
// ctx has ended. The commands are queued together, so the node loop
// usually appends them as one batch. A command that could not be queued
// and the commands after it fail with the same error, which matches
// ErrNotApplied. Errors match ErrNotApplied and ErrOutcomeUnknown as for
// Propose.
func (n *Node) ProposeBatch(ctx context.Context, cmds [][]byte) []BatchResult {
	results := make([]BatchResult, len(cmds))
	starts := make([]time.Time, len(cmds))
	queued := make([]*proposal, 0, len(cmds))
	for i, cmd := range cmds {
		starts[i] = n.metrics.proposalStarted()
		p := newProposal(cmd)
		if err := n.enqueue(ctx, p); err != nil {
			for j := i; j < len(cmds); j++ {
				results[j].Err = err
			}
			break
		}
		queued = append(queued, p)
	}
	for i, p := range queued {
		results[i].Result, results[i].Err = n.await(ctx, p)
	}
	for i := range results {
		n.metrics.proposalDone(starts[i], results[i].Err)
	}
	return results
}
