package memory

import (
	"sync"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// StableStore is an in-memory raft.StableStore, safe for concurrent use.
type StableStore struct {
	mu    sync.RWMutex
	state wire.HardState
}

var _ raft.StableStore = (*StableStore)(nil)

// NewStableStore returns a store holding the zero HardState.
func NewStableStore() *StableStore {
	return &StableStore{}
}

// HardState returns the last saved state, or the zero value if none was saved.
func (s *StableStore) HardState() (wire.HardState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state, nil
}

// SetHardState replaces the saved state with st.
func (s *StableStore) SetHardState(st wire.HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
	return nil
}

// InlineWrites returns true: writes only take the store's lock, so the
// node may run them on its own loop (see raft.InlineWriter).
func (s *StableStore) InlineWrites() bool { return true }
