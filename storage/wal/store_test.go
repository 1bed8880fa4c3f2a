package wal

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

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

// smallSegments returns test options with the smallest segments, so that a
// few hundred entries span many segment files.
func smallSegments() Options {
	opts := testOptions()
	opts.SegmentSize = MinSegmentSize
	return opts
}

// openTestStore opens a store in dir and closes it when the test ends.
func openTestStore(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestLogStoreConformance(t *testing.T) {
	storagetest.RunLogStore(t, func(t *testing.T) raft.LogStore { return openTestStore(t, t.TempDir(), testOptions()) })
}

func TestLogStoreConformanceSmallSegments(t *testing.T) {
	storagetest.RunLogStore(t, func(t *testing.T) raft.LogStore { return openTestStore(t, t.TempDir(), smallSegments()) })
}

func TestStableStoreConformance(t *testing.T) {
	storagetest.RunStableStore(t, func(t *testing.T) raft.StableStore { return openTestStore(t, t.TempDir(), testOptions()) })
}

// TestLogStoreConformanceAfterReopen runs the suite on stores that are
// closed and reopened around every call, so that each result comes from
// the replay of the segment files.
func TestLogStoreConformanceAfterReopen(t *testing.T) {
	storagetest.RunLogStore(t, func(t *testing.T) raft.LogStore {
		dir := t.TempDir()
		return storagetest.Reopening(func() (raft.LogStore, io.Closer, error) {
			s, err := Open(dir, smallSegments())
			return s, s, err
		})
	})
}

// segmentFiles returns the paths of the segment files in dir, oldest first.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	return paths
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

// checkLog fails the test unless s holds exactly want, read in one call and
// entry by entry, with the terms of want.
func checkLog(t *testing.T, s *Store, want []wire.Entry) {
	t.Helper()
	lo, hi := want[0].Index, want[len(want)-1].Index+1
	got, err := s.Entries(lo, hi, 0)
	if err != nil {
		t.Fatalf("Entries(%d, %d): %v", lo, hi, err)
	}
	checkSameEntries(t, got, want)
	for _, w := range want {
		one, err := s.Entries(w.Index, w.Index+1, 0)
		if err != nil {
			t.Fatalf("Entries(%d, %d): %v", w.Index, w.Index+1, err)
		}
		checkSameEntries(t, one, []wire.Entry{w})
		if term, err := s.Term(w.Index); err != nil || term != w.Term {
			t.Fatalf("Term(%d) = %d, %v; want %d", w.Index, term, err, w.Term)
		}
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

func mustAppend(t testing.TB, s *Store, entries []wire.Entry) {
	t.Helper()
	if err := s.Append(entries); err != nil {
		t.Fatalf("Append(entries %d to %d): %v", entries[0].Index, entries[len(entries)-1].Index, err)
	}
}

func TestReopenKeepsLogAndHardState(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, smallSegments())
	want := append(storagetest.MakeEntries(1, 201, 1), storagetest.MakeEntries(201, 401, 2)...)
	for i := 0; i < len(want); i += 7 {
		mustAppend(t, s, want[i:min(i+7, len(want))])
	}
	if err := s.SetHardState(wire.HardState{Term: 2, Vote: "n3"}); err != nil {
		t.Fatalf("SetHardState: %v", err)
	}
	mustClose(t, s)
	if n := len(segmentFiles(t, dir)); n < 5 {
		t.Fatalf("the log spans %d segment files, want at least 5 for this test", n)
	}

	s = openTestStore(t, dir, smallSegments())
	checkIndexes(t, s, 1, 400)
	checkLog(t, s, want)
	st, err := s.HardState()
	if err != nil || st.Term != 2 || st.Vote != "n3" {
		t.Errorf("HardState after reopen = {term %d, vote %q}, %v; want {term 2, vote \"n3\"}", st.Term, st.Vote, err)
	}
	next := storagetest.MakeEntries(401, 403, 2)
	mustAppend(t, s, next)
	mustClose(t, s)

	s = openTestStore(t, dir, testOptions())
	checkLog(t, s, append(want, next...))
}

func TestReopenAfterPrefixDeletesSegments(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, smallSegments())
	want := storagetest.MakeEntries(1, 401, 1)
	for i := range want {
		want[i].Data = append(want[i].Data, make([]byte, 100)...)
	}
	for i := 0; i < len(want); i += 10 {
		mustAppend(t, s, want[i:i+10])
	}
	before := len(segmentFiles(t, dir))
	if err := s.TruncatePrefix(250); err != nil {
		t.Fatalf("TruncatePrefix(250): %v", err)
	}
	// Each segment holds about 30 entries, so all but one of those that
	// hold entries up to 250 are deleted.
	after := segmentFiles(t, dir)
	if len(after) > before/2 || before < 10 {
		t.Errorf("TruncatePrefix(250) left %d of %d segment files, want at most half of them", len(after), before)
	}
	checkIndexes(t, s, 251, 400)
	mustClose(t, s)

	s = openTestStore(t, dir, smallSegments())
	checkIndexes(t, s, 251, 400)
	checkLog(t, s, want[250:])
	if _, err := s.Entries(250, 252, 0); !errors.Is(err, raft.ErrCompacted) {
		t.Errorf("Entries(250, 252) after reopen = %v, want an error matching raft.ErrCompacted", err)
	}
	mustClose(t, s)

	// The segment files are gone, not only hidden: the remaining ones
	// replay on their own.
	if got := segmentFiles(t, dir); len(got) != len(after) {
		t.Errorf("%d segment files after reopen, want %d", len(got), len(after))
	}
}

func TestReopenAfterPrefixEmptiedLog(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, smallSegments())
	for i := uint64(1); i <= 300; i += 10 {
		mustAppend(t, s, storagetest.MakeEntries(i, i+10, 1))
	}
	if err := s.TruncatePrefix(500); err != nil {
		t.Fatalf("TruncatePrefix(500): %v", err)
	}
	if n := len(segmentFiles(t, dir)); n != 1 {
		t.Errorf("%d segment files after the log was emptied, want only the active one", n)
	}
	mustClose(t, s)

	s = openTestStore(t, dir, smallSegments())
	checkIndexes(t, s, 501, 500)
	if _, err := s.Term(500); !errors.Is(err, raft.ErrCompacted) {
		t.Errorf("Term(500) after reopen = %v, want an error matching raft.ErrCompacted", err)
	}
	if err := s.Append(storagetest.MakeEntries(502, 503, 2)); !errors.Is(err, ErrNotContiguous) {
		t.Errorf("Append(502) after reopen = %v, want an error matching ErrNotContiguous", err)
	}
	next := storagetest.MakeEntries(501, 503, 2)
	mustAppend(t, s, next)
	mustClose(t, s)

	s = openTestStore(t, dir, smallSegments())
	checkIndexes(t, s, 501, 502)
	checkLog(t, s, next)
}

func TestReopenAfterPrefixOfNewStore(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, testOptions())
	if err := s.TruncatePrefix(7); err != nil {
		t.Fatalf("TruncatePrefix(7): %v", err)
	}
	mustClose(t, s)

	s = openTestStore(t, dir, testOptions())
	checkIndexes(t, s, 8, 7)
}

// TestReopenAfterSuffixIntoOlderSegment truncates the log back into an
// older segment and appends a replacement in a newer one, so that replay
// must apply the truncation record before the new entries.
func TestReopenAfterSuffixIntoOlderSegment(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, smallSegments())
	for i := uint64(1); i <= 300; i += 10 {
		mustAppend(t, s, storagetest.MakeEntries(i, i+10, 1))
	}
	if err := s.TruncateSuffix(20); err != nil {
		t.Fatalf("TruncateSuffix(20): %v", err)
	}
	replacement := storagetest.MakeEntries(20, 120, 2)
	for i := 0; i < len(replacement); i += 25 {
		mustAppend(t, s, replacement[i:i+25])
	}
	if err := s.TruncateSuffix(100); err != nil {
		t.Fatalf("TruncateSuffix(100): %v", err)
	}
	third := storagetest.MakeEntries(100, 110, 3)
	mustAppend(t, s, third)
	want := append(append(storagetest.MakeEntries(1, 20, 1), replacement[:80]...), third...)
	checkLog(t, s, want)
	mustClose(t, s)

	s = openTestStore(t, dir, smallSegments())
	checkIndexes(t, s, 1, 109)
	checkLog(t, s, want)

	// Compacting past the old entries deletes the segments that hold only
	// truncated or compacted entries, and replay still works.
	if err := s.TruncatePrefix(60); err != nil {
		t.Fatalf("TruncatePrefix(60): %v", err)
	}
	mustClose(t, s)
	s = openTestStore(t, dir, smallSegments())
	checkIndexes(t, s, 61, 109)
	checkLog(t, s, want[60:])
}

func TestSegmentSizeChangeBetweenOpens(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, testOptions())
	mustAppend(t, s, storagetest.MakeEntries(1, 101, 1))
	mustClose(t, s)

	s = openTestStore(t, dir, smallSegments())
	for i := uint64(101); i <= 400; i += 10 {
		mustAppend(t, s, storagetest.MakeEntries(i, i+10, 1))
	}
	mustClose(t, s)

	s = openTestStore(t, dir, testOptions())
	checkLog(t, s, storagetest.MakeEntries(1, 401, 1))
}

func TestIdentityMismatchRejected(t *testing.T) {
	dir := t.TempDir()
	mustClose(t, openTestStore(t, dir, testOptions()))

	cases := []struct{ cluster, node string }{{"c1", "n2"}, {"c2", "n1"}}
	for _, c := range cases {
		opts := testOptions()
		opts.Cluster, opts.Node = c.cluster, c.node
		s, err := Open(dir, opts)
		if err == nil {
			s.Close()
			t.Fatalf("Open as cluster %q node %q on a directory of c1/n1 succeeded, want an error", c.cluster, c.node)
		}
		if !errors.Is(err, ErrIdentityMismatch) {
			t.Errorf("Open as %s/%s = %v, want an error matching ErrIdentityMismatch", c.cluster, c.node, err)
		}
		for _, want := range []string{`cluster "c1" node "n1"`, `cluster "` + c.cluster + `" node "` + c.node + `"`, dir} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	}
	s := openTestStore(t, dir, testOptions())
	mustAppend(t, s, storagetest.MakeEntries(1, 2, 1))
}

func TestNewerFormatRejected(t *testing.T) {
	t.Run("meta file", func(t *testing.T) {
		dir := t.TempDir()
		mustClose(t, openTestStore(t, dir, testOptions()))
		meta := appendChecksummed(nil, func(b []byte) []byte {
			return append(b, `{"format_version":2,"cluster":"c1","node":"n1"}`...)
		})
		if err := os.WriteFile(filepath.Join(dir, metaFileName), meta, 0o600); err != nil {
			t.Fatal(err)
		}
		checkOpenFails(t, dir, ErrUnsupportedFormat, "format version 2", metaFileName)
	})
	t.Run("segment header", func(t *testing.T) {
		dir := t.TempDir()
		s := openTestStore(t, dir, testOptions())
		mustAppend(t, s, storagetest.MakeEntries(1, 3, 1))
		mustClose(t, s)
		path := segmentFiles(t, dir)[0]
		header := encodeSegmentHeader(segmentHeader{version: FormatVersion + 1, seq: 1})
		writeAt(t, path, header, 0)
		checkOpenFails(t, dir, ErrUnsupportedFormat, "format version 2", path)
	})
}

// checkOpenFails fails the test unless Open(dir) returns an error matching
// target that contains every string in want.
func checkOpenFails(t *testing.T, dir string, target error, want ...string) {
	t.Helper()
	s, err := Open(dir, testOptions())
	if err == nil {
		s.Close()
		t.Fatalf("Open succeeded, want an error matching %v", target)
	}
	if !errors.Is(err, target) {
		t.Errorf("Open = %v, want an error matching %v", err, target)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Open error %q does not contain %q", err, w)
		}
	}
}

// writeAt overwrites the bytes of the file at path at offset with b.
func writeAt(t testing.TB, path string, b []byte, offset int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, offset); err != nil {
		t.Fatal(err)
	}
}

func TestSecondOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, testOptions())
	mustAppend(t, s, storagetest.MakeEntries(1, 3, 1))

	checkOpenFails(t, dir, ErrLocked, "locked", lockFileName)

	// The failed Open changed nothing, and the lock goes with Close.
	mustAppend(t, s, storagetest.MakeEntries(3, 4, 1))
	mustClose(t, s)
	s = openTestStore(t, dir, testOptions())
	checkIndexes(t, s, 1, 3)
}

func TestInvalidOptionsRejected(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want []string
	}{
		{"missing cluster", Options{Node: "n1"}, []string{"Options.Cluster"}},
		{"missing node", Options{Cluster: "c1"}, []string{"Options.Node"}},
		{"segment too small", Options{Cluster: "c1", Node: "n1", SegmentSize: 100},
			[]string{"SegmentSize 100", strconv.Itoa(MinSegmentSize)}},
		{"segment too large", Options{Cluster: "c1", Node: "n1", SegmentSize: 1 << 40},
			[]string{"SegmentSize 1099511627776", strconv.Itoa(MaxSegmentSize)}},
		{"negative segment", Options{Cluster: "c1", Node: "n1", SegmentSize: -1},
			[]string{"SegmentSize -1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wal")
			s, err := Open(dir, c.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error")
			}
			if !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("Open = %v, want an error matching ErrInvalidOptions", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open error %q does not contain %q", err, w)
				}
			}
			if _, statErr := os.Stat(dir); statErr == nil {
				t.Errorf("Open with invalid options created %s", dir)
			}
		})
	}
}

func TestMethodsAfterClose(t *testing.T) {
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustAppend(t, s, storagetest.MakeEntries(1, 3, 1))
	mustClose(t, s)
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
	_, checks["FirstIndex"] = s.FirstIndex()
	_, checks["LastIndex"] = s.LastIndex()
	_, checks["HardState"] = s.HardState()
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want an error matching ErrClosed", name, err)
		}
	}
}

func TestEntriesDataOwnedByCaller(t *testing.T) {
	s := openTestStore(t, t.TempDir(), testOptions())
	want := storagetest.MakeEntries(1, 4, 1)
	mustAppend(t, s, want)
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
	checkSameEntries(t, got[1:2], []wire.Entry{{Index: 2, Term: 1, Type: want[1].Type, Data: append([]byte("X"), want[1].Data[1:]...)}})
}

// TestReadsDuringCompaction reads entries from segments that a concurrent
// TruncatePrefix deletes, which must either succeed with the right data or
// fail with raft.ErrCompacted.
func TestReadsDuringCompaction(t *testing.T) {
	s := openTestStore(t, t.TempDir(), smallSegments())
	mustAppend(t, s, storagetest.MakeEntries(1, 11, 1))

	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				first, _ := s.FirstIndex()
				last, _ := s.LastIndex()
				got, err := s.Entries(first, last+1, 0)
				if errors.Is(err, raft.ErrCompacted) {
					continue
				}
				if err != nil {
					t.Errorf("Entries(%d, %d): %v", first, last+1, err)
					return
				}
				for i, e := range got {
					if want := storagetest.MakeEntries(first+uint64(i), first+uint64(i)+1, 1)[0]; string(e.Data) != string(want.Data) {
						t.Errorf("Entries(%d, %d): entry %d has data %q, want %q", first, last+1, e.Index, e.Data, want.Data)
						return
					}
				}
			}
		})
	}
	for i := uint64(11); i <= 2000; i += 10 {
		if err := s.Append(storagetest.MakeEntries(i, i+10, 1)); err != nil {
			t.Errorf("Append(%d): %v", i, err)
			break
		}
		if err := s.TruncatePrefix(i - 5); err != nil {
			t.Errorf("TruncatePrefix(%d): %v", i-5, err)
			break
		}
	}
	close(done)
	wg.Wait()
	if n := len(segmentFiles(t, s.Dir())); n > 3 {
		t.Errorf("%d segment files after compacting all but the last entries, want at most 3", n)
	}
}
