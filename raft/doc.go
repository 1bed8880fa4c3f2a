// Package raft implements the Raft consensus algorithm: leader election,
// log replication, commitment and in-order apply, driven over any Transport.
//
// The package has two layers. Core is the protocol: a deterministic state
// machine that takes inputs (messages, ticks, proposals, storage
// completions) and returns its work as a Ready (messages to send, entries
// and hard state to persist, the new commit index). Node is the runtime
// that drives a Core with goroutines: the node loop owns the core, a log
// writer persists entries in batches (one store call for everything queued
// while the previous write ran), one replication stream per follower
// pipelines AppendEntries, and the applier feeds committed entries to the
// StateMachine in index order and resolves waiting proposals.
//
// Ordering rules the runtime keeps: the term and vote are durable before a
// vote is granted; a follower's entries are durable before it acknowledges
// them; a leader sends entries while its own write runs but counts itself
// toward a quorum only once the write is durable; an entry commits by
// counting replicas only if it is of the leader's current term; entries
// reach the state machine once each, in index order, up to the commit
// index.
//
// This package imports no NATS, bbolt or concrete store: those plug in
// through the LogStore, StableStore, SnapshotStore, Transport and
// StateMachine interfaces.
package raft
