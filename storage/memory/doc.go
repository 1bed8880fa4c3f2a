// Package memory provides in-memory implementations of raft.LogStore,
// raft.StableStore and raft.SnapshotStore for tests, demos and benchmarks.
//
// The stores live as long as the process. A write is "durable" as soon as
// the method returns, so a test can simulate a crash and restart by stopping
// a node and starting a new one on the same Store. They do not simulate
// writes lost before a sync.
//
// The package is the performance baseline for the durable stores, so it
// avoids copies on the hot path: the log keeps the Data slices it is given
// and hands them back from Entries. Callers must treat entry Data as
// read-only, both after Append and in the entries that Entries returns.
//
// The package must not import NATS or any other store.
package memory
