package boltlike

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/natsraft/natsraft/raft/wire"
)

// HardState returns the saved term and vote, or the zero value if none was
// saved. Open reads and verifies the stored hard state, so HardState itself
// reads no disk.
func (s *Store) HardState() (wire.HardState, error) {
	if s.closed.Load() {
		return wire.HardState{}, fmt.Errorf("boltlike: read hard state from %s: %w", s.path, ErrClosed)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hardState, nil
}

// SetHardState saves st with its CRC-32C in one transaction, synced before
// SetHardState returns unless Options.NoSync is set.
func (s *Store) SetHardState(st wire.HardState) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	value := encodeHardState(st)
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(metaBucket).Put(keyHardState, value)
	})
	if err != nil {
		return fmt.Errorf("boltlike: save term %d and vote %q to %s: %w", st.Term, st.Vote, s.path, err)
	}
	s.mu.Lock()
	s.hardState = st
	s.mu.Unlock()
	return nil
}
