// Package storagetest is a conformance suite for implementations of
// raft.LogStore, raft.StableStore and raft.SnapshotStore.
//
// A store's own tests call RunLogStore, RunStableStore and RunSnapshotStore
// with a function that opens a new, empty store. Each runs a set of subtests
// that check the behaviour the Raft runtime relies on: index bookkeeping,
// the error sentinels raft.ErrCompacted and raft.ErrUnavailable, size-limited
// reads, truncation, rejected gaps and overlaps, and snapshot publication.
//
// The suite uses only the interfaces, so it must not depend on any concrete
// store. Durability across a restart needs a way to reopen a store, which
// each store's tests provide: RunLogStore on Reopening(open) checks every
// result after a reopen.
package storagetest
