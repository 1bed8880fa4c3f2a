package boltlike

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// FirstIndex returns the index of the first stored entry. After the log was
// truncated down to nothing, it returns the index the next entry must have.
// It returns 0 if the store has never held an entry or been compacted.
func (s *Store) FirstIndex() (uint64, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("boltlike: read first index of %s: %w", s.path, ErrClosed)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.first, nil
}

// LastIndex returns the index of the last stored entry. When the log is
// empty it returns FirstIndex()-1, or 0 if FirstIndex is 0, so that the next
// entry always has index LastIndex()+1.
func (s *Store) LastIndex() (uint64, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("boltlike: read last index of %s: %w", s.path, ErrClosed)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last, nil
}

// Entries returns the entries in [lo, hi). With maxBytes above 0, it returns
// the longest prefix of the range whose total Entry.Size() is at most
// maxBytes, but always at least one entry. It returns an error wrapping
// raft.ErrCompacted when lo is below the first index, raft.ErrUnavailable
// when hi-1 is above the last index, and raft.ErrCorrupt when a stored
// entry fails its checksum or does not decode. The entries and their Data
// are the caller's: Data of all returned entries shares one new buffer.
func (s *Store) Entries(lo, hi uint64, maxBytes int) ([]wire.Entry, error) {
	if lo > hi {
		return nil, fmt.Errorf("boltlike: read entries [%d, %d): invalid range, lo is above hi", lo, hi)
	}
	var out []wire.Entry
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		out, err = s.entriesInTx(tx, lo, hi, maxBytes)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("boltlike: read entries [%d, %d) from %s: %w", lo, hi, s.path, err)
	}
	return out, nil
}

// entriesInTx checks [lo, hi) against the log bounds in tx and reads the
// entries as Entries does.
func (s *Store) entriesInTx(tx *bolt.Tx, lo, hi uint64, maxBytes int) ([]wire.Entry, error) {
	first, last, err := bounds(tx)
	if err != nil {
		return nil, err
	}
	if lowest := max(first, 1); lo < lowest {
		return nil, fmt.Errorf("first index is %d: %w", lowest, raft.ErrCompacted)
	}
	if hi > last+1 {
		return nil, fmt.Errorf("last index is %d: %w", last, raft.ErrUnavailable)
	}
	return s.readRange(tx, lo, hi, maxBytes)
}

// readRange reads and verifies the entries in [lo, hi), which must lie
// within the log's bounds in tx, limited by maxBytes as in Entries. The
// entries' Data is copied out of the memory map into one buffer.
func (s *Store) readRange(tx *bolt.Tx, lo, hi uint64, maxBytes int) ([]wire.Entry, error) {
	if lo >= hi {
		return nil, nil
	}
	c := tx.Bucket(logBucket).Cursor()
	out := make([]wire.Entry, 0, min(hi-lo, 256))
	total, dataBytes := 0, 0
	index := lo
	for key, value := c.Seek(indexKey(lo)); index < hi; key, value = c.Next() {
		if got, ok := keyIndex(key); !ok || got != index {
			return nil, corrupt(fmt.Sprintf("entry %d", index), fmt.Errorf("the entry is missing, the next key is %x", key))
		}
		e, err := decodeEntry(index, value)
		if err != nil {
			return nil, corrupt(fmt.Sprintf("entry %d", index), err)
		}
		total += e.Size()
		if maxBytes > 0 && total > maxBytes && len(out) > 0 {
			break
		}
		out = append(out, e)
		dataBytes += len(e.Data)
		index++
	}
	// Data still points into the memory map, which is valid only inside tx.
	buf := make([]byte, 0, dataBytes)
	for i := range out {
		if out[i].Data == nil {
			continue
		}
		start := len(buf)
		buf = append(buf, out[i].Data...)
		out[i].Data = buf[start:len(buf):len(buf)]
	}
	return out, nil
}

// Term returns the term of the entry at index. Terms of recent entries come
// from memory; older ones are read from disk and verified like Entries.
func (s *Store) Term(index uint64) (uint64, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("boltlike: read term of entry %d from %s: %w", index, s.path, ErrClosed)
	}
	s.mu.RLock()
	lowest, last := max(s.first, 1), s.last
	term, cached := s.terms.lookup(index)
	s.mu.RUnlock()

	switch {
	case index < lowest:
		return 0, fmt.Errorf("boltlike: read term of entry %d: first index is %d: %w", index, lowest, raft.ErrCompacted)
	case index > last:
		return 0, fmt.Errorf("boltlike: read term of entry %d: last index is %d: %w", index, last, raft.ErrUnavailable)
	case cached:
		return term, nil
	}
	var entries []wire.Entry
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		entries, err = s.entriesInTx(tx, index, index+1, 0)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("boltlike: read term of entry %d from %s: %w", index, s.path, err)
	}
	return entries[0].Term, nil
}

// Append adds entries at the end of the log in one transaction, synced
// before Append returns unless Options.NoSync is set. The entries must have
// consecutive indexes starting at LastIndex()+1, except that a store that
// has never held an entry accepts any first index above 0. Otherwise Append
// changes nothing and returns an error wrapping ErrNotContiguous.
func (s *Store) Append(entries []wire.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := checkConsecutive(entries); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	start, end := entries[0].Index, entries[len(entries)-1].Index
	// Only writers change first and last, and writeMu excludes them.
	first, last := s.first, s.last
	if first != 0 && start != last+1 {
		return fmt.Errorf("boltlike: append entries %d to %d: the next index is %d: %w", start, end, last+1, ErrNotContiguous)
	}

	// bbolt keeps references to keys and values until the commit, so all of
	// them live in one buffer that is reused by the next Append.
	buf := s.encodeBuf[:0]
	bounds := make([]int, len(entries)+1)
	for i := range entries {
		buf = appendKeyAndValue(buf, &entries[i])
		bounds[i+1] = len(buf)
	}
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(logBucket)
		b.FillPercent = fillPercent
		for i := range entries {
			record := buf[bounds[i]:bounds[i+1]]
			if err := b.Put(record[:8], record[8:]); err != nil {
				return err
			}
		}
		if first == 0 {
			return tx.Bucket(metaBucket).Put(keyFirst, indexKey(start))
		}
		return nil
	})
	s.keepEncodeBuf(buf)
	if err != nil {
		return fmt.Errorf("boltlike: append entries %d to %d to %s: %w", start, end, s.path, err)
	}

	s.mu.Lock()
	if first == 0 {
		s.first = start
	}
	s.last = end
	for i := range entries {
		s.terms.add(entries[i].Index, entries[i].Term)
	}
	s.mu.Unlock()
	return nil
}

// appendKeyAndValue appends the key of e (8 bytes) followed by its stored
// value: the CRC-32C and the encoding of e.
func appendKeyAndValue(buf []byte, e *wire.Entry) []byte {
	buf = append(buf, indexKey(e.Index)...)
	return appendChecksummed(buf, e.MarshalAppend)
}

// keepEncodeBuf keeps buf for the next Append unless it grew beyond 4 MiB,
// so that one large batch does not pin its memory for the store's life.
func (s *Store) keepEncodeBuf(buf []byte) {
	if cap(buf) > 4<<20 {
		buf = nil
	}
	s.encodeBuf = buf
}

// checkConsecutive returns an error unless the entries have consecutive
// indexes above 0.
func checkConsecutive(entries []wire.Entry) error {
	start := entries[0].Index
	if start == 0 {
		return fmt.Errorf("boltlike: append entries: index 0 is invalid, indexes start at 1: %w", ErrNotContiguous)
	}
	for i := range entries {
		if want := start + uint64(i); entries[i].Index != want {
			return fmt.Errorf("boltlike: append entries: entry %d of the batch has index %d, expected %d: %w",
				i, entries[i].Index, want, ErrNotContiguous)
		}
	}
	return nil
}

// TruncateSuffix deletes the entries at index from and above in one
// transaction. Deleting above the last index does nothing. It returns an
// error wrapping raft.ErrCompacted when from is below the first index,
// because compacted entries are committed and must not be replaced.
func (s *Store) TruncateSuffix(from uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	first, last := s.first, s.last
	if lowest := max(first, 1); from < lowest {
		return fmt.Errorf("boltlike: truncate log from %d: first index is %d: %w", from, lowest, raft.ErrCompacted)
	}
	if from > last {
		return nil
	}
	err := s.update(func(tx *bolt.Tx) error {
		return deleteRange(tx.Bucket(logBucket), from, last)
	})
	if err != nil {
		return fmt.Errorf("boltlike: truncate log of %s from %d: %w", s.path, from, err)
	}

	s.mu.Lock()
	s.last = from - 1
	s.terms.truncateSuffix(from)
	s.mu.Unlock()
	return nil
}

// TruncatePrefix deletes the entries at index upTo and below in one
// transaction. When upTo is at or above the last index, the log becomes
// empty and the next appended entry must have index upTo+1; this is how a
// node resets its log after installing a snapshot. Indexes already deleted
// are ignored.
func (s *Store) TruncatePrefix(upTo uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	first, last := s.first, s.last
	lowest := max(first, 1)
	if upTo < lowest {
		return nil
	}
	err := s.update(func(tx *bolt.Tx) error {
		if first != 0 && last >= first {
			if err := deleteRange(tx.Bucket(logBucket), first, min(upTo, last)); err != nil {
				return err
			}
		}
		return tx.Bucket(metaBucket).Put(keyFirst, indexKey(upTo+1))
	})
	if err != nil {
		return fmt.Errorf("boltlike: truncate log of %s up to %d: %w", s.path, upTo, err)
	}

	s.mu.Lock()
	s.first = upTo + 1
	s.last = max(last, upTo)
	s.terms.truncatePrefix(upTo + 1)
	s.mu.Unlock()
	return nil
}

// deleteRange deletes the keys of indexes lo to hi inclusive.
func deleteRange(b *bolt.Bucket, lo, hi uint64) error {
	key := make([]byte, 8)
	// index >= lo stops the loop if index wraps around after MaxUint64.
	for index := lo; index <= hi && index >= lo; index++ {
		binary.BigEndian.PutUint64(key, index)
		if err := b.Delete(key); err != nil {
			return err
		}
	}
	return nil
}
