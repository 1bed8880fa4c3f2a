//go:build mutation_apply_twice

package raft

// Mutation names the bug planted in this build for the mutation check. See
// mutation_off.go.
const Mutation = "apply_twice"

// Switches of the planted bugs, all off: in this build the core is intact
// and the simulated applier of raft/rafttest applies each entry twice.
const (
	mutationVoteNotPersisted = false
	mutationCommitOldTerm    = false
	mutationAckBeforeDurable = false
)
