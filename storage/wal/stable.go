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

// writeInitialHardState writes the zero hard state to a new directory, so
// that a HARDSTATE file missing later is detected.
func (s *Store) writeInitialHardState() error {
	var st wire.HardState
	data := appendChecksummed(make([]byte, 0, 4+st.Size()), st.MarshalAppend)
	return writeFileAtomic(s.dir, hardStateFileName, data, s.noSync)
}

// loadHardState reads and verifies the HARDSTATE file. The first Open
// writes one, so a missing file means the term and vote were lost, and a
// node that forgot its vote could vote twice in one term.
func (s *Store) loadHardState() error {
	path := filepath.Join(s.dir, hardStateFileName)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return corrupt(path, errors.New("the file with the term and vote is missing: the node may have voted in a term it no longer knows"))
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
