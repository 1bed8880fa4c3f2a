package raft

import "github.com/natsraft/natsraft/raft/wire"

// BroadcastTo is the recipient of an envelope meant for every follower.
const BroadcastTo = ""

// Envelope is a message the core wants sent to one peer.
type Envelope struct {
	// To is the recipient's id, or BroadcastTo for every follower.
	To  string
	Msg wire.Message
	// For an AppendEntriesRequest whose Entries the runtime fills in:
	// the entries [Lo, Hi) of the local log, where the entry at Hi-1 must
	// have term HiTerm. The runtime drops the message if the log changed
	// so that it no longer holds that entry. Lo == Hi means no entries.
	Lo, Hi uint64
	HiTerm uint64
}

// ReadState is a linearizable read whose index is confirmed: it may be
// served once the state machine has applied Index.
type ReadState struct {
	ID    uint64
	Index uint64
}

// Ready is the work the core requests of the runtime after a batch of inputs.
// The runtime must honour its order rules: Messages may leave at once;
// TruncateFrom, Entries and HardState must be durable before
// PersistedMessages leave; entries reach the state machine only up to
// CommitIndex.
type Ready struct {
	// HardState, if not nil, is the new term and vote to save.
	HardState *wire.HardState
	// TruncateFrom, if not zero, is the first index to delete before Entries
	// are appended (a follower replacing conflicting entries).
	TruncateFrom uint64
	// Entries continue the log; they must be appended to the store.
	Entries []wire.Entry
	// Messages may be sent at once.
	Messages []Envelope
	// PersistedMessages may be sent only after everything above, and every
	// earlier Ready's writes, are durable.
	PersistedMessages []Envelope
	// CommitIndex is the new commit index, or 0 if it did not change.
	CommitIndex uint64
	// ReadStates are reads whose leadership check passed.
	ReadStates []ReadState
	// ReadsFailed are reads that failed because the node lost leadership.
	ReadsFailed []uint64
	// LostLeadership is set when the node stepped down from leader, so
	// that waiting proposals learn their outcome is unknown.
	LostLeadership bool
	// Events report role, leader and term changes.
	Events []Event
}

// empty reports whether the Ready holds no work.
func (r *Ready) empty() bool {
	return r.HardState == nil && r.TruncateFrom == 0 && len(r.Entries) == 0 &&
		len(r.Messages) == 0 && len(r.PersistedMessages) == 0 && r.CommitIndex == 0 &&
		len(r.ReadStates) == 0 && len(r.ReadsFailed) == 0 && !r.LostLeadership &&
		len(r.Events) == 0
}

// needsWrite reports whether the Ready has work for the log writer.
func (r *Ready) needsWrite() bool {
	return r.HardState != nil || r.TruncateFrom != 0 || len(r.Entries) != 0 ||
		len(r.PersistedMessages) != 0
}
