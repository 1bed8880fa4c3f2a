//go:build mutation_ack_before_durable

package raft

// Mutation names the bug planted in this build for the mutation check. See
// mutation_off.go.
const Mutation = "ack_before_durable"

// Switches of the planted bugs: this build acknowledges appended entries before they are durable.
const (
	mutationVoteNotPersisted = false
	mutationCommitOldTerm    = false
	mutationAckBeforeDurable = true
)
