package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/natsraft/natsraft/raft/wire"
)

// replayDamage is a record that failed its checks during replay.
type replayDamage struct {
	offset int64
	cause  error
}

// replay opens the segment files seqs, which are sorted, and rebuilds the
// index from their records in order.
func (s *Store) replay(seqs []uint64) error {
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return corrupt(s.dir, fmt.Errorf("segment files %s to %s are missing",
				segmentName(seqs[i-1]+1), segmentName(seqs[i]-1)))
		}
	}
	var buf []byte
	for i, seq := range seqs {
		seg, err := s.replaySegment(seq, i == 0, i == len(seqs)-1, &buf)
		if seg != nil {
			s.segments = append(s.segments, seg)
		}
		if err != nil {
			return err
		}
	}
	s.active = s.segments[len(s.segments)-1]
	if err := s.index.verifyComplete(); err != nil {
		return corrupt(s.dir, err)
	}
	// A larger SegmentSize than at creation applies to the active segment
	// too, so that writes up to it need no change of the file's length.
	if err := preallocate(s.active.file, max(s.segmentSize, s.active.size)); err != nil {
		return fmt.Errorf("allocate %s: %w", s.active.path, err)
	}
	return nil
}

// replaySegment opens one segment, checks its header against the state of
// the segments before it, and applies its complete batches to the index.
// The returned segment, when not nil, is open even if err is not nil.
func (s *Store) replaySegment(seq uint64, isFirst, isLast bool, buf *[]byte) (*segment, error) {
	path := filepath.Join(s.dir, segmentName(seq))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	seg := newSegment(seq, path, f, headerSize)
	info, err := f.Stat()
	if err != nil {
		return seg, err
	}
	if info.Size() > 1<<32-1 {
		return seg, corrupt(path, fmt.Errorf("the file has %d bytes, more than a segment can have", info.Size()))
	}
	data := (*buf)[:0]
	if int64(cap(data)) < info.Size() {
		data = make([]byte, info.Size())
		*buf = data
	}
	data = data[:info.Size()]
	if _, err := f.ReadAt(data, 0); err != nil {
		return seg, fmt.Errorf("read %s: %w", path, err)
	}
	if err := s.checkSegmentHeader(path, seq, data, isFirst); err != nil {
		return seg, err
	}

	end, damage, err := s.replayBatches(seg, data)
	if err != nil {
		return seg, err
	}
	seg.size = end
	if damage == nil && end == int64(len(data)) {
		return seg, nil
	}
	return seg, s.checkTail(seg, data, end, damage, isLast)
}

// checkSegmentHeader verifies the header in data. The header of the first
// segment sets the log's bounds; those of later segments must match the
// bounds that the segments before them left.
func (s *Store) checkSegmentHeader(path string, seq uint64, data []byte, isFirst bool) error {
	h, err := decodeSegmentHeader(data)
	if err != nil {
		return corrupt(path, err)
	}
	switch {
	case h.version == 0:
		return corrupt(path, fmt.Errorf("invalid format version 0"))
	case h.version > FormatVersion:
		return fmt.Errorf("%s has format version %d, but this release reads versions up to %d: run a newer release: %w",
			path, h.version, FormatVersion, ErrUnsupportedFormat)
	case h.seq != seq:
		return corrupt(path, fmt.Errorf("the header has sequence number %d, the file name %d", h.seq, seq))
	case isFirst:
		s.index = logIndex{first: h.first, last: h.last, base: h.last + 1}
	case h.first != s.index.first || h.last != s.index.last:
		return corrupt(path, fmt.Errorf("the header records first index %d and last index %d, but the segments before it end with %d and %d",
			h.first, h.last, s.index.first, s.index.last))
	}
	return nil
}

// replayBatches applies the complete batches in data, which holds the
// whole segment file, from the first record on. It returns the offset after
// the last complete batch and, when a frame there is not zero, the first
// damaged record. err reports a complete batch whose records do not fit
// the log, which no crash can cause.
func (s *Store) replayBatches(seg *segment, data []byte) (end int64, damage *replayDamage, err error) {
	offset := int64(headerSize)
	for offset < int64(len(data)) {
		body, size, err := readFrame(data[offset:])
		if err == errNoFrame {
			return offset, nil, nil
		}
		if err == nil {
			var h batchHeader
			if h, err = decodeBatchBody(body); err == nil && (h.seq != seg.seq || h.offset != offset) {
				err = fmt.Errorf("the batch header names segment %d offset %d", h.seq, h.offset)
			}
			if err == nil {
				var next int64
				next, damage, err = s.replayBatch(seg, data, offset, int64(size), h.count)
				if damage != nil || err != nil {
					return offset, damage, err
				}
				offset = next
				continue
			}
		}
		return offset, &replayDamage{offset: offset, cause: fmt.Errorf("batch header: %w", err)}, nil
	}
	return offset, nil, nil
}

// pendingRecord is a decoded record of a batch that replay has not yet
// applied.
type pendingRecord struct {
	typ      byte
	index    uint64 // entry index, or the argument of a truncation
	term     uint64
	offset   int64
	bodySize int
}

// replayBatch decodes the count records after the batch header at start
// and applies them when all of them are valid. It returns the offset after
// the batch.
func (s *Store) replayBatch(seg *segment, data []byte, start, headerFrame int64, count int) (int64, *replayDamage, error) {
	records := make([]pendingRecord, 0, min(count, 1024))
	offset := start + headerFrame
	for k := range count {
		if offset >= int64(len(data)) {
			return 0, &replayDamage{offset: offset, cause: fmt.Errorf("record %d of %d of the batch at offset %d is missing: the file ends", k+1, count, start)}, nil
		}
		rec, size, err := decodeRecord(data[offset:])
		if err != nil {
			return 0, &replayDamage{offset: offset, cause: fmt.Errorf("record %d of %d of the batch at offset %d: %w", k+1, count, start, err)}, nil
		}
		rec.offset = offset
		records = append(records, rec)
		offset += int64(size)
	}
	for _, rec := range records {
		if err := s.applyRecord(seg, rec); err != nil {
			return 0, nil, corrupt(fmt.Sprintf("%s offset %d", seg.path, rec.offset), err)
		}
	}
	return offset, nil, nil
}

// decodeRecord verifies and decodes the record at the start of b.
func decodeRecord(b []byte) (pendingRecord, int, error) {
	body, size, err := readFrame(b)
	if err != nil {
		return pendingRecord{}, 0, err
	}
	rec := pendingRecord{typ: body[0], bodySize: len(body)}
	switch rec.typ {
	case recordEntry:
		var e wire.Entry
		if err := e.Unmarshal(body[1:]); err != nil {
			return rec, 0, err
		}
		rec.index, rec.term = e.Index, e.Term
	case recordTruncateSuffix, recordTruncatePrefix:
		if rec.index, err = decodeIndexBody(body); err != nil {
			return rec, 0, err
		}
	default:
		return rec, 0, fmt.Errorf("unknown record type %d", rec.typ)
	}
	return rec, size, nil
}

// applyRecord applies one replayed record to the index.
func (s *Store) applyRecord(seg *segment, rec pendingRecord) error {
	x := &s.index
	switch rec.typ {
	case recordEntry:
		if err := x.checkNext(rec.index); err != nil {
			return fmt.Errorf("entry %d does not continue the log: %w", rec.index, err)
		}
		x.appendEntry(rec.index, rec.term, seg.seq, slot{offset: uint32(rec.offset), bodySize: uint32(rec.bodySize)})
		seg.maxIndex = max(seg.maxIndex, rec.index)
	case recordTruncateSuffix:
		if lowest := max(x.first, 1); rec.index < lowest {
			return fmt.Errorf("truncation from index %d is below the first index %d", rec.index, lowest)
		}
		x.truncateSuffix(rec.index)
	case recordTruncatePrefix:
		x.truncatePrefix(rec.index)
	}
	return nil
}

// checkTail classifies the bytes from end on, where replay found no further
// complete batch. Zeros are unused space. Other bytes at the end of the
// last segment, with no valid batch after them, are a torn write, which
// checkTail clears. Anything else is damage.
func (s *Store) checkTail(seg *segment, data []byte, end int64, damage *replayDamage, isLast bool) error {
	dirty := lastNonZero(data[end:])
	if dirty < 0 {
		return nil
	}
	if damage == nil {
		damage = &replayDamage{offset: end, cause: fmt.Errorf("unexpected bytes after the last record")}
	}
	where := fmt.Sprintf("%s offset %d (entry %d expected)", seg.path, damage.offset, s.index.last+1)
	for offset := end + frameAlign; offset+int64(batchFrameSize) <= int64(len(data)); offset += frameAlign {
		if isBatchHeaderAt(data, seg.seq, offset) {
			return corrupt(where, fmt.Errorf("%w; a valid batch follows at offset %d", damage.cause, offset))
		}
	}
	if !isLast {
		return corrupt(where, fmt.Errorf("%w; only the last segment can end with an unfinished write", damage.cause))
	}

	discarded := int64(dirty) + 1
	s.log.Warn("cutting off a torn write at the end of the log",
		"file", seg.path, "offset", end, "bytes_discarded", discarded, "last_index", s.index.last, "reason", damage.cause)
	// Zeros make the space look unused to the next replay, even if a later
	// batch there is shorter than the damaged bytes.
	if _, err := seg.file.WriteAt(make([]byte, discarded), end); err != nil {
		return fmt.Errorf("clear the torn write in %s: %w", seg.path, err)
	}
	if !s.noSync {
		if err := syncData(seg.file); err != nil {
			return fmt.Errorf("clear the torn write in %s: %w", seg.path, err)
		}
	}
	return nil
}

// lastNonZero returns the position of the last byte of b that is not zero,
// or -1. It compares blocks with bytes.Equal, which is fast on the long
// runs of zeros of a preallocated segment.
func lastNonZero(b []byte) int {
	const block = 64 << 10
	var zeros [block]byte
	i := len(b)
	for i > 0 {
		start := max(0, i-block)
		if !bytes.Equal(b[start:i], zeros[:i-start]) {
			break
		}
		i = start
	}
	for i > 0 && b[i-1] == 0 {
		i--
	}
	return i - 1
}
