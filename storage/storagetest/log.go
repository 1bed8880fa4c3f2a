package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// RunLogStore runs the LogStore conformance tests. newStore must return a
// new, empty store for each call; the suite does not close it, so newStore
// should register any cleanup with t.Cleanup.
func RunLogStore(t *testing.T, newStore func(t *testing.T) raft.LogStore) {
	t.Run("empty store", func(t *testing.T) { testEmptyLog(t, newStore(t)) })
	t.Run("append and read back", func(t *testing.T) { testAppendReadBack(t, newStore(t)) })
	t.Run("append in batches", func(t *testing.T) { testAppendBatches(t, newStore(t)) })
	t.Run("empty append", func(t *testing.T) { testEmptyAppend(t, newStore(t)) })
	t.Run("first append sets first index", func(t *testing.T) { testFirstAppendSetsFirst(t, newStore(t)) })
	t.Run("term lookup", func(t *testing.T) { testTermLookup(t, newStore(t)) })
	t.Run("entries ranges", func(t *testing.T) { testEntriesRanges(t, newStore(t)) })
	t.Run("max bytes", func(t *testing.T) { testMaxBytes(t, newStore(t)) })
	t.Run("truncate suffix", func(t *testing.T) { testTruncateSuffix(t, newStore(t)) })
	t.Run("truncate suffix to empty", func(t *testing.T) { testTruncateSuffixAll(t, newStore(t)) })
	t.Run("truncate prefix", func(t *testing.T) { testTruncatePrefix(t, newStore(t)) })
	t.Run("truncate prefix past last", func(t *testing.T) { testTruncatePrefixPastLast(t, newStore(t)) })
	t.Run("truncate prefix of new store", func(t *testing.T) { testTruncatePrefixNewStore(t, newStore(t)) })
	t.Run("gap rejected", func(t *testing.T) { testGapRejected(t, newStore(t)) })
	t.Run("overlap rejected", func(t *testing.T) { testOverlapRejected(t, newStore(t)) })
	t.Run("unordered batch rejected", func(t *testing.T) { testUnorderedBatchRejected(t, newStore(t)) })
	t.Run("large batch", func(t *testing.T) { testLargeBatch(t, newStore(t)) })
	t.Run("returned slice is the caller's", func(t *testing.T) { testReturnedSliceOwned(t, newStore(t)) })
	t.Run("concurrent reads", func(t *testing.T) { testConcurrentReads(t, newStore(t)) })
}

// MakeEntries returns command entries with indexes lo to hi-1, all in term
// term, each with distinct Data.
func MakeEntries(lo, hi, term uint64) []wire.Entry {
	out := make([]wire.Entry, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, wire.Entry{
			Index: i,
			Term:  term,
			Type:  wire.EntryTypeCommand,
			Data:  fmt.Appendf(nil, "command %d of term %d", i, term),
		})
	}
	return out
}

func mustAppend(t *testing.T, s raft.LogStore, entries []wire.Entry) {
	t.Helper()
	if err := s.Append(entries); err != nil {
		t.Fatalf("Append(entries %d to %d): %v", entries[0].Index, entries[len(entries)-1].Index, err)
	}
}

// checkBounds fails the test unless the store's first and last indexes are
// first and last.
func checkBounds(t *testing.T, s raft.LogStore, first, last uint64) {
	t.Helper()
	gotFirst, err := s.FirstIndex()
	if err != nil {
		t.Fatalf("FirstIndex: %v", err)
	}
	if gotFirst != first {
		t.Errorf("FirstIndex = %d, want %d", gotFirst, first)
	}
	gotLast, err := s.LastIndex()
	if err != nil {
		t.Fatalf("LastIndex: %v", err)
	}
	if gotLast != last {
		t.Errorf("LastIndex = %d, want %d", gotLast, last)
	}
}

// checkEntries fails the test unless Entries(lo, hi, 0) returns want.
func checkEntries(t *testing.T, s raft.LogStore, lo, hi uint64, want []wire.Entry) {
	t.Helper()
	got, err := s.Entries(lo, hi, 0)
	if err != nil {
		t.Fatalf("Entries(%d, %d, 0): %v", lo, hi, err)
	}
	compareEntries(t, fmt.Sprintf("Entries(%d, %d, 0)", lo, hi), got, want)
}

func compareEntries(t *testing.T, call string, got, want []wire.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s returned %d entries, want %d", call, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Index != w.Index || g.Term != w.Term || g.Type != w.Type || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("%s: entry %d = {index %d, term %d, type %v, data %q}, want {index %d, term %d, type %v, data %q}",
				call, i, g.Index, g.Term, g.Type, g.Data, w.Index, w.Term, w.Type, w.Data)
		}
	}
}

// checkTermError fails the test unless Term(index) returns an error matching
// target.
func checkTermError(t *testing.T, s raft.LogStore, index uint64, target error) {
	t.Helper()
	term, err := s.Term(index)
	if !errors.Is(err, target) {
		t.Errorf("Term(%d) = %d, %v; want an error matching %v", index, term, err, target)
	}
}

// checkEntriesError fails the test unless Entries(lo, hi, 0) returns an error
// matching target.
func checkEntriesError(t *testing.T, s raft.LogStore, lo, hi uint64, target error) {
	t.Helper()
	got, err := s.Entries(lo, hi, 0)
	if !errors.Is(err, target) {
		t.Errorf("Entries(%d, %d, 0) = %d entries, %v; want an error matching %v", lo, hi, len(got), err, target)
	}
}

func testEmptyLog(t *testing.T, s raft.LogStore) {
	checkBounds(t, s, 0, 0)
	got, err := s.Entries(1, 1, 0)
	if err != nil || len(got) != 0 {
		t.Errorf("Entries(1, 1, 0) on an empty store = %d entries, %v; want none and no error", len(got), err)
	}
	checkEntriesError(t, s, 1, 2, raft.ErrUnavailable)
	checkTermError(t, s, 1, raft.ErrUnavailable)
}

func testAppendReadBack(t *testing.T, s raft.LogStore) {
	want := MakeEntries(1, 11, 1)
	want[3].Type = wire.EntryTypeNoop
	want[3].Data = nil
	want[7].Type = wire.EntryTypeConfig
	mustAppend(t, s, want)

	checkBounds(t, s, 1, 10)
	checkEntries(t, s, 1, 11, want)
}

func testAppendBatches(t *testing.T, s raft.LogStore) {
	mustAppend(t, s, MakeEntries(1, 6, 1))
	mustAppend(t, s, MakeEntries(6, 7, 1))
	mustAppend(t, s, MakeEntries(7, 21, 2))

	checkBounds(t, s, 1, 20)
	want := append(MakeEntries(1, 7, 1), MakeEntries(7, 21, 2)...)
	checkEntries(t, s, 1, 21, want)
}

func testEmptyAppend(t *testing.T, s raft.LogStore) {
	if err := s.Append(nil); err != nil {
		t.Fatalf("Append(nil) on an empty store: %v", err)
	}
	checkBounds(t, s, 0, 0)

	mustAppend(t, s, MakeEntries(1, 4, 1))
	if err := s.Append([]wire.Entry{}); err != nil {
		t.Fatalf("Append of no entries: %v", err)
	}
	checkBounds(t, s, 1, 3)
}

func testFirstAppendSetsFirst(t *testing.T, s raft.LogStore) {
	want := MakeEntries(5, 8, 3)
	mustAppend(t, s, want)

	checkBounds(t, s, 5, 7)
	checkEntries(t, s, 5, 8, want)
	checkTermError(t, s, 4, raft.ErrCompacted)
	checkEntriesError(t, s, 4, 8, raft.ErrCompacted)
}

func testTermLookup(t *testing.T, s raft.LogStore) {
	mustAppend(t, s, MakeEntries(1, 4, 1))
	mustAppend(t, s, MakeEntries(4, 5, 2))
	mustAppend(t, s, MakeEntries(5, 9, 5))

	wantTerms := map[uint64]uint64{1: 1, 2: 1, 3: 1, 4: 2, 5: 5, 6: 5, 7: 5, 8: 5}
	for index := uint64(1); index <= 8; index++ {
		term, err := s.Term(index)
		if err != nil {
			t.Errorf("Term(%d): %v", index, err)
			continue
		}
		if term != wantTerms[index] {
			t.Errorf("Term(%d) = %d, want %d", index, term, wantTerms[index])
		}
	}
	checkTermError(t, s, 0, raft.ErrCompacted)
	checkTermError(t, s, 9, raft.ErrUnavailable)
	checkTermError(t, s, 1000, raft.ErrUnavailable)
}

func testEntriesRanges(t *testing.T, s raft.LogStore) {
	all := MakeEntries(1, 21, 1)
	mustAppend(t, s, all)

	checkEntries(t, s, 1, 2, all[0:1])
	checkEntries(t, s, 5, 10, all[4:9])
	checkEntries(t, s, 20, 21, all[19:20])
	checkEntries(t, s, 1, 21, all)

	for _, lo := range []uint64{1, 10, 21} {
		got, err := s.Entries(lo, lo, 0)
		if err != nil || len(got) != 0 {
			t.Errorf("Entries(%d, %d, 0) = %d entries, %v; want none and no error", lo, lo, len(got), err)
		}
	}

	checkEntriesError(t, s, 0, 5, raft.ErrCompacted)
	checkEntriesError(t, s, 10, 22, raft.ErrUnavailable)
	checkEntriesError(t, s, 21, 22, raft.ErrUnavailable)
	checkEntriesError(t, s, 30, 40, raft.ErrUnavailable)

	if got, err := s.Entries(10, 5, 0); err == nil {
		t.Errorf("Entries(10, 5, 0) = %d entries and no error; want an error for lo above hi", len(got))
	}

	if err := s.TruncatePrefix(10); err != nil {
		t.Fatalf("TruncatePrefix(10): %v", err)
	}
	checkEntriesError(t, s, 5, 15, raft.ErrCompacted)
	checkEntriesError(t, s, 10, 11, raft.ErrCompacted)
	checkEntries(t, s, 11, 21, all[10:20])
}

func testMaxBytes(t *testing.T, s raft.LogStore) {
	all := MakeEntries(1, 11, 1)
	// Make the sizes differ, so that an off-by-one in the sum shows.
	for i := range all {
		all[i].Data = bytes.Repeat([]byte{byte('a' + i)}, 10+i*7)
	}
	mustAppend(t, s, all)

	sumSize := func(n int) int {
		total := 0
		for i := range n {
			total += all[i].Size()
		}
		return total
	}
	cases := []struct {
		name     string
		maxBytes int
		want     int
	}{
		{"no limit", 0, 10},
		{"limit of 1 byte", 1, 1},
		{"limit below first entry", all[0].Size() - 1, 1},
		{"limit of exactly first entry", all[0].Size(), 1},
		{"limit of exactly 3 entries", sumSize(3), 3},
		{"limit just below 4 entries", sumSize(4) - 1, 3},
		{"limit of exactly all entries", sumSize(10), 10},
		{"limit above all entries", sumSize(10) + 1000, 10},
	}
	for _, c := range cases {
		got, err := s.Entries(1, 11, c.maxBytes)
		if err != nil {
			t.Fatalf("%s: Entries(1, 11, %d): %v", c.name, c.maxBytes, err)
		}
		compareEntries(t, fmt.Sprintf("%s: Entries(1, 11, %d)", c.name, c.maxBytes), got, all[:c.want])
	}

	got, err := s.Entries(4, 8, sumSize(6)-sumSize(3))
	if err != nil {
		t.Fatalf("Entries(4, 8, size of entries 4 to 6): %v", err)
	}
	compareEntries(t, "Entries(4, 8, size of entries 4 to 6)", got, all[3:6])
}
