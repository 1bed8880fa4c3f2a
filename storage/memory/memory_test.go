package memory

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/storage/storagetest"
)

func TestLogStoreConformance(t *testing.T) {
	storagetest.RunLogStore(t, func(*testing.T) raft.LogStore { return NewLogStore() })
}

func TestStableStoreConformance(t *testing.T) {
	storagetest.RunStableStore(t, func(*testing.T) raft.StableStore { return NewStableStore() })
}

func TestSnapshotStoreConformance(t *testing.T) {
	storagetest.RunSnapshotStore(t, func(*testing.T) raft.SnapshotStore { return NewSnapshotStore() })
}

func TestAppendGapErrorNamesIndexes(t *testing.T) {
	s := NewLogStore()
	if err := s.Append(storagetest.MakeEntries(1, 6, 1)); err != nil {
		t.Fatalf("Append: %v", err)
	}

	err := s.Append(storagetest.MakeEntries(8, 10, 1))
	if !errors.Is(err, ErrNotContiguous) {
		t.Fatalf("Append(entries 8 to 9) = %v, want an error matching ErrNotContiguous", err)
	}
	for _, want := range []string{"8 to 9", "next index is 6"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	batch := storagetest.MakeEntries(6, 9, 1)
	batch[1].Index = 8
	err = s.Append(batch)
	if !errors.Is(err, ErrNotContiguous) {
		t.Fatalf("Append(6, 8, 8) = %v, want an error matching ErrNotContiguous", err)
	}
	if !strings.Contains(err.Error(), "index 8, expected 7") {
		t.Errorf("error %q does not name the wrong index and the expected one", err)
	}
}

func TestOpenWithoutSnapshot(t *testing.T) {
	_, _, err := NewSnapshotStore().Open()
	if !errors.Is(err, ErrNoSnapshot) {
		t.Errorf("Open = %v, want ErrNoSnapshot", err)
	}
}

func TestSinkErrorsAfterClose(t *testing.T) {
	sink, err := NewSnapshotStore().Create(raft.SnapshotMeta{Index: 4, Term: 1})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := sink.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := sink.Write([]byte("x")); !errors.Is(err, ErrSinkClosed) {
		t.Errorf("Write after Close = %v, want ErrSinkClosed", err)
	}
	if err := sink.Close(); !errors.Is(err, ErrSinkClosed) {
		t.Errorf("second Close = %v, want ErrSinkClosed", err)
	}
}

// TestStoreSurvivesRestart checks that the stores of a Store keep what was
// written when a new user picks them up, as a restarted node would.
func TestStoreSurvivesRestart(t *testing.T) {
	store := NewStore()
	if err := store.Log.Append(storagetest.MakeEntries(1, 4, 2)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := store.Stable.SetHardState(wire.HardState{Term: 2, Vote: "n1"}); err != nil {
		t.Fatalf("SetHardState: %v", err)
	}
	sink, err := store.Snapshots.Create(raft.SnapshotMeta{Index: 2, Term: 2})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := sink.Write([]byte("state")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := sink.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	var log raft.LogStore = store.Log
	var stable raft.StableStore = store.Stable
	var snapshots raft.SnapshotStore = store.Snapshots

	if last, _ := log.LastIndex(); last != 3 {
		t.Errorf("LastIndex after restart = %d, want 3", last)
	}
	if st, _ := stable.HardState(); st.Term != 2 || st.Vote != "n1" {
		t.Errorf("HardState after restart = {term %d, vote %q}, want {term 2, vote \"n1\"}", st.Term, st.Vote)
	}
	if meta, ok, _ := snapshots.Latest(); !ok || meta.Index != 2 || meta.Size != 5 {
		t.Errorf("Latest after restart = {index %d, size %d}, ok %v; want {index 2, size 5}, ok true", meta.Index, meta.Size, ok)
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := NewLogStore()
			data := make([]byte, 128)
			entries := make([]wire.Entry, batch)
			next := uint64(1)
			b.SetBytes(int64(batch * len(data)))
			for b.Loop() {
				for i := range entries {
					entries[i] = wire.Entry{Index: next, Term: 1, Data: data}
					next++
				}
				if err := s.Append(entries); err != nil {
					b.Fatal(err)
				}
				// Keep memory bounded, as snapshots do for a real node.
				if next%(1<<16) < uint64(batch) {
					if err := s.TruncatePrefix(next - 1024); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func BenchmarkEntries(b *testing.B) {
	s := NewLogStore()
	const count = 10000
	if err := s.Append(storagetest.MakeEntries(1, count+1, 1)); err != nil {
		b.Fatal(err)
	}
	for _, maxBytes := range []int{0, 64 << 10} {
		b.Run(fmt.Sprintf("maxBytes=%d", maxBytes), func(b *testing.B) {
			lo := uint64(1)
			for b.Loop() {
				if _, err := s.Entries(lo, min(lo+256, count+1), maxBytes); err != nil {
					b.Fatal(err)
				}
				lo = lo%(count-256) + 1
			}
		})
	}
}
