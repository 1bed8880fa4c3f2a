//go:build !mutation_vote_not_persisted && !mutation_commit_old_term && !mutation_ack_before_durable && !mutation_apply_twice

package raft

// Mutation names the bug planted in this build for the mutation check, or
// is empty in a normal build. Building with one of the tags
// mutation_vote_not_persisted, mutation_commit_old_term,
// mutation_ack_before_durable or mutation_apply_twice plants that bug, so
// that the tests of raft/rafttest can show they detect it. Never ship such
// a build.
const Mutation = ""

// Switches of the planted bugs, all off in a normal build.
const (
	mutationVoteNotPersisted = false
	mutationCommitOldTerm    = false
	mutationAckBeforeDurable = false
)
