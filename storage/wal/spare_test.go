package wal

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/storage/storagetest"
)

// waitSpareReady waits until the store's spare segment has been prepared.
func waitSpareReady(t *testing.T, s *Store) {
	t.Helper()
	s.writeMu.Lock()
	sp := s.spare
	s.writeMu.Unlock()
	if sp == nil {
		t.Fatal("no spare segment is being prepared")
	}
	select {
	case <-sp.done:
		if sp.err != nil {
			t.Fatalf("prepare spare: %v", sp.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("spare segment not ready after 10s")
	}
}

// TestRotationUsesSpare checks that once the active segment is half full
// the next segment is prepared under spareName, and that the rotation makes
// that very file the new segment.
func TestRotationUsesSpare(t *testing.T) {
	dir := t.TempDir()
	opts := smallSegments()
	s := openTestStore(t, dir, opts)
	spare := filepath.Join(dir, spareName)

	// Entries of about 100 bytes each: a 4 KiB segment is half full after
	// about 20 of them.
	var all []wire.Entry
	next := uint64(1)
	for {
		if _, err := os.Stat(spare); err == nil {
			break
		}
		if next > 40 {
			t.Fatalf("no %s after %d entries in %d-byte segments", spareName, next-1, opts.SegmentSize)
		}
		batch := storagetest.MakeEntries(next, next+1, 1)
		mustAppend(t, s, batch)
		all = append(all, batch...)
		next++
	}
	waitSpareReady(t, s)
	prepared, err := os.Stat(spare)
	if err != nil {
		t.Fatal(err)
	}
	if prepared.Size() != opts.SegmentSize {
		t.Errorf("%s has %d bytes, want %d", spareName, prepared.Size(), opts.SegmentSize)
	}

	before := len(segmentFiles(t, dir))
	for len(segmentFiles(t, dir)) == before {
		batch := storagetest.MakeEntries(next, next+1, 1)
		mustAppend(t, s, batch)
		all = append(all, batch...)
		next++
	}
	files := segmentFiles(t, dir)
	newest, err := os.Stat(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(prepared, newest) {
		t.Errorf("the new segment %s is not the prepared spare", files[len(files)-1])
	}
	if _, err := os.Stat(spare); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still exists after the rotation: %v", spareName, err)
	}

	mustClose(t, s)
	s = openTestStore(t, dir, opts)
	checkLog(t, s, all)
}

// TestCloseDiscardsSpare checks that Close deletes a spare segment, ready
// or not, and that Open deletes one left by a process that stopped.
func TestCloseDiscardsSpare(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	s := openTestStore(t, dir, opts)
	s.writeMu.Lock()
	s.spare = prepareSpare(dir, opts.SegmentSize)
	s.writeMu.Unlock()
	mustClose(t, s)
	if _, err := os.Stat(filepath.Join(dir, spareName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s exists after Close: %v", spareName, err)
	}

	// A leftover of a killed process.
	if err := os.WriteFile(filepath.Join(dir, spareName), make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, opts)
	if _, err := os.Stat(filepath.Join(dir, spareName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s exists after Open: %v", spareName, err)
	}
	mustClose(t, s)
}

// TestNoSyncSkipsSpare checks that a store without syncs neither fills
// segments with zeros nor prepares spares: both only make syncs cheaper.
func TestNoSyncSkipsSpare(t *testing.T) {
	dir := t.TempDir()
	opts := smallSegments()
	opts.NoSync = true
	s := openTestStore(t, dir, opts)
	for i := uint64(1); i <= 200; i++ {
		mustAppend(t, s, storagetest.MakeEntries(i, i+1, 1))
	}
	if len(segmentFiles(t, dir)) < 3 {
		t.Fatalf("200 entries in %d-byte segments made %d segments, want several", opts.SegmentSize, len(segmentFiles(t, dir)))
	}
	s.writeMu.Lock()
	sp := s.spare
	s.writeMu.Unlock()
	if sp != nil {
		t.Fatal("a store with NoSync prepared a spare segment")
	}
}

func TestFillZerosStops(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stop atomic.Bool
	stop.Store(true)
	if err := fillZeros(f, 0, 4*zeroChunk, &stop); !errors.Is(err, errSpareStopped) {
		t.Fatalf("fillZeros with stop set = %v, want errSpareStopped", err)
	}
	if err := fillZeros(f, 0, zeroChunk+10, nil); err != nil {
		t.Fatal(err)
	}
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != zeroChunk+10 {
		t.Fatalf("size after fillZeros = %d, want %d", info.Size(), zeroChunk+10)
	}
}
