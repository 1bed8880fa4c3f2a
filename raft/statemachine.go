package raft

import "io"

// Command is a committed log entry handed to the state machine.
type Command struct {
	Index uint64
	Term  uint64
	Data  []byte
	// Time is the leader's clock when it appended the command, in Unix
	// nanoseconds: the same on every node, so usable for deterministic
	// expiry. Successive leaders' clocks may disagree, so it can go back
	// across a leader change.
	Time int64
	// ResultUnused is set when no Propose call on this node waits for the
	// command's result, as on a follower. Apply may then return a nil
	// result for the command and skip encoding it; the state it changes
	// must be the same either way.
	ResultUnused bool
}

// InlineApplier is implemented by state machines whose Apply and Read
// finish in microseconds, without I/O or waiting. When ApplyInline returns
// true, the node loop applies a few newly committed entries itself while
// the applier goroutine is idle, which saves a goroutine hand-off before
// proposals are resolved. A state machine that can block must not return
// true: the node loop would stop handling messages and ticks meanwhile.
type InlineApplier interface {
	ApplyInline() bool
}

// StateMachine is the application's replicated state. The node calls Apply,
// Read, Snapshot and Restore never concurrently with each other: from the
// applier goroutine, or for an InlineApplier sometimes from the node loop.
type StateMachine interface {
	// Apply applies committed commands, in index order, each exactly once,
	// and returns one result per command. Commands must be deterministic: every
	// node applies the same commands and must reach the same state. An error
	// means the state machine cannot go on; the node stops.
	Apply(cmds []Command) ([][]byte, error)
	// Read runs a query against the current state without changing it.
	Read(query []byte) ([]byte, error)
	// Snapshot writes the whole state to w.
	Snapshot(w io.Writer) error
	// Restore replaces the whole state with a snapshot read from r.
	Restore(r io.Reader) error
}
