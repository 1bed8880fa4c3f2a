package boltlike

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/storage/storagetest"
)

// quietLogger discards the stores' logs, so that test output shows only
// failures.
var quietLogger = slog.New(slog.DiscardHandler)

func testOptions() Options {
	return Options{Cluster: "c1", Node: "n1", Logger: quietLogger}
}

// openTestStore opens a store in path and closes it when the test ends.
func openTestStore(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newTestStore opens a store in a new file of the test's temporary directory.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	return openTestStore(t, filepath.Join(t.TempDir(), "raft.db"))
}

func TestLogStoreConformance(t *testing.T) {
	storagetest.RunLogStore(t, func(t *testing.T) raft.LogStore { return newTestStore(t) })
}

func TestStableStoreConformance(t *testing.T) {
	storagetest.RunStableStore(t, func(t *testing.T) raft.StableStore { return newTestStore(t) })
}

// TestLogStoreConformanceAfterReopen runs the suite on stores that are
// closed and reopened before every call, so that each result comes from the
// file and the state Open loads from it.
func TestLogStoreConformanceAfterReopen(t *testing.T) {
	storagetest.RunLogStore(t, func(t *testing.T) raft.LogStore {
		path := filepath.Join(t.TempDir(), "raft.db")
		return storagetest.Reopening(func() (raft.LogStore, io.Closer, error) {
			s, err := Open(path, testOptions())
			return s, s, err
		})
	})
}

func TestReopenKeepsLogAndHardState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	want := append(storagetest.MakeEntries(1, 101, 1), storagetest.MakeEntries(101, 201, 2)...)
	if err := s.Append(want[:150]); err != nil {
		t.Fatalf("Append(1 to 150): %v", err)
	}
	if err := s.Append(want[150:]); err != nil {
		t.Fatalf("Append(151 to 200): %v", err)
	}
	if err := s.TruncatePrefix(20); err != nil {
		t.Fatalf("TruncatePrefix(20): %v", err)
	}
	if err := s.SetHardState(wire.HardState{Term: 2, Vote: "n3"}); err != nil {
		t.Fatalf("SetHardState: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openTestStore(t, path)
	checkIndexes(t, s, 21, 200)
	got, err := s.Entries(21, 201, 0)
	if err != nil {
		t.Fatalf("Entries(21, 201) after reopen: %v", err)
	}
	checkSameEntries(t, got, want[20:])
	for _, index := range []uint64{21, 100, 101, 200} {
		if term, err := s.Term(index); err != nil || term != want[index-1].Term {
			t.Errorf("Term(%d) after reopen = %d, %v; want %d", index, term, err, want[index-1].Term)
		}
	}
	st, err := s.HardState()
	if err != nil || st.Term != 2 || st.Vote != "n3" {
		t.Errorf("HardState after reopen = {term %d, vote %q}, %v; want {term 2, vote \"n3\"}", st.Term, st.Vote, err)
	}
	if err := s.Append(storagetest.MakeEntries(201, 202, 2)); err != nil {
		t.Errorf("Append(201) after reopen: %v", err)
	}
	if err := s.Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestReopenAfterPrefixEmptiedLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Append(storagetest.MakeEntries(1, 6, 1)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := s.TruncatePrefix(9); err != nil {
		t.Fatalf("TruncatePrefix(9): %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openTestStore(t, path)
	checkIndexes(t, s, 10, 9)
	if err := s.Append(storagetest.MakeEntries(11, 12, 2)); !errors.Is(err, ErrNotContiguous) {
		t.Errorf("Append(11) after reopen = %v, want an error matching ErrNotContiguous", err)
	}
	if err := s.Append(storagetest.MakeEntries(10, 12, 2)); err != nil {
		t.Errorf("Append(10 to 11) after reopen: %v", err)
	}
}

func TestTermBeyondCacheReadsDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	const count = tailTermsAtOpen + 1000
	entries := storagetest.MakeEntries(1, count+1, 3)
	for i := range entries {
		entries[i].Term = uint64(i/700 + 1)
	}
	if err := s.Append(entries); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openTestStore(t, path)
	if _, ok := s.terms.lookup(1); ok {
		t.Fatalf("term cache covers index 1 after reopen, want only the last %d entries", tailTermsAtOpen)
	}
	for _, index := range []uint64{1, 699, 700, 701, 1000, count - tailTermsAtOpen, count - tailTermsAtOpen + 1, count} {
		want := entries[index-1].Term
		if term, err := s.Term(index); err != nil || term != want {
			t.Errorf("Term(%d) = %d, %v; want %d", index, term, err, want)
		}
	}
}

func TestIdentityMismatchRejected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	cases := []struct{ cluster, node string }{{"c1", "n2"}, {"c2", "n1"}}
	for _, c := range cases {
		opts := testOptions()
		opts.Cluster, opts.Node = c.cluster, c.node
		s, err := Open(path, opts)
		if err == nil {
			s.Close()
			t.Fatalf("Open as cluster %q node %q on a file of c1/n1 succeeded, want an error", c.cluster, c.node)
		}
		if !errors.Is(err, ErrIdentityMismatch) {
			t.Errorf("Open as %s/%s = %v, want an error matching ErrIdentityMismatch", c.cluster, c.node, err)
		}
		for _, want := range []string{`cluster "c1" node "n1"`, `cluster "` + c.cluster + `" node "` + c.node + `"`, path} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	}
	s = openTestStore(t, path)
	if err := s.Append(storagetest.MakeEntries(1, 2, 1)); err != nil {
		t.Errorf("Append after the rejected opens: %v", err)
	}
}

func TestOpenRequiresIdentity(t *testing.T) {
	for _, opts := range []Options{{Node: "n1"}, {Cluster: "c1"}} {
		s, err := Open(filepath.Join(t.TempDir(), "raft.db"), opts)
		if err == nil {
			s.Close()
			t.Errorf("Open with cluster %q node %q succeeded, want an error", opts.Cluster, opts.Node)
		}
	}
}

// setMetaValue writes value under key in the meta bucket of the file at
// path with bbolt directly.
func setMetaValue(t *testing.T, path string, key, value []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bolt.Open(%s): %v", path, err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(metaBucket).Put(key, value)
	})
	if err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
}

func TestNewerFormatRejected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	setMetaValue(t, path, keyFormat, indexKey(FormatVersion+1))

	s, err = Open(path, testOptions())
	if err == nil {
		s.Close()
		t.Fatalf("Open of a file with format version %d succeeded, want an error", FormatVersion+1)
	}
	if !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("Open = %v, want an error matching ErrUnsupportedFormat", err)
	}
	if want := "format version 2"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestForeignBoltFileRejected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("users"))
		return err
	})
	db.Close()
	if err != nil {
		t.Fatalf("create bucket: %v", err)
	}

	s, err := Open(path, testOptions())
	if err == nil {
		s.Close()
		t.Fatalf("Open of a bbolt file of another program succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "not a boltlike store") {
		t.Errorf("error %q does not say the file is not a boltlike store", err)
	}
}

func TestSecondOpenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	openTestStore(t, path)

	opts := testOptions()
	opts.LockTimeout = 50 * time.Millisecond
	s, err := Open(path, opts)
	if err == nil {
		s.Close()
		t.Fatalf("second Open of a file in use succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("error %q does not say the file is locked", err)
	}
}

func TestMethodsAfterClose(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "raft.db"), testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Append(storagetest.MakeEntries(1, 3, 1)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}

	checks := map[string]error{
		"Append":         s.Append(storagetest.MakeEntries(3, 4, 1)),
		"TruncateSuffix": s.TruncateSuffix(2),
		"TruncatePrefix": s.TruncatePrefix(1),
		"SetHardState":   s.SetHardState(wire.HardState{Term: 1}),
	}
	_, checks["Entries"] = s.Entries(1, 2, 0)
	_, checks["Term"] = s.Term(1)
	_, checks["LastIndex"] = s.LastIndex()
	_, checks["HardState"] = s.HardState()
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want an error matching ErrClosed", name, err)
		}
	}
}

func TestEntriesDataOwnedByCaller(t *testing.T) {
	s := newTestStore(t)
	want := storagetest.MakeEntries(1, 4, 1)
	if err := s.Append(want); err != nil {
		t.Fatalf("Append: %v", err)
	}
	got, err := s.Entries(1, 4, 0)
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	// Appending to one entry's Data must not overwrite the next one's.
	_ = append(got[0].Data, "overwritten"...)
	for i := range got {
		got[i].Data[0] = 'X'
	}
	again, err := s.Entries(1, 4, 0)
	if err != nil {
		t.Fatalf("Entries again: %v", err)
	}
	checkSameEntries(t, again, want)
}

func checkIndexes(t *testing.T, s *Store, first, last uint64) {
	t.Helper()
	if got, err := s.FirstIndex(); err != nil || got != first {
		t.Errorf("FirstIndex = %d, %v; want %d", got, err, first)
	}
	if got, err := s.LastIndex(); err != nil || got != last {
		t.Errorf("LastIndex = %d, %v; want %d", got, err, last)
	}
}

func checkSameEntries(t *testing.T, got, want []wire.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Index != w.Index || g.Term != w.Term || g.Type != w.Type || string(g.Data) != string(w.Data) {
			t.Fatalf("entry %d = {index %d, term %d, type %v, data %q}, want {index %d, term %d, type %v, data %q}",
				i, g.Index, g.Term, g.Type, g.Data, w.Index, w.Term, w.Type, w.Data)
		}
	}
}

// readAllAndClose reads r to the end and closes it.
func readAllAndClose(r io.ReadCloser) ([]byte, error) {
	defer r.Close()
	return io.ReadAll(r)
}

// fileSize returns the size of the file at path.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return st.Size()
}
