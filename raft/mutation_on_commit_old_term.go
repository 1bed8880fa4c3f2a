//go:build mutation_commit_old_term

package raft

// Mutation names the bug planted in this build for the mutation check. See
// mutation_off.go.
const Mutation = "commit_old_term"

// Switches of the planted bugs: this build commits entries of earlier terms by counting replicas.
const (
	mutationVoteNotPersisted = false
	mutationCommitOldTerm    = true
	mutationAckBeforeDurable = false
)
