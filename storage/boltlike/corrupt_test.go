package boltlike

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// corruptTestEntries is the length of the logs in these tests: more than
// Open reads, so that damage to an early entry is found only when it is read.
const corruptTestEntries = tailTermsAtOpen + 1000

// patternEntries returns entries lo to hi-1 whose Data is unique text that
// can be found in the raw file.
func patternEntries(lo, hi uint64) []wire.Entry {
	out := make([]wire.Entry, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, wire.Entry{Index: i, Term: 1 + i/1000, Type: wire.EntryTypeCommand, Data: entryPattern(i)})
	}
	return out
}

func entryPattern(index uint64) []byte {
	return fmt.Appendf(nil, "<entry %08d payload>", index)
}

// writeTestLog creates a closed store file holding patternEntries(1,
// corruptTestEntries+1) and a hard state, and returns its path.
func writeTestLog(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Append(patternEntries(1, corruptTestEntries+1)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := s.SetHardState(wire.HardState{Term: 9, Vote: "n1"}); err != nil {
		t.Fatalf("SetHardState: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return path
}

// editBolt runs fn in a read-write transaction on the file at path, opened
// with bbolt directly.
func editBolt(t *testing.T, path string, fn func(log, meta *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bolt.Open(%s): %v", path, err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		return fn(tx.Bucket(logBucket), tx.Bucket(metaBucket))
	})
	if err != nil {
		t.Fatalf("edit %s: %v", path, err)
	}
}

// flipValueByte rewrites the value under key with the byte at offset
// changed.
func flipValueByte(t *testing.T, path string, key []byte, offset int) {
	t.Helper()
	editBolt(t, path, func(log, meta *bolt.Bucket) error {
		b := log
		if log.Get(key) == nil {
			b = meta
		}
		value := bytes.Clone(b.Get(key))
		if offset >= len(value) {
			return fmt.Errorf("offset %d is beyond the value's %d bytes", offset, len(value))
		}
		value[offset] ^= 0x20
		return b.Put(key, value)
	})
}

// checkCorruptError fails the test unless err wraps raft.ErrCorrupt and
// contains every string in want.
func checkCorruptError(t *testing.T, call string, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, raft.ErrCorrupt) {
		t.Errorf("%s = %v, want an error matching raft.ErrCorrupt", call, err)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s error %q does not contain %q", call, err, w)
		}
	}
}

func TestDamagedEntryDetectedOnRead(t *testing.T) {
	cases := []struct {
		name   string
		offset int
	}{
		{"checksum byte", 1},
		{"index field", crcSize + 2},
		{"data byte", crcSize + 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeTestLog(t)
			flipValueByte(t, path, indexKey(7), c.offset)

			s := openTestStore(t, path)
			_, err := s.Entries(1, 20, 0)
			checkCorruptError(t, "Entries(1, 20)", err, "entry 7", path)
			_, err = s.Term(7)
			checkCorruptError(t, "Term(7)", err, "entry 7", path)
			checkCorruptError(t, "Verify", s.Verify(), "entry 7")

			// The entries around the damaged one still read.
			if _, err := s.Entries(8, 20, 0); err != nil {
				t.Errorf("Entries(8, 20) = %v, want no error", err)
			}
			if _, err := s.Term(6); err != nil {
				t.Errorf("Term(6) = %v, want no error", err)
			}
		})
	}
}

func TestMisplacedAndMissingEntriesDetected(t *testing.T) {
	t.Run("entry stored under another index", func(t *testing.T) {
		path := writeTestLog(t)
		editBolt(t, path, func(log, _ *bolt.Bucket) error {
			return log.Put(indexKey(7), bytes.Clone(log.Get(indexKey(8))))
		})
		s := openTestStore(t, path)
		_, err := s.Entries(7, 8, 0)
		checkCorruptError(t, "Entries(7, 8)", err, "entry 7", "has index 8")
	})
	t.Run("missing entry", func(t *testing.T) {
		path := writeTestLog(t)
		editBolt(t, path, func(log, _ *bolt.Bucket) error { return log.Delete(indexKey(7)) })
		s := openTestStore(t, path)
		_, err := s.Entries(5, 10, 0)
		checkCorruptError(t, "Entries(5, 10)", err, "entry 7", "missing")
		checkCorruptError(t, "Verify", s.Verify(), "entry 7")
	})
	t.Run("valid checksum over an invalid encoding", func(t *testing.T) {
		path := writeTestLog(t)
		garbage := appendChecksummed(nil, func(b []byte) []byte { return append(b, 0xc1, 0xff) })
		editBolt(t, path, func(log, _ *bolt.Bucket) error { return log.Put(indexKey(7), garbage) })
		s := openTestStore(t, path)
		_, err := s.Entries(7, 8, 0)
		checkCorruptError(t, "Entries(7, 8)", err, "entry 7")
	})
}

func TestDamagedTailFailsOpen(t *testing.T) {
	path := writeTestLog(t)
	flipValueByte(t, path, indexKey(corruptTestEntries-3), crcSize+20)

	s, err := Open(path, testOptions())
	if err == nil {
		s.Close()
		t.Fatalf("Open with a damaged entry near the end succeeded, want an error")
	}
	checkCorruptError(t, "Open", err, fmt.Sprintf("entry %d", corruptTestEntries-3), path)
}

func TestDamagedHardStateFailsOpen(t *testing.T) {
	path := writeTestLog(t)
	flipValueByte(t, path, keyHardState, crcSize+1)

	s, err := Open(path, testOptions())
	if err == nil {
		s.Close()
		t.Fatalf("Open with a damaged hard state succeeded, want an error")
	}
	checkCorruptError(t, "Open", err, "hard state", path)
}

func TestMissingHardStateFailsOpen(t *testing.T) {
	path := writeTestLog(t)
	editBolt(t, path, func(_, meta *bolt.Bucket) error { return meta.Delete(keyHardState) })

	s, err := Open(path, testOptions())
	if err == nil {
		s.Close()
		t.Fatalf("Open without a hard state succeeded, want an error")
	}
	checkCorruptError(t, "Open", err, "hard state", "missing", path)
}

func TestDamagedFirstIndexFailsOpen(t *testing.T) {
	path := writeTestLog(t)
	editBolt(t, path, func(_, meta *bolt.Bucket) error { return meta.Put(keyFirst, indexKey(3)) })

	s, err := Open(path, testOptions())
	if err == nil {
		s.Close()
		t.Fatalf("Open with a first index that does not match the first key succeeded, want an error")
	}
	checkCorruptError(t, "Open", err, "first index is 3")
}

// TestFileByteFlipInEntryDetected changes one byte of an entry's data in
// the raw file, below bbolt, and expects the read of that entry to fail.
func TestFileByteFlipInEntryDetected(t *testing.T) {
	path := writeTestLog(t)
	const target = 123
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Older versions of a page can remain in free pages, so change every
	// copy of the entry to be sure to hit the one in use.
	pattern := entryPattern(target)
	copies := 0
	for at := 0; ; {
		i := bytes.Index(raw[at:], pattern)
		if i < 0 {
			break
		}
		raw[at+i+len(pattern)-3] ^= 0x01
		copies++
		at += i + len(pattern)
	}
	if copies == 0 {
		t.Fatalf("entry %d's data not found in %s", target, path)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	s := openTestStore(t, path)
	_, err = s.Entries(1, corruptTestEntries+1, 0)
	checkCorruptError(t, "Entries(all)", err, fmt.Sprintf("entry %d", target), path)
	_, err = s.Term(target)
	checkCorruptError(t, fmt.Sprintf("Term(%d)", target), err, fmt.Sprintf("entry %d", target))
}
