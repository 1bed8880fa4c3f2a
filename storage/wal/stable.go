package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/natsraft/natsraft/raft/wire"
)

// HardState returns the saved term and vote, or the zero value if none was
// saved. Open reads and verifies the HARDSTATE file, so HardState itself
// reads no file.
func (s *Store) HardState() (wire.HardState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return wire.HardState{}, fmt.Errorf("wal: read hard state from %s: %w", s.dir, ErrClosed)
	}
	return s.hardState, nil
}

// SetHardState saves st in the HARDSTATE file, which it replaces: it
// writes a temporary file with st and its CRC-32C, syncs it, renames it
// and syncs the directory, unless Options.NoSync is set. That is three
// syncs, which is fine for a value that changes at elections.
func (s *Store) SetHardState(st wire.HardState) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.checkWritable(); err != nil {
		return fmt.Errorf("wal: save term %d and vote %q to %s: %w", st.Term, st.Vote, s.dir, err)
	}
	data := appendChecksummed(make([]byte, 0, 4+st.Size()), st.MarshalAppend)
	if err := writeFileAtomic(s.dir, hardStateFileName, data, s.noSync); err != nil {
		return fmt.Errorf("wal: save term %d and vote %q to %s: %w", st.Term, st.Vote, s.dir, err)
	}
	s.mu.Lock()
	s.hardState = st
	s.mu.Unlock()
	return nil
}

// loadHardState reads and verifies the HARDSTATE file, if there is one.
func (s *Store) loadHardState() error {
	path := filepath.Join(s.dir, hardStateFileName)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	payload, err := verifiedPayload(raw)
	if err == nil {
		// HardState has no bytes fields, so it shares no memory with raw.
		err = s.hardState.Unmarshal(payload)
	}
	if err != nil {
		return corrupt(path+" (hard state)", err)
	}
	return nil
}
