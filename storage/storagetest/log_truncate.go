package storagetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

func testTruncateSuffix(t *testing.T, s raft.LogStore) {
	mustAppend(t, s, MakeEntries(1, 11, 1))

	if err := s.TruncateSuffix(6); err != nil {
		t.Fatalf("TruncateSuffix(6): %v", err)
	}
	checkBounds(t, s, 1, 5)
	checkTermError(t, s, 6, raft.ErrUnavailable)
	checkEntriesError(t, s, 1, 7, raft.ErrUnavailable)

	replacement := MakeEntries(6, 9, 2)
	mustAppend(t, s, replacement)
	checkBounds(t, s, 1, 8)
	checkEntries(t, s, 1, 9, append(MakeEntries(1, 6, 1), replacement...))

	if err := s.TruncateSuffix(20); err != nil {
		t.Fatalf("TruncateSuffix(20) above the last index: %v", err)
	}
	checkBounds(t, s, 1, 8)

	if err := s.TruncateSuffix(9); err != nil {
		t.Fatalf("TruncateSuffix(9) just above the last index: %v", err)
	}
	checkBounds(t, s, 1, 8)

	if err := s.TruncateSuffix(8); err != nil {
		t.Fatalf("TruncateSuffix(8) at the last index: %v", err)
	}
	checkBounds(t, s, 1, 7)
	checkTermError(t, s, 8, raft.ErrUnavailable)
}

func testTruncateSuffixAll(t *testing.T, s raft.LogStore) {
	mustAppend(t, s, MakeEntries(1, 11, 1))
	if err := s.TruncatePrefix(3); err != nil {
		t.Fatalf("TruncatePrefix(3): %v", err)
	}

	if err := s.TruncateSuffix(4); err != nil {
		t.Fatalf("TruncateSuffix(4) at the first index: %v", err)
	}
	checkBounds(t, s, 4, 3)
	checkTermError(t, s, 4, raft.ErrUnavailable)
	checkTermError(t, s, 3, raft.ErrCompacted)

	if err := s.TruncateSuffix(2); !errors.Is(err, raft.ErrCompacted) {
		t.Errorf("TruncateSuffix(2) below the first index = %v, want an error matching %v", err, raft.ErrCompacted)
	}

	replacement := MakeEntries(4, 7, 3)
	mustAppend(t, s, replacement)
	checkBounds(t, s, 4, 6)
	checkEntries(t, s, 4, 7, replacement)
}

func testTruncatePrefix(t *testing.T, s raft.LogStore) {
	all := MakeEntries(1, 11, 1)
	mustAppend(t, s, all)

	if err := s.TruncatePrefix(4); err != nil {
		t.Fatalf("TruncatePrefix(4): %v", err)
	}
	checkBounds(t, s, 5, 10)
	checkTermError(t, s, 4, raft.ErrCompacted)
	checkTermError(t, s, 1, raft.ErrCompacted)
	checkEntriesError(t, s, 4, 6, raft.ErrCompacted)
	checkEntries(t, s, 5, 11, all[4:])

	// Compacting indexes that are already gone changes nothing.
	if err := s.TruncatePrefix(2); err != nil {
		t.Fatalf("TruncatePrefix(2) below the first index: %v", err)
	}
	checkBounds(t, s, 5, 10)

	next := MakeEntries(11, 13, 2)
	mustAppend(t, s, next)
	checkBounds(t, s, 5, 12)
	checkEntries(t, s, 5, 13, append(all[4:], next...))

	if err := s.TruncatePrefix(12); err != nil {
		t.Fatalf("TruncatePrefix(12) at the last index: %v", err)
	}
	checkBounds(t, s, 13, 12)
	checkTermError(t, s, 12, raft.ErrCompacted)
}

func testTruncatePrefixPastLast(t *testing.T, s raft.LogStore) {
	mustAppend(t, s, MakeEntries(1, 6, 1))

	if err := s.TruncatePrefix(9); err != nil {
		t.Fatalf("TruncatePrefix(9) above the last index: %v", err)
	}
	checkBounds(t, s, 10, 9)
	checkTermError(t, s, 9, raft.ErrCompacted)
	checkTermError(t, s, 10, raft.ErrUnavailable)

	if err := s.Append(MakeEntries(6, 8, 1)); err == nil {
		t.Errorf("Append(entries 6 to 7) after TruncatePrefix(9) succeeded, want an error")
	}
	if err := s.Append(MakeEntries(11, 12, 2)); err == nil {
		t.Errorf("Append(entry 11) after TruncatePrefix(9) succeeded, want an error for the gap at 10")
	}
	checkBounds(t, s, 10, 9)

	next := MakeEntries(10, 13, 2)
	mustAppend(t, s, next)
	checkBounds(t, s, 10, 12)
	checkEntries(t, s, 10, 13, next)
}

func testTruncatePrefixNewStore(t *testing.T, s raft.LogStore) {
	if err := s.TruncatePrefix(7); err != nil {
		t.Fatalf("TruncatePrefix(7) on a new store: %v", err)
	}
	checkBounds(t, s, 8, 7)

	if err := s.Append(MakeEntries(1, 3, 1)); err == nil {
		t.Errorf("Append(entries 1 to 2) after TruncatePrefix(7) succeeded, want an error")
	}
	next := MakeEntries(8, 10, 4)
	mustAppend(t, s, next)
	checkBounds(t, s, 8, 9)
	checkEntries(t, s, 8, 10, next)
}

// checkAppendRejected fails the test unless Append(entries) returns an error
// and leaves the store holding exactly want.
func checkAppendRejected(t *testing.T, s raft.LogStore, entries, want []wire.Entry) {
	t.Helper()
	if err := s.Append(entries); err == nil {
		t.Fatalf("Append(entries %d to %d) succeeded, want an error", entries[0].Index, entries[len(entries)-1].Index)
	}
	checkBounds(t, s, want[0].Index, want[len(want)-1].Index)
	checkEntries(t, s, want[0].Index, want[len(want)-1].Index+1, want)
}

func testGapRejected(t *testing.T, s raft.LogStore) {
	want := MakeEntries(1, 6, 1)
	mustAppend(t, s, want)

	checkAppendRejected(t, s, MakeEntries(7, 9, 1), want)
	checkAppendRejected(t, s, MakeEntries(100, 101, 1), want)
}

func testOverlapRejected(t *testing.T, s raft.LogStore) {
	want := MakeEntries(1, 6, 1)
	mustAppend(t, s, want)

	checkAppendRejected(t, s, MakeEntries(5, 8, 2), want)
	checkAppendRejected(t, s, MakeEntries(1, 3, 2), want)
	checkAppendRejected(t, s, MakeEntries(3, 4, 1), want)
}

func testUnorderedBatchRejected(t *testing.T, s raft.LogStore) {
	want := MakeEntries(1, 4, 1)
	mustAppend(t, s, want)

	withGap := MakeEntries(4, 8, 1)
	withGap[2].Index = 9
	checkAppendRejected(t, s, withGap, want)

	repeated := MakeEntries(4, 8, 1)
	repeated[1].Index = 4
	checkAppendRejected(t, s, repeated, want)

	if err := s.Append(MakeEntries(0, 2, 1)); err == nil {
		t.Errorf("Append(entries 0 to 1) succeeded, want an error because index 0 is invalid")
	}
}

func testLargeBatch(t *testing.T, s raft.LogStore) {
	const count = 20000
	all := MakeEntries(1, count+1, 7)
	for i := range all {
		all[i].Data = append(all[i].Data, make([]byte, 200)...)
	}
	mustAppend(t, s, all[:count/2])
	mustAppend(t, s, all[count/2:])
	checkBounds(t, s, 1, count)

	// Read the whole log back in pages of at most 64 KiB.
	const pageBytes = 64 << 10
	var read []wire.Entry
	for next := uint64(1); next <= count; {
		page, err := s.Entries(next, count+1, pageBytes)
		if err != nil {
			t.Fatalf("Entries(%d, %d, %d): %v", next, count+1, pageBytes, err)
		}
		if len(page) == 0 {
			t.Fatalf("Entries(%d, %d, %d) returned no entries, want at least one", next, count+1, pageBytes)
		}
		if size := totalSize(page); len(page) > 1 && size > pageBytes {
			t.Fatalf("Entries(%d, %d, %d) returned %d entries of %d bytes, above the limit",
				next, count+1, pageBytes, len(page), size)
		}
		read = append(read, page...)
		next += uint64(len(page))
	}
	compareEntries(t, "paged Entries", read, all)
}

func totalSize(entries []wire.Entry) int {
	total := 0
	for i := range entries {
		total += entries[i].Size()
	}
	return total
}

func testReturnedSliceOwned(t *testing.T, s raft.LogStore) {
	all := MakeEntries(1, 6, 1)
	mustAppend(t, s, all)

	got, err := s.Entries(1, 4, 0)
	if err != nil {
		t.Fatalf("Entries(1, 4, 0): %v", err)
	}
	// Appending to a prefix of the result, or to the whole result, must not
	// write into the store's own entries.
	_ = append(got[:1], wire.Entry{Index: 99, Term: 99})
	_ = append(got, wire.Entry{Index: 98, Term: 98})
	got[2].Index, got[2].Term = 97, 97
	checkEntries(t, s, 1, 6, all)
}

func testConcurrentReads(t *testing.T, s raft.LogStore) {
	mustAppend(t, s, MakeEntries(1, 2, 1))

	const last = 500
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				readConsistently(t, s)
			}
		})
	}
	for i := uint64(2); i <= last; i++ {
		if err := s.Append(MakeEntries(i, i+1, 1)); err != nil {
			t.Errorf("Append(entry %d): %v", i, err)
			break
		}
		if i%100 == 0 {
			if err := s.TruncatePrefix(i - 50); err != nil {
				t.Errorf("TruncatePrefix(%d): %v", i-50, err)
				break
			}
		}
	}
	close(done)
	wg.Wait()
}

// readConsistently reads the log while another goroutine appends and
// compacts it. A read may race with compaction and fail with ErrCompacted,
// but whatever it returns must be correct.
func readConsistently(t *testing.T, s raft.LogStore) {
	last, err := s.LastIndex()
	if err != nil {
		t.Errorf("LastIndex: %v", err)
		return
	}
	first, err := s.FirstIndex()
	if err != nil {
		t.Errorf("FirstIndex: %v", err)
		return
	}
	if first > last {
		return
	}
	got, err := s.Entries(first, last+1, 0)
	if errors.Is(err, raft.ErrCompacted) {
		return
	}
	if err != nil {
		t.Errorf("Entries(%d, %d, 0): %v", first, last+1, err)
		return
	}
	for i, e := range got {
		if e.Index != first+uint64(i) {
			t.Errorf("Entries(%d, %d, 0): entry %d has index %d, want %d", first, last+1, i, e.Index, first+uint64(i))
			return
		}
	}
	if _, err := s.Term(last); err != nil && !errors.Is(err, raft.ErrCompacted) {
		t.Errorf("Term(%d): %v", last, err)
	}
}
