package wal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

func TestDeletedSegmentsFailOpen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, testOptions())
	mustAppend(t, s, patternEntries(1, 10))
	if err := s.SetHardState(wire.HardState{Term: 3, Vote: "n1"}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	for _, path := range segmentFiles(t, dir) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	checkOpenFails(t, dir, raft.ErrCorrupt, "no segment file found")
}

func TestInterruptedFirstOpenStartsOver(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, testOptions())
	mustClose(t, s)
	// The state a crash leaves between the first segment and META.
	if err := os.Remove(filepath.Join(dir, metaFileName)); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, testOptions())
	mustAppend(t, s, patternEntries(1, 5))
	mustClose(t, s)
	s = openTestStore(t, dir, testOptions())
	defer mustClose(t, s)
	checkLog(t, s, patternEntries(1, 5))
}

func TestMissingMetaWithRecordsFailsOpen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, testOptions())
	mustAppend(t, s, patternEntries(1, 5))
	mustClose(t, s)
	if err := os.Remove(filepath.Join(dir, metaFileName)); err != nil {
		t.Fatal(err)
	}
	checkOpenFails(t, dir, raft.ErrCorrupt, "contains records")
}

func TestDeletedHardStateFailsOpen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, testOptions())
	mustClose(t, s)
	if err := os.Remove(filepath.Join(dir, hardStateFileName)); err != nil {
		t.Fatal(err)
	}
	checkOpenFails(t, dir, raft.ErrCorrupt, "term and vote is missing")
}

func TestIdentityCheckedBeforeLock(t *testing.T) {
	dir := t.TempDir()
	owner := openTestStore(t, dir, testOptions())
	defer mustClose(t, owner)
	other := testOptions()
	other.Node = "another-node"
	s, err := Open(dir, other)
	if err == nil {
		s.Close()
		t.Fatal("Open as another node succeeded while the owner runs")
	}
	if !errors.Is(err, ErrIdentityMismatch) || errors.Is(err, ErrLocked) {
		t.Fatalf("Open as another node while the owner runs = %v, want ErrIdentityMismatch", err)
	}
}
