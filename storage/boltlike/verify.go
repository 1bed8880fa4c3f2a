package boltlike

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxCheckErrors bounds the bbolt page errors that Verify reports.
const maxCheckErrors = 10

// Verify checks the whole file: bbolt's page structure (every page
// reachable or free, no page used twice), the checksum and index of every
// log entry, the contiguity of the log, and the hard state's checksum. It
// returns nil or an error wrapping raft.ErrCorrupt. It reads every page, so
// it takes time proportional to the file's size, and it blocks writers while
// it runs.
func (s *Store) Verify() error {
	// bbolt's check is not safe in a read transaction while a writer runs.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	err := s.view(func(tx *bolt.Tx) error {
		if err := verifyLog(tx); err != nil {
			return err
		}
		value := tx.Bucket(metaBucket).Get(keyHardState)
		if value == nil {
			return corrupt("hard state", errors.New("the term and vote are missing"))
		}
		if _, err := decodeHardState(value); err != nil {
			return corrupt("hard state", err)
		}
		// NOTE: bbolt runs this check in a goroutine of its own, where a
		// page reference outside the file crashes the process instead of
		// returning an error. The reads above run first, in this goroutine,
		// and turn such faults into errors for every page they visit.
		return checkPages(tx)
	})
	if err != nil {
		return fmt.Errorf("boltlike: verify %s: %w", s.path, err)
	}
	return nil
}

// checkPages runs bbolt's consistency check and joins the first errors.
func checkPages(tx *bolt.Tx) error {
	var errs []error
	for err := range tx.Check() {
		if len(errs) < maxCheckErrors {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return corrupt("pages", errors.Join(errs...))
	}
	return nil
}

// verifyLog decodes every entry, checking that the indexes run from the
// recorded first index to the last key without a gap.
func verifyLog(tx *bolt.Tx) error {
	first, last, err := bounds(tx)
	if err != nil {
		return err
	}
	c := tx.Bucket(logBucket).Cursor()
	next := first
	for key, value := c.First(); key != nil; key, value = c.Next() {
		index, ok := keyIndex(key)
		if !ok || index != next {
			return corrupt(fmt.Sprintf("entry %d", next), fmt.Errorf("the entry is missing, the next key is %x", key))
		}
		if _, err := decodeEntry(index, value); err != nil {
			return corrupt(fmt.Sprintf("entry %d", index), err)
		}
		next++
	}
	if first != 0 && next != last+1 {
		return corrupt("log bounds", fmt.Errorf("entries end at %d, but the last index is %d", next-1, last))
	}
	return nil
}
