package boltlike

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/storage/storagetest"
)

func testSnapshotOptions() SnapshotOptions {
	return SnapshotOptions{Cluster: "c1", Node: "n1", Logger: quietLogger}
}

func openSnapshots(t *testing.T, dir string) *SnapshotStore {
	t.Helper()
	s, err := NewSnapshotStore(dir, testSnapshotOptions())
	if err != nil {
		t.Fatalf("NewSnapshotStore(%s): %v", dir, err)
	}
	return s
}

func TestSnapshotStoreConformance(t *testing.T) {
	storagetest.RunSnapshotStore(t, func(t *testing.T) raft.SnapshotStore {
		return openSnapshots(t, t.TempDir())
	})
}

// saveSnapshot writes and closes a snapshot with the given index and data.
func saveSnapshot(t *testing.T, s *SnapshotStore, index uint64, data []byte) {
	t.Helper()
	sink, err := s.Create(raft.SnapshotMeta{Index: index, Term: 2, Configuration: wire.Configuration{Voters: []string{"n1", "n2"}}})
	if err != nil {
		t.Fatalf("Create(%d): %v", index, err)
	}
	if _, err := sink.Write(data); err != nil {
		t.Fatalf("Write(%d): %v", index, err)
	}
	if err := sink.Close(); err != nil {
		t.Fatalf("Close(%d): %v", index, err)
	}
}

// dirNames returns the sorted names of the files in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir(%s): %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func TestSnapshotSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openSnapshots(t, dir)
	data := bytes.Repeat([]byte("state "), 10000)
	saveSnapshot(t, s, 10, []byte("older"))
	saveSnapshot(t, s, 20, data)

	s = openSnapshots(t, dir)
	meta, r, err := s.Open()
	if err != nil {
		t.Fatalf("Open after reopen: %v", err)
	}
	got, err := readAllAndClose(r)
	if err != nil {
		t.Fatalf("read snapshot: %v", err)
	}
	if meta.Index != 20 || meta.Term != 2 || meta.Size != int64(len(data)) || !slices.Equal(meta.Configuration.Voters, []string{"n1", "n2"}) {
		t.Errorf("meta after reopen = %+v, want index 20, term 2, size %d, voters [n1 n2]", meta, len(data))
	}
	if !bytes.Equal(got, data) {
		t.Errorf("data after reopen: %d bytes, want %d", len(got), len(data))
	}
}

func TestSnapshotRetention(t *testing.T) {
	dir := t.TempDir()
	opts := testSnapshotOptions()
	opts.Retain = 3
	s, err := NewSnapshotStore(dir, opts)
	if err != nil {
		t.Fatalf("NewSnapshotStore: %v", err)
	}
	for index := uint64(1); index <= 5; index++ {
		saveSnapshot(t, s, index*10, []byte{byte(index)})
	}
	want := []string{
		"snapshot-00000000000000000003.meta", "snapshot-00000000000000000003.snap",
		"snapshot-00000000000000000004.meta", "snapshot-00000000000000000004.snap",
		"snapshot-00000000000000000005.meta", "snapshot-00000000000000000005.snap",
	}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("files after 5 snapshots with Retain 3 = %q, want %q", got, want)
	}

	// Reopening with a lower Retain prunes at once.
	opts.Retain = 1
	if _, err := NewSnapshotStore(dir, opts); err != nil {
		t.Fatalf("NewSnapshotStore with Retain 1: %v", err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, want[4:]) {
		t.Errorf("files after reopen with Retain 1 = %q, want %q", got, want[4:])
	}
}

func TestSnapshotLeftoversRemoved(t *testing.T) {
	dir := t.TempDir()
	s := openSnapshots(t, dir)
	saveSnapshot(t, s, 10, []byte("complete"))

	// An unfinished temporary file and a data file whose metadata was never
	// written, as a crash leaves them.
	for _, name := range []string{"snapshot-123.tmp", "snapshot-00000000000000000002.snap"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s = openSnapshots(t, dir)
	want := []string{"snapshot-00000000000000000001.meta", "snapshot-00000000000000000001.snap"}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("files after reopen = %q, want %q", got, want)
	}
	if meta, ok, err := s.Latest(); err != nil || !ok || meta.Index != 10 {
		t.Errorf("Latest = index %d, ok %v, %v; want index 10", meta.Index, ok, err)
	}
	saveSnapshot(t, s, 20, []byte("next"))
	if meta, _, _ := s.Latest(); meta.Index != 20 {
		t.Errorf("Latest after a new snapshot = index %d, want 20", meta.Index)
	}
}

func TestSnapshotDataCorruptionDetected(t *testing.T) {
	dir := t.TempDir()
	s := openSnapshots(t, dir)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	saveSnapshot(t, s, 10, data)

	path := filepath.Join(dir, snapshotName(1, dataSuffix))
	damaged := slices.Clone(data)
	damaged[5000] ^= 0x01
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	_, r, err := s.Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	_, err = readAllAndClose(r)
	if !errors.Is(err, raft.ErrCorrupt) {
		t.Errorf("reading a damaged snapshot = %v, want an error matching raft.ErrCorrupt", err)
	}

	// A data file of the wrong length is found when the store is opened.
	if err := os.WriteFile(path, data[:100], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSnapshotStore(dir, testSnapshotOptions()); !errors.Is(err, raft.ErrCorrupt) {
		t.Errorf("NewSnapshotStore with a truncated data file = %v, want an error matching raft.ErrCorrupt", err)
	}
}

func TestSnapshotMetaCorruptionDetected(t *testing.T) {
	dir := t.TempDir()
	saveSnapshot(t, openSnapshots(t, dir), 10, []byte("state"))
	path := filepath.Join(dir, snapshotName(1, metaSuffix))
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Change the index without updating the checksum.
	damaged := bytes.Replace(content, []byte(`"index":10`), []byte(`"index":90`), 1)
	if bytes.Equal(damaged, content) {
		t.Fatalf("metadata %q does not contain the index field", content)
	}
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = NewSnapshotStore(dir, testSnapshotOptions())
	if !errors.Is(err, raft.ErrCorrupt) {
		t.Fatalf("NewSnapshotStore with damaged metadata = %v, want an error matching raft.ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file %s", err, path)
	}
}

func TestSnapshotIdentityMismatch(t *testing.T) {
	dir := t.TempDir()
	saveSnapshot(t, openSnapshots(t, dir), 10, []byte("state"))

	opts := testSnapshotOptions()
	opts.Node = "n2"
	_, err := NewSnapshotStore(dir, opts)
	if !errors.Is(err, ErrIdentityMismatch) {
		t.Fatalf("NewSnapshotStore as node n2 = %v, want an error matching ErrIdentityMismatch", err)
	}
	if !strings.Contains(err.Error(), `node "n1"`) || !strings.Contains(err.Error(), `node "n2"`) {
		t.Errorf("error %q does not name both nodes", err)
	}
}

func TestSnapshotNewerFormatRejected(t *testing.T) {
	dir := t.TempDir()
	info := snapshotInfo{seq: 1, meta: raft.SnapshotMeta{Index: 5, Term: 1}}
	content, err := encodeSnapshotMeta(info, "c1", "n1")
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := bytes.Cut(content, []byte(metaChecksumPrefix))
	doc = bytes.Replace(doc, []byte(`"format_version":1`), []byte(`"format_version":7`), 1)
	newer := append(slices.Clone(doc), []byte(metaChecksumPrefix)...)
	newer = append(newer, []byte(crcHex(doc)+"\n")...)
	if err := os.WriteFile(filepath.Join(dir, snapshotName(1, metaSuffix)), newer, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, snapshotName(1, dataSuffix)), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSnapshotStore(dir, testSnapshotOptions()); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("NewSnapshotStore with format version 7 = %v, want an error matching ErrUnsupportedFormat", err)
	}
}

func TestSnapshotCancelRemovesTempFile(t *testing.T) {
	dir := t.TempDir()
	s := openSnapshots(t, dir)
	sink, err := s.Create(raft.SnapshotMeta{Index: 3, Term: 1})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := sink.Write([]byte("partial")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := sink.Cancel(); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("files after Cancel = %q, want none", got)
	}
}

func crcHex(b []byte) string {
	return fmt.Sprintf("%08x", crc32.Checksum(b, castagnoli))
}
