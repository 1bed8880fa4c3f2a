package raft

import (
	"errors"
	"io"

	"github.com/natsraft/natsraft/raft/wire"
)

// ErrCompacted is returned by a LogStore for an index below its first index.
var ErrCompacted = errors.New("raft: log entry compacted")

// ErrUnavailable is returned by a LogStore for an index above its last index.
var ErrUnavailable = errors.New("raft: log entry unavailable")

// ErrCorrupt is wrapped by stores that detect damaged data. Such an error
// stops the node: serving damaged data could break safety.
var ErrCorrupt = errors.New("raft: storage corrupt")

// LogStore holds the replicated log. Indexes start at 1 and are contiguous
// between FirstIndex and LastIndex. The node calls the mutating methods one
// call at a time, from its log writer, or for an InlineWriter sometimes from
// its node loop. Reads may run concurrently with them.
type LogStore interface {
	// FirstIndex returns the index of the first stored entry, or 0 if the
	// store has never held an entry and was never compacted.
	FirstIndex() (uint64, error)
	// LastIndex returns the index of the last stored entry. A store emptied
	// by TruncatePrefix(upTo) returns upTo, so the next entry is always
	// LastIndex()+1; a store that never held an entry returns 0.
	LastIndex() (uint64, error)
	// Entries returns the entries in [lo, hi), stopping early (but always
	// returning at least one entry) once their encoded size passes maxBytes;
	// maxBytes 0 means no limit. It returns ErrCompacted when lo is below
	// FirstIndex and ErrUnavailable when hi-1 is above LastIndex. The
	// returned entries are owned by the caller.
	Entries(lo, hi uint64, maxBytes int) ([]wire.Entry, error)
	// Term returns the term of the entry at index. Index 0 is never stored;
	// callers treat it as term 0.
	Term(index uint64) (uint64, error)
	// Append stores entries, which continue the log at LastIndex()+1 (or
	// start it, when the store is empty). When Append returns nil the
	// entries are durable.
	Append(entries []wire.Entry) error
	// TruncateSuffix deletes the entries at index from and above, so that
	// conflicting entries can be replaced. Durable when it returns nil.
	TruncateSuffix(from uint64) error
	// TruncatePrefix deletes the entries at index upTo and below, after a
	// snapshot covers them.
	TruncatePrefix(upTo uint64) error
}

// InlineWriter is implemented by stores whose writes finish in memory,
// without I/O or waiting on other goroutines. When both the LogStore and the
// StableStore report InlineWrites true, the node loop writes itself while
// the log writer is idle, instead of handing the write over, which saves a
// goroutine hand-off per write. A store whose writes can block must not
// report true: the node loop would stop handling messages and ticks until
// the write returned.
type InlineWriter interface {
	InlineWrites() bool
}

// StableStore holds the node's term and vote.
type StableStore interface {
	// HardState returns the saved state, or the zero value if none was saved.
	HardState() (wire.HardState, error)
	// SetHardState saves st; it is durable when SetHardState returns nil.
	SetHardState(st wire.HardState) error
}

// SnapshotMeta describes a snapshot: the last log entry it covers and the
// configuration at that entry.
type SnapshotMeta struct {
	Index         uint64
	Term          uint64
	Configuration wire.Configuration
	// Size is the snapshot's length in bytes.
	Size int64
}

// SnapshotStore keeps state machine snapshots.
type SnapshotStore interface {
	// Create starts a new snapshot; the data is written to the returned sink
	// and becomes visible when the sink is closed with Close.
	Create(meta SnapshotMeta) (SnapshotSink, error)
	// Latest returns the newest complete snapshot's metadata, or ok false if
	// there is none.
	Latest() (meta SnapshotMeta, ok bool, err error)
	// Open returns a reader of the newest complete snapshot.
	Open() (SnapshotMeta, io.ReadCloser, error)
}

// SnapshotSink receives the bytes of a snapshot being created.
type SnapshotSink interface {
	io.Writer
	// Close makes the snapshot durable and visible.
	Close() error
	// Cancel discards the snapshot.
	Cancel() error
}
