package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// patternEntries returns entries lo to hi-1 whose Data is unique text, 60
// to 90 bytes long, that can be found in the raw files.
func patternEntries(lo, hi uint64) []wire.Entry {
	out := make([]wire.Entry, 0, hi-lo)
	for i := lo; i < hi; i++ {
		data := fmt.Appendf(nil, "<entry %08d payload %s>", i, strings.Repeat("x", int(i%31)))
		out = append(out, wire.Entry{Index: i, Term: 1 + i/100, Type: wire.EntryTypeCommand, Data: data})
	}
	return out
}

// testBatchSize is the number of entries per Append in writeTestLog.
const testBatchSize = 10

// writeTestLog creates a closed store in a new directory that holds
// patternEntries(1, count+1), appended in batches of testBatchSize, in
// segments of MinSegmentSize, and a hard state. It returns the directory.
func writeTestLog(t *testing.T, count uint64) string {
	t.Helper()
	dir := t.TempDir()
	s := openTestStore(t, dir, smallSegments())
	all := patternEntries(1, count+1)
	for i := 0; i < len(all); i += testBatchSize {
		mustAppend(t, s, all[i:min(i+testBatchSize, len(all))])
	}
	if err := s.SetHardState(wire.HardState{Term: 9, Vote: "n1"}); err != nil {
		t.Fatalf("SetHardState: %v", err)
	}
	mustClose(t, s)
	return dir
}

// testRecord is a record found by scanSegment.
type testRecord struct {
	offset, size int64
	typ          byte
	index        uint64 // entry index, for entry records
	batch        int64  // offset of the batch header
}

// scanSegment decodes the records of the segment file at path and returns
// them with the offset where they end.
func scanSegment(t testing.TB, path string) (records []testRecord, end int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	offset, batch := int64(headerSize), int64(0)
	for offset < int64(len(data)) {
		body, size, err := readFrame(data[offset:])
		if err == errNoFrame {
			break
		}
		if err != nil {
			t.Fatalf("scan %s at offset %d: %v", path, offset, err)
		}
		rec := testRecord{offset: offset, size: int64(size), typ: body[0], batch: batch}
		switch body[0] {
		case recordBatch:
			rec.batch, batch = offset, offset
		case recordEntry:
			var e wire.Entry
			if err := e.Unmarshal(body[1:]); err != nil {
				t.Fatalf("scan %s at offset %d: %v", path, offset, err)
			}
			rec.index = e.Index
		}
		records = append(records, rec)
		offset += int64(size)
	}
	return records, offset
}

// entryRecord returns the record of the entry at index in the segment file
// at path.
func entryRecord(t testing.TB, path string, index uint64) testRecord {
	t.Helper()
	records, _ := scanSegment(t, path)
	for _, rec := range records {
		if rec.typ == recordEntry && rec.index == index {
			return rec
		}
	}
	t.Fatalf("entry %d not found in %s", index, path)
	return testRecord{}
}

// flipByte inverts some bits of the byte at offset in the file at path.
func flipByte(t testing.TB, path string, offset int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeAt(t, path, []byte{data[offset] ^ 0x24}, offset)
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

func TestTornTailCutOff(t *testing.T) {
	const count = 400
	cases := []struct {
		name string
		// damage changes the last segment, whose last batch starts with
		// the batch header record batch and ends at end.
		damage func(t *testing.T, path string, lastBatch testRecord, end int64)
		// dropsBatch reports whether the last batch is lost.
		dropsBatch bool
	}{
		{"garbage after the last batch", func(t *testing.T, path string, _ testRecord, end int64) {
			writeAt(t, path, []byte("partial write of something that is not a record"), end)
		}, false},
		{"frame header after the last batch", func(t *testing.T, path string, _ testRecord, end int64) {
			frame := appendFrame(nil, recordEntry, patternEntries(count+1, count+2)[0].MarshalAppend)
			writeAt(t, path, frame[:frameHeaderSize+5], end)
		}, false},
		{"second half of the last batch missing", func(t *testing.T, path string, batch testRecord, end int64) {
			half := batch.offset + (end-batch.offset)/2
			writeAt(t, path, make([]byte, end-half), half)
		}, true},
		{"header of the last batch missing", func(t *testing.T, path string, batch testRecord, _ int64) {
			writeAt(t, path, make([]byte, frameHeaderSize), batch.offset)
		}, true},
		{"last record damaged", func(t *testing.T, path string, _ testRecord, end int64) {
			flipByte(t, path, end-12)
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeTestLog(t, count)
			segs := segmentFiles(t, dir)
			path := segs[len(segs)-1]
			records, end := scanSegment(t, path)
			last := records[len(records)-1]
			if last.typ != recordEntry || last.index != count {
				t.Fatalf("the last record of %s is not entry %d", path, count)
			}
			var batch testRecord
			for _, rec := range records {
				if rec.offset == last.batch {
					batch = rec
				}
			}
			c.damage(t, path, batch, end)

			s := openTestStore(t, dir, smallSegments())
			want := uint64(count)
			if c.dropsBatch {
				want = count - testBatchSize
			}
			checkIndexes(t, s, 1, want)
			checkLog(t, s, patternEntries(1, want+1))

			// Writing continues where the log ends, and a short write
			// over the cleared bytes replays on its own.
			next := patternEntries(want+1, want+2)
			mustAppend(t, s, next)
			mustClose(t, s)
			s = openTestStore(t, dir, smallSegments())
			checkIndexes(t, s, 1, want+1)
			checkLog(t, s, patternEntries(1, want+2))
		})
	}
}

func TestDamageBeforeTailFailsOpen(t *testing.T) {
	const count = 400
	cases := []struct {
		name string
		// damage changes the files in dir and returns strings that the
		// error must contain.
		damage func(t *testing.T, dir string, segs []string) []string
	}{
		{"record in the middle of the last segment", func(t *testing.T, _ string, segs []string) []string {
			path := segs[len(segs)-1]
			records, _ := scanSegment(t, path)
			rec := records[len(records)/2]
			flipByte(t, path, rec.offset+rec.size-10)
			return []string{path, fmt.Sprintf("offset %d", rec.offset), "valid batch follows"}
		}},
		{"zeroed record header in the last segment", func(t *testing.T, _ string, segs []string) []string {
			path := segs[len(segs)-1]
			records, _ := scanSegment(t, path)
			rec := records[len(records)/3]
			writeAt(t, path, make([]byte, frameHeaderSize), rec.offset)
			return []string{path, fmt.Sprintf("offset %d", rec.offset)}
		}},
		{"last record of an older segment", func(t *testing.T, _ string, segs []string) []string {
			path := segs[1]
			_, end := scanSegment(t, path)
			flipByte(t, path, end-12)
			return []string{path, "only the last segment"}
		}},
		{"bytes after the end of an older segment", func(t *testing.T, _ string, segs []string) []string {
			path := segs[1]
			_, end := scanSegment(t, path)
			writeAt(t, path, []byte("trailing garbage"), end)
			return []string{path, fmt.Sprintf("offset %d", end)}
		}},
		{"segment header", func(t *testing.T, _ string, segs []string) []string {
			flipByte(t, segs[2], 20)
			return []string{segs[2], "header checksum"}
		}},
		{"segment file missing", func(t *testing.T, _ string, segs []string) []string {
			if err := os.Remove(segs[2]); err != nil {
				t.Fatal(err)
			}
			return []string{"missing", filepath.Base(segs[2])}
		}},
		{"oldest segment file missing", func(t *testing.T, _ string, segs []string) []string {
			if err := os.Remove(segs[0]); err != nil {
				t.Fatal(err)
			}
			return []string{"entries 1 to", "missing"}
		}},
		{"hard state", func(t *testing.T, dir string, _ []string) []string {
			path := filepath.Join(dir, hardStateFileName)
			flipByte(t, path, 5)
			return []string{path, "hard state"}
		}},
		{"meta file", func(t *testing.T, dir string, _ []string) []string {
			path := filepath.Join(dir, metaFileName)
			flipByte(t, path, 10)
			return []string{path, "checksum"}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeTestLog(t, count)
			segs := segmentFiles(t, dir)
			if len(segs) < 5 {
				t.Fatalf("the test log spans %d segment files, want at least 5", len(segs))
			}
			want := c.damage(t, dir, segs)
			s, err := Open(dir, smallSegments())
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error matching raft.ErrCorrupt")
			}
			checkCorruptError(t, "Open", err, want...)
		})
	}
}

// TestDamageWhileOpenDetectedOnRead changes a record in the file under an
// open store, past the checks of Open, and expects the read of that entry
// to fail while its neighbours still read.
func TestDamageWhileOpenDetectedOnRead(t *testing.T) {
	const target = 57
	cases := []struct {
		name   string
		damage func(t *testing.T, path string, rec testRecord)
		want   string
	}{
		{"data byte", func(t *testing.T, path string, rec testRecord) {
			flipByte(t, path, rec.offset+rec.size-12)
		}, "checksum mismatch"},
		{"length field", func(t *testing.T, path string, rec testRecord) {
			flipByte(t, path, rec.offset)
		}, ""},
		{"record of another entry", func(t *testing.T, path string, rec testRecord) {
			// Entry target+31 has data of the same length.
			other := entryRecord(t, path, target+31)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			writeAt(t, path, data[other.offset:other.offset+other.size], rec.offset)
		}, fmt.Sprintf("contains entry %d", target+31)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir, testOptions())
			all := patternEntries(1, 201)
			mustAppend(t, s, all)
			path := segmentFiles(t, dir)[0]
			rec := entryRecord(t, path, target)
			c.damage(t, path, rec)

			_, err := s.Entries(1, 201, 0)
			checkCorruptError(t, "Entries(1, 201)", err, fmt.Sprintf("entry %d", target), path, fmt.Sprintf("offset %d", rec.offset), c.want)
			_, err = s.Entries(target, target+1, 0)
			checkCorruptError(t, fmt.Sprintf("Entries(%d, %d)", target, target+1), err, fmt.Sprintf("entry %d", target))

			checkLog(t, s, all[:target-1])
			checkLog(t, s, all[target:])
		})
	}
}
