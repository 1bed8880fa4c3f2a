package wal

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/natsraft/natsraft/raft"
)

// FuzzFrameDecoders feeds arbitrary bytes to the record and header
// decoders, which must return an error for anything they do not accept and
// never panic.
func FuzzFrameDecoders(f *testing.F) {
	f.Add([]byte{})
	f.Add(appendFrame(nil, recordTruncateSuffix, func(b []byte) []byte { return le.AppendUint64(b, 7) }))
	f.Add(encodeSegmentHeader(segmentHeader{version: FormatVersion, seq: 3, first: 1, last: 9}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if body, size, err := readFrame(b); err == nil {
			if size > len(b) || len(body) == 0 {
				t.Fatalf("readFrame accepted a frame of size %d with a body of %d bytes from %d bytes", size, len(body), len(b))
			}
			_, _ = decodeBatchBody(body)
			_, _ = decodeIndexBody(body)
		}
		_, _ = decodeBatchBody(b)
		_, _ = decodeIndexBody(b)
		_, _ = decodeSegmentHeader(b)
		_ = isBatchHeaderAt(b, 1, 0)
	})
}

// FuzzOpenDamagedSegment overwrites part of a store's last segment with
// arbitrary bytes and opens the store. Open must fail with an error or
// succeed; after success, every entry read must be one that was written,
// or an error wrapping raft.ErrCorrupt.
func FuzzOpenDamagedSegment(f *testing.F) {
	f.Add(uint16(64), []byte{0xff, 0xff, 0xff, 0xff})
	f.Add(uint16(200), []byte("garbage that is not a record"))
	f.Add(uint16(0), make([]byte, 64))
	f.Fuzz(func(t *testing.T, at uint16, junk []byte) {
		dir := writeTestLog(t, 30)
		segs := segmentFiles(t, dir)
		path := segs[len(segs)-1]
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		off := int(at) % len(data)
		copy(data[off:], junk)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}

		s, err := Open(dir, smallSegments())
		if err != nil {
			return
		}
		defer s.Close()
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		if first == 0 || last < first {
			return
		}
		want := patternEntries(1, 31)
		for i := first; i <= last; i++ {
			got, err := s.Entries(i, i+1, 0)
			if err != nil {
				if !errors.Is(err, raft.ErrCorrupt) {
					t.Fatalf("Entries(%d) = %v, want data or an error wrapping raft.ErrCorrupt", i, err)
				}
				continue
			}
			if i > uint64(len(want)) || got[0].Index != i || !bytes.Equal(got[0].Data, want[i-1].Data) {
				t.Fatalf("entry %d read back as index %d data %q, which was never written there", i, got[0].Index, got[0].Data)
			}
		}
	})
}
