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

// chunkLen is the number of entries in one chunk of a LogStore. Appends
// fill chunks in place, so a long log is never copied as a whole.
const chunkLen = 4096

// LogStore is an in-memory raft.LogStore. It is safe for concurrent use:
// reads share a read lock and writes take the write lock.
//
// The log keeps the entries passed to Append, including their Data slices,
// without copying Data. Entries returns a new slice of entries whose Data
// slices are shared with the store, so callers must not modify Data.
//
// Entries live in fixed-size chunks: appending allocates a new chunk when
// the last one is full and never moves the entries already stored, and
// compaction frees whole chunks.
type LogStore struct {
	mu sync.RWMutex
	// first is the index of the first stored entry, or of the next entry to
	// append when the log is empty. It is 0 until the store first holds an
	// entry or is compacted, and then never goes back to 0.
	first uint64
	// head is the position of the entry at first in chunks[0].
	head int
	// n is the number of stored entries.
	n      int
	chunks [][]wire.Entry
}

var (
	_ raft.LogStore     = (*LogStore)(nil)
	_ raft.InlineWriter = (*LogStore)(nil)
)

// NewLogStore returns an empty log.
func NewLogStore() *LogStore {
	return &LogStore{}
}

// InlineWrites returns true: writes only take the store's lock, so the
// node may run them on its own loop (see raft.InlineWriter).
func (s *LogStore) InlineWrites() bool { return true }

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
	return s.first + uint64(s.n) - 1
}

// slot returns the chunk and the offset in it of the entry at index. The
// caller must hold s.mu, and the chunk must exist.
func (s *LogStore) slot(index uint64) (chunk, offset int) {
	pos := s.head + int(index-s.first)
	return pos / chunkLen, pos % chunkLen
}

// copyOut appends the entries in [lo, hi) to out. The caller must hold
// s.mu and have checked the range.
func (s *LogStore) copyOut(out []wire.Entry, lo, hi uint64) []wire.Entry {
	for lo < hi {
		c, off := s.slot(lo)
		run := min(uint64(chunkLen-off), hi-lo)
		out = append(out, s.chunks[c][off:off+int(run)]...)
		lo += run
	}
	return out
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

	if maxBytes > 0 {
		hi = s.limitBySize(lo, hi, maxBytes)
	}
	return s.copyOut(make([]wire.Entry, 0, hi-lo), lo, hi), nil
}

// limitBySize returns the end of the longest prefix of [lo, hi) whose total
// Entry.Size() is at most maxBytes, keeping at least one entry. The caller
// must hold s.mu.
func (s *LogStore) limitBySize(lo, hi uint64, maxBytes int) uint64 {
	total := 0
	for i := lo; i < hi; i++ {
		c, off := s.slot(i)
		total += s.chunks[c][off].Size()
		if total > maxBytes && i > lo {
			return i
		}
	}
	return hi
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
	c, off := s.slot(index)
	return s.chunks[c][off].Term, nil
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
	for len(entries) > 0 {
		pos := s.head + s.n
		c, off := pos/chunkLen, pos%chunkLen
		if c == len(s.chunks) {
			s.chunks = append(s.chunks, make([]wire.Entry, chunkLen))
		}
		copied := copy(s.chunks[c][off:], entries)
		s.n += copied
		entries = entries[copied:]
	}
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
	s.clearRange(from, s.lastLocked()+1)
	s.n = int(from - s.first)
	// Free the chunks past the new end.
	used := (s.head + s.n + chunkLen - 1) / chunkLen
	clear(s.chunks[used:])
	s.chunks = s.chunks[:used]
	return nil
}

// clearRange zeroes the slots of the entries in [lo, hi), so that their
// Data can be garbage collected. The caller must hold s.mu.
func (s *LogStore) clearRange(lo, hi uint64) {
	for lo < hi {
		c, off := s.slot(lo)
		run := min(uint64(chunkLen-off), hi-lo)
		clear(s.chunks[c][off : off+int(run)])
		lo += run
	}
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
		s.chunks, s.head, s.n = nil, 0, 0
		s.first = upTo + 1
		return nil
	}

	s.clearRange(s.first, upTo+1)
	drop := int(upTo + 1 - s.first)
	s.head += drop
	s.n -= drop
	s.first = upTo + 1
	// Free the chunks that now hold no entry.
	if whole := s.head / chunkLen; whole > 0 {
		clear(s.chunks[:whole])
		s.chunks = s.chunks[whole:]
		s.head -= whole * chunkLen
	}
	return nil
}
