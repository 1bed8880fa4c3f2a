package memory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/natsraft/natsraft/raft"
)

// ErrNoSnapshot is returned by SnapshotStore.Open when no snapshot has been
// completed yet.
var ErrNoSnapshot = errors.New("memory: no snapshot")

// ErrSinkClosed is wrapped by a snapshot sink's Write and Close after the
// sink was closed or cancelled.
var ErrSinkClosed = errors.New("memory: snapshot sink already closed or cancelled")

// SnapshotStore is an in-memory raft.SnapshotStore that keeps only the
// newest complete snapshot. It is safe for concurrent use. When several
// sinks are open at once, the one closed last becomes the latest snapshot.
type SnapshotStore struct {
	mu sync.RWMutex
	// meta and data describe the latest snapshot when ok is true. data is
	// never modified after it is published, so readers share it.
	meta raft.SnapshotMeta
	data []byte
	ok   bool
}

var _ raft.SnapshotStore = (*SnapshotStore)(nil)

// NewSnapshotStore returns a store with no snapshot.
func NewSnapshotStore() *SnapshotStore {
	return &SnapshotStore{}
}

// Create returns a sink that buffers the snapshot described by meta. Closing
// the sink publishes the snapshot, with Size set to the number of bytes
// written; cancelling it leaves the store unchanged.
func (s *SnapshotStore) Create(meta raft.SnapshotMeta) (raft.SnapshotSink, error) {
	return &snapshotSink{store: s, meta: copyMeta(meta)}, nil
}

// Latest returns the metadata of the newest complete snapshot, or ok false
// if there is none.
func (s *SnapshotStore) Latest() (raft.SnapshotMeta, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.ok {
		return raft.SnapshotMeta{}, false, nil
	}
	return copyMeta(s.meta), true, nil
}

// Open returns the newest complete snapshot's metadata and a reader of its
// bytes. It returns ErrNoSnapshot if there is none. The reader stays valid
// after a newer snapshot is published.
func (s *SnapshotStore) Open() (raft.SnapshotMeta, io.ReadCloser, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.ok {
		return raft.SnapshotMeta{}, nil, ErrNoSnapshot
	}
	return copyMeta(s.meta), io.NopCloser(bytes.NewReader(s.data)), nil
}

func (s *SnapshotStore) publish(meta raft.SnapshotMeta, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	meta.Size = int64(len(data))
	s.meta = meta
	s.data = data
	s.ok = true
}

// copyMeta returns meta with its own copy of the voter list, so that later
// changes by the caller do not reach the store, and the reverse.
func copyMeta(meta raft.SnapshotMeta) raft.SnapshotMeta {
	meta.Configuration.Voters = slices.Clone(meta.Configuration.Voters)
	return meta
}

// snapshotSink buffers a snapshot until Close. Like an io.Writer, it is not
// safe for concurrent use.
type snapshotSink struct {
	store *SnapshotStore
	meta  raft.SnapshotMeta
	buf   bytes.Buffer
	done  bool
}

func (k *snapshotSink) Write(p []byte) (int, error) {
	if k.done {
		return 0, fmt.Errorf("memory: write snapshot at index %d: %w", k.meta.Index, ErrSinkClosed)
	}
	return k.buf.Write(p)
}

// Close publishes the snapshot as the store's latest.
func (k *snapshotSink) Close() error {
	if k.done {
		return fmt.Errorf("memory: close snapshot at index %d: %w", k.meta.Index, ErrSinkClosed)
	}
	k.done = true
	k.store.publish(k.meta, k.buf.Bytes())
	return nil
}

// Cancel discards the snapshot. After Close it does nothing and returns nil,
// so a caller may defer Cancel and still Close on success.
func (k *snapshotSink) Cancel() error {
	if k.done {
		return nil
	}
	k.done = true
	k.buf = bytes.Buffer{}
	return nil
}
