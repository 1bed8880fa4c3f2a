package storagetest

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// RunSnapshotStore runs the SnapshotStore conformance tests. newStore must
// return a new, empty store for each call.
func RunSnapshotStore(t *testing.T, newStore func(t *testing.T) raft.SnapshotStore) {
	t.Run("empty store", func(t *testing.T) { testEmptySnapshots(t, newStore(t)) })
	t.Run("create close open", func(t *testing.T) { testCreateCloseOpen(t, newStore(t)) })
	t.Run("invisible before close", func(t *testing.T) { testInvisibleBeforeClose(t, newStore(t)) })
	t.Run("cancel keeps previous", func(t *testing.T) { testCancelKeepsPrevious(t, newStore(t)) })
	t.Run("newer replaces older", func(t *testing.T) { testNewerReplacesOlder(t, newStore(t)) })
	t.Run("open reader outlives replace", func(t *testing.T) { testReaderOutlivesReplace(t, newStore(t)) })
	t.Run("cancel after close", func(t *testing.T) { testCancelAfterClose(t, newStore(t)) })
	t.Run("write after close fails", func(t *testing.T) { testWriteAfterClose(t, newStore(t)) })
	t.Run("empty snapshot", func(t *testing.T) { testEmptySnapshot(t, newStore(t)) })
	t.Run("large snapshot", func(t *testing.T) { testLargeSnapshot(t, newStore(t)) })
	t.Run("metadata not shared", func(t *testing.T) { testMetaNotShared(t, newStore(t)) })
}

func snapshotMeta(index, term uint64, voters ...string) raft.SnapshotMeta {
	return raft.SnapshotMeta{Index: index, Term: term, Configuration: wire.Configuration{Voters: voters}}
}

func snapshotData(index uint64, size int) []byte {
	data := make([]byte, 0, size)
	for len(data) < size {
		data = fmt.Appendf(data, "snapshot %d byte %d;", index, len(data))
	}
	return data[:size]
}

// writeSnapshot creates a snapshot with meta and data, writing data in
// pieces of at most chunk bytes, and returns the open sink.
func writeSnapshot(t *testing.T, s raft.SnapshotStore, meta raft.SnapshotMeta, data []byte, chunk int) raft.SnapshotSink {
	t.Helper()
	sink, err := s.Create(meta)
	if err != nil {
		t.Fatalf("Create(index %d): %v", meta.Index, err)
	}
	for rest := data; len(rest) > 0; {
		n := min(chunk, len(rest))
		written, err := sink.Write(rest[:n])
		if err != nil || written != n {
			t.Fatalf("Write of %d bytes to snapshot %d = %d, %v", n, meta.Index, written, err)
		}
		rest = rest[n:]
	}
	return sink
}

func mustSaveSnapshot(t *testing.T, s raft.SnapshotStore, meta raft.SnapshotMeta, data []byte) {
	t.Helper()
	sink := writeSnapshot(t, s, meta, data, 1000)
	if err := sink.Close(); err != nil {
		t.Fatalf("Close of snapshot %d: %v", meta.Index, err)
	}
}

func checkMeta(t *testing.T, call string, got, want raft.SnapshotMeta, size int) {
	t.Helper()
	if got.Index != want.Index || got.Term != want.Term || got.Size != int64(size) ||
		!slices.Equal(got.Configuration.Voters, want.Configuration.Voters) {
		t.Errorf("%s = {index %d, term %d, voters %q, size %d}, want {index %d, term %d, voters %q, size %d}",
			call, got.Index, got.Term, got.Configuration.Voters, got.Size,
			want.Index, want.Term, want.Configuration.Voters, size)
	}
}

// checkLatest fails the test unless the store's latest snapshot has meta
// want and contents data, through both Latest and Open.
func checkLatest(t *testing.T, s raft.SnapshotStore, want raft.SnapshotMeta, data []byte) {
	t.Helper()
	meta, ok, err := s.Latest()
	if err != nil || !ok {
		t.Fatalf("Latest = ok %v, %v; want snapshot %d", ok, err, want.Index)
	}
	checkMeta(t, "Latest", meta, want, len(data))

	meta, r, err := s.Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	checkMeta(t, "Open", meta, want, len(data))
	checkReader(t, r, data)
}

func checkReader(t *testing.T, r io.ReadCloser, want []byte) {
	t.Helper()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the snapshot: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("closing the snapshot reader: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("snapshot contents: read %d bytes, want %d bytes; equal prefix %d bytes",
			len(got), len(want), commonPrefix(got, want))
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func checkNoSnapshot(t *testing.T, s raft.SnapshotStore) {
	t.Helper()
	meta, ok, err := s.Latest()
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if ok {
		t.Errorf("Latest = snapshot %d, want none", meta.Index)
	}
	if _, r, err := s.Open(); err == nil {
		r.Close()
		t.Errorf("Open with no snapshot succeeded, want an error")
	}
}

func testEmptySnapshots(t *testing.T, s raft.SnapshotStore) {
	checkNoSnapshot(t, s)
}

func testCreateCloseOpen(t *testing.T, s raft.SnapshotStore) {
	meta := snapshotMeta(10, 2, "n1", "n2", "n3")
	data := snapshotData(10, 5000)
	mustSaveSnapshot(t, s, meta, data)
	checkLatest(t, s, meta, data)
}

func testInvisibleBeforeClose(t *testing.T, s raft.SnapshotStore) {
	meta := snapshotMeta(10, 2, "n1")
	data := snapshotData(10, 3000)
	sink := writeSnapshot(t, s, meta, data, 700)
	checkNoSnapshot(t, s)

	if err := sink.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkLatest(t, s, meta, data)
}

func testCancelKeepsPrevious(t *testing.T, s raft.SnapshotStore) {
	first := snapshotMeta(10, 2, "n1", "n2", "n3")
	firstData := snapshotData(10, 2000)
	mustSaveSnapshot(t, s, first, firstData)

	sink := writeSnapshot(t, s, snapshotMeta(20, 3, "n1", "n2"), snapshotData(20, 4000), 1000)
	if err := sink.Cancel(); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	checkLatest(t, s, first, firstData)
}

func testNewerReplacesOlder(t *testing.T, s raft.SnapshotStore) {
	mustSaveSnapshot(t, s, snapshotMeta(10, 2, "n1", "n2", "n3"), snapshotData(10, 2000))

	second := snapshotMeta(20, 3, "n1", "n2")
	secondData := snapshotData(20, 1500)
	mustSaveSnapshot(t, s, second, secondData)
	checkLatest(t, s, second, secondData)
}

func testReaderOutlivesReplace(t *testing.T, s raft.SnapshotStore) {
	firstData := snapshotData(10, 8000)
	mustSaveSnapshot(t, s, snapshotMeta(10, 2, "n1"), firstData)

	_, r, err := s.Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	head := make([]byte, 100)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatalf("reading the first 100 bytes: %v", err)
	}

	mustSaveSnapshot(t, s, snapshotMeta(20, 3, "n1"), snapshotData(20, 8000))

	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the older snapshot after a newer one was saved: %v", err)
	}
	r.Close()
	if got := append(head, rest...); !bytes.Equal(got, firstData) {
		t.Errorf("older snapshot read after replace: %d bytes, want %d; equal prefix %d bytes",
			len(got), len(firstData), commonPrefix(got, firstData))
	}
}

func testCancelAfterClose(t *testing.T, s raft.SnapshotStore) {
	meta := snapshotMeta(10, 2, "n1")
	data := snapshotData(10, 100)
	sink := writeSnapshot(t, s, meta, data, 100)
	if err := sink.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := sink.Cancel(); err != nil {
		t.Errorf("Cancel after Close = %v, want nil so that a deferred Cancel is harmless", err)
	}
	checkLatest(t, s, meta, data)
}

func testWriteAfterClose(t *testing.T, s raft.SnapshotStore) {
	meta := snapshotMeta(10, 2, "n1")
	data := snapshotData(10, 100)
	sink := writeSnapshot(t, s, meta, data, 100)
	if err := sink.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := sink.Write([]byte("late")); err == nil {
		t.Errorf("Write after Close succeeded, want an error")
	}
	if err := sink.Close(); err == nil {
		t.Errorf("second Close succeeded, want an error")
	}
	checkLatest(t, s, meta, data)

	cancelled := writeSnapshot(t, s, snapshotMeta(20, 3, "n1"), data, 100)
	if err := cancelled.Cancel(); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if _, err := cancelled.Write([]byte("late")); err == nil {
		t.Errorf("Write after Cancel succeeded, want an error")
	}
	if err := cancelled.Close(); err == nil {
		t.Errorf("Close after Cancel succeeded, want an error")
	}
	checkLatest(t, s, meta, data)
}

func testEmptySnapshot(t *testing.T, s raft.SnapshotStore) {
	meta := snapshotMeta(3, 1, "n1")
	mustSaveSnapshot(t, s, meta, nil)
	checkLatest(t, s, meta, nil)
}

func testLargeSnapshot(t *testing.T, s raft.SnapshotStore) {
	meta := snapshotMeta(100000, 9, "n1", "n2", "n3", "n4", "n5")
	data := snapshotData(100000, 8<<20)
	sink := writeSnapshot(t, s, meta, data, 64<<10)
	if err := sink.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkLatest(t, s, meta, data)
}

func testMetaNotShared(t *testing.T, s raft.SnapshotStore) {
	voters := []string{"n1", "n2", "n3"}
	data := snapshotData(10, 100)
	mustSaveSnapshot(t, s, snapshotMeta(10, 2, voters...), data)
	voters[0] = "changed by the caller"

	latest, _, err := s.Latest()
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if len(latest.Configuration.Voters) > 0 {
		latest.Configuration.Voters[0] = "changed by a reader"
	}
	checkLatest(t, s, snapshotMeta(10, 2, "n1", "n2", "n3"), data)
}
