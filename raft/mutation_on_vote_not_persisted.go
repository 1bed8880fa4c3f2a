//go:build mutation_vote_not_persisted

package raft

// Mutation names the bug planted in this build for the mutation check. See
// mutation_off.go.
const Mutation = "vote_not_persisted"

// Switches of the planted bugs: this build grants votes without persisting them.
const (
	mutationVoteNotPersisted = true
	mutationCommitOldTerm    = false
	mutationAckBeforeDurable = false
)
