package memory

import (
	"errors"
	"fmt"
	"sync"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// ErrNotContiguous is wrapped by LogStore.Append when the entries leave a gap
// after the log's last entry, overlap it, or are not consecutive themselves.
var ErrNotContiguous = errors.New("memory: entries do not continue the log")

// LogStore is an in-memory raft.LogStore. It is safe for concurrent use:
// reads share a read lock and writes take the write lock.
//
// The log keeps the entries passed to Append, including their Data slices,
// without copying Data. Entries returns a new slice of entries whose Data
// slices are shared with the store, so callers must not modify Data.
type LogStore struct {
	mu sync.RWMutex
	// first is the index of entries[0], or of the next entry to append when
	// entries is empty. It is 0 until the store first holds an entry or is
	// compacted, and then never goes back to 0.
	first   uint64
	entries []wire.Entry
}

var _ raft.LogStore = (*LogStore)(nil)

// NewLogStore returns an empty log.
func NewLogStore() *LogStore {
	return &LogStore{}
}

// FirstIndex returns the index of the first stored entry. After the log was
// truncated down to nothing, it returns the index the next entry must have.
// It returns 0 if the store has never held an entry or been compacted.
func (s *LogStore) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.first, nil
}

// LastIndex returns the index of the last stored entry. When the log is empty
// it returns FirstIndex()-1, or 0 if FirstIndex is 0, so that the next entry
// always has index LastIndex()+1.
func (s *LogStore) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastLocked(), nil
}

// lastLocked returns the last index. The caller must hold s.mu.
func (s *LogStore) lastLocked() uint64 {
	if s.first == 0 {
		return 0
	}
	return s.first + uint64(len(s.entries)) - 1
}

// lowestLocked returns the lowest index that can still be read or written:
// the first index, or 1 when the store has never held an entry. Index 0 is
// never stored. The caller must hold s.mu.
func (s *LogStore) lowestLocked() uint64 {
	if s.first == 0 {
		return 1
	}
	return s.first
}

// Entries returns the entries in [lo, hi). With maxBytes above 0, it returns
// the longest prefix of the range whose total Entry.Size() is at most
// maxBytes, but always at least one entry. The returned slice is the
// caller's, but the entries' Data slices are shared with the store and must
// not be modified.
func (s *LogStore) Entries(lo, hi uint64, maxBytes int) ([]wire.Entry, error) {
	if lo > hi {
		return nil, fmt.Errorf("memory: read entries [%d, %d): invalid range, lo is above hi", lo, hi)
	}

	s.mu.RLock()
	defer s.mu.RUnlock()

	if lowest := s.lowestLocked(); lo < lowest {
		return nil, fmt.Errorf("memory: read entries [%d, %d): first index is %d: %w", lo, hi, lowest, raft.ErrCompacted)
	}
	if last := s.lastLocked(); hi > last+1 {
		return nil, fmt.Errorf("memory: read entries [%d, %d): last index is %d: %w", lo, hi, last, raft.ErrUnavailable)
	}
	if lo == hi {
		return nil, nil
	}

	src := s.entries[lo-s.first : hi-s.first]
	n := len(src)
	if maxBytes > 0 {
		n = limitBySize(src, maxBytes)
	}
	out := make([]wire.Entry, n)
	copy(out, src)
	return out, nil
}

// limitBySize returns how many leading entries fit in maxBytes, at least 1.
func limitBySize(entries []wire.Entry, maxBytes int) int {
	total := 0
	for i := range entries {
		total += entries[i].Size()
		if total > maxBytes && i > 0 {
			return i
		}
	}
	return len(entries)
}

// Term returns the term of the entry at index. It returns an error wrapping
// raft.ErrCompacted below the first index and raft.ErrUnavailable above the
// last index.
func (s *LogStore) Term(index uint64) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()

	if lowest := s.lowestLocked(); index < lowest {
		return 0, fmt.Errorf("memory: read term of entry %d: first index is %d: %w", index, lowest, raft.ErrCompacted)
	}
	if last := s.lastLocked(); index > last {
		return 0, fmt.Errorf("memory: read term of entry %d: last index is %d: %w", index, last, raft.ErrUnavailable)
	}
	return s.entries[index-s.first].Term, nil
}

// Append adds entries at the end of the log. The entries must have
// consecutive indexes starting at LastIndex()+1, except that a store that
// has never held an entry accepts any first index above 0. Otherwise Append
// changes nothing and returns an error wrapping ErrNotContiguous. The store
// keeps the entries' Data slices, which the caller must not modify afterwards.
func (s *LogStore) Append(entries []wire.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := checkConsecutive(entries); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	start := entries[0].Index
	if s.first == 0 {
		s.first = start
	} else if next := s.lastLocked() + 1; start != next {
		return fmt.Errorf("memory: append entries %d to %d: the next index is %d: %w",
			start, entries[len(entries)-1].Index, next, ErrNotContiguous)
	}
	if need := len(s.entries) + len(entries); need > cap(s.entries) {
		// Double the capacity. The built-in append grows a large slice by
		// about a quarter (Go runtime growslice), which copies a long log
		// more often.
		grown := make([]wire.Entry, len(s.entries), max(need, 2*cap(s.entries), 64))
		copy(grown, s.entries)
		s.entries = grown
	}
	s.entries = append(s.entries, entries...)
	return nil
}

// checkConsecutive reports an error unless the entries have consecutive
// indexes above 0.
func checkConsecutive(entries []wire.Entry) error {
	start := entries[0].Index
	if start == 0 {
		return fmt.Errorf("memory: append entries: index 0 is invalid, indexes start at 1: %w", ErrNotContiguous)
	}
	for i := range entries {
		if want := start + uint64(i); entries[i].Index != want {
			return fmt.Errorf("memory: append entries: entry %d of the batch has index %d, expected %d: %w",
				i, entries[i].Index, want, ErrNotContiguous)
		}
	}
	return nil
}

// TruncateSuffix deletes the entries at index from and above. Deleting above
// the last index does nothing. It returns an error wrapping raft.ErrCompacted
// when from is below the first index, because compacted entries are
// committed and must not be replaced.
func (s *LogStore) TruncateSuffix(from uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if lowest := s.lowestLocked(); from < lowest {
		return fmt.Errorf("memory: truncate log from %d: first index is %d: %w", from, lowest, raft.ErrCompacted)
	}
	if from > s.lastLocked() {
		return nil
	}
	keep := from - s.first
	// Clear the removed slots so that their Data can be garbage collected.
	clear(s.entries[keep:])
	s.entries = s.entries[:keep]
	return nil
}

// TruncatePrefix deletes the entries at index upTo and below. When upTo is at
// or above the last index, the log becomes empty and the next appended entry
// must have index upTo+1; this is how a node resets its log after installing
// a snapshot. Indexes already deleted are ignored.
func (s *LogStore) TruncatePrefix(upTo uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if upTo < s.lowestLocked() {
		return nil
	}
	if upTo >= s.lastLocked() {
		clear(s.entries)
		s.entries = s.entries[:0]
		s.first = upTo + 1
		return nil
	}

	drop := int(upTo + 1 - s.first)
	if keep := len(s.entries) - drop; keep <= drop {
		// Move the kept entries to the front, so that appends reuse the
		// array. The copy costs no more than the entries it drops.
		copy(s.entries, s.entries[drop:])
		clear(s.entries[keep:])
		s.entries = s.entries[:keep]
	} else {
		// Reslicing is cheaper here. The slots before the new start stay
		// unused until the next append that has to grow the array.
		clear(s.entries[:drop])
		s.entries = s.entries[drop:]
	}
	s.first = upTo + 1
	return nil
}
