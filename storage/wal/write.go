package wal

import (
	"fmt"
	"math"
	"os"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/storage/internal/fsutil"
)

// Append adds entries at the end of the log: one write of one buffer to the
// active segment, then one fdatasync unless Options.NoSync is set, and only
// then the in-memory index. The entries must have consecutive indexes
// starting at LastIndex()+1, except that a store that has never held an
// entry accepts any first index above 0. Otherwise Append changes nothing
// and returns an error wrapping ErrNotContiguous.
func (s *Store) Append(entries []wire.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	start, end := entries[0].Index, entries[len(entries)-1].Index
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.checkWritable(); err != nil {
		return fmt.Errorf("wal: append entries %d to %d to %s: %w", start, end, s.dir, err)
	}
	if err := s.index.checkNext(start); err != nil {
		return fmt.Errorf("wal: append entries %d to %d: %v: %w", start, end, err, ErrNotContiguous)
	}
	for i := range entries {
		if want := start + uint64(i); entries[i].Index != want {
			return fmt.Errorf("wal: append entries: entry %d of the batch has index %d, expected %d: %w",
				i, entries[i].Index, want, ErrNotContiguous)
		}
	}

	// The batch header goes first; its contents depend on the segment and
	// offset, which are known only after the batch's length is.
	buf := append(s.encodeBuf[:0], make([]byte, batchFrameSize)...)
	slots := make([]slot, len(entries))
	for i := range entries {
		slots[i].offset = uint32(len(buf))
		buf = appendFrame(buf, recordEntry, entries[i].MarshalAppend)
		slots[i].bodySize = le.Uint32(buf[slots[i].offset:])
	}
	seg, offset, err := s.writeBatch(buf, len(entries))
	s.keepEncodeBuf(buf)
	if err != nil {
		return fmt.Errorf("wal: append entries %d to %d to %s: %w", start, end, s.dir, err)
	}

	seg.maxIndex = max(seg.maxIndex, end)
	s.mu.Lock()
	for i := range entries {
		slots[i].offset += uint32(offset)
		s.index.appendEntry(entries[i].Index, entries[i].Term, seg.seq, slots[i])
	}
	s.mu.Unlock()
	return nil
}

// keepEncodeBuf keeps buf for the next write unless it grew beyond 4 MiB,
// so that one large batch does not pin its memory for the store's life.
func (s *Store) keepEncodeBuf(buf []byte) {
	if cap(buf) > 4<<20 {
		buf = nil
	}
	s.encodeBuf = buf
}

// writeBatch writes buf, which starts with batchFrameSize free bytes for the
// batch header followed by count records, to the active segment and syncs
// it. It starts a new segment first when buf does not fit in the rest of the
// active one. It returns the segment and the offset of buf in it. The
// caller holds writeMu.
func (s *Store) writeBatch(buf []byte, count int) (*segment, int64, error) {
	seg := s.active
	if seg.size+int64(len(buf)) > s.segmentSize && seg.size > headerSize {
		var err error
		if seg, err = s.rotate(); err != nil {
			return nil, 0, err
		}
	}
	if seg.size+int64(len(buf)) > math.MaxUint32 {
		return nil, 0, fmt.Errorf("the batch of %d bytes is too large for a segment: split it", len(buf))
	}
	offset := seg.size
	putBatchFrame(buf[:batchFrameSize], seg.seq, offset, count)
	if _, err := seg.file.WriteAt(buf, offset); err != nil {
		s.failed = err
		return nil, 0, fmt.Errorf("write %s at offset %d: %w", seg.path, offset, err)
	}
	if !s.noSync {
		if err := syncData(seg.file); err != nil {
			s.failed = err
			return nil, 0, fmt.Errorf("sync %s: %w", seg.path, err)
		}
	}
	seg.size += int64(len(buf))
	return seg, offset, nil
}

// rotate creates the next segment, whose header records the log's current
// bounds, and makes it the active one. The previous segment is cut to its
// used length, so that its unused space is returned to the file system.
// The caller holds writeMu.
func (s *Store) rotate() (*segment, error) {
	old := s.active
	if err := old.file.Truncate(old.size); err != nil {
		return nil, fmt.Errorf("truncate %s to %d bytes: %w", old.path, old.size, err)
	}
	if !s.noSync {
		if err := old.file.Sync(); err != nil {
			s.failed = err
			return nil, fmt.Errorf("sync %s: %w", old.path, err)
		}
	}
	h := segmentHeader{version: FormatVersion, seq: old.seq + 1, first: s.index.first, last: s.index.last}
	seg, err := createSegment(s.dir, h, s.segmentSize, s.noSync)
	if err != nil {
		return nil, fmt.Errorf("create segment %d: %w", h.seq, err)
	}
	s.mu.Lock()
	s.segments = append(s.segments, seg)
	s.active = seg
	s.mu.Unlock()
	s.log.Debug("log segment created", "file", seg.path, "first_index", h.first, "last_index", h.last)
	return seg, nil
}

// writeIndexRecord writes a batch of one truncation record of type typ
// with argument index, and syncs it.
func (s *Store) writeIndexRecord(typ byte, index uint64) error {
	buf := append(s.encodeBuf[:0], make([]byte, batchFrameSize)...)
	buf = appendFrame(buf, typ, func(b []byte) []byte { return le.AppendUint64(b, index) })
	_, _, err := s.writeBatch(buf, 1)
	s.keepEncodeBuf(buf)
	return err
}

// TruncateSuffix deletes the entries at index from and above by writing a
// truncation record, synced before it returns unless Options.NoSync is set.
// Deleting above the last index does nothing. It returns an error wrapping
// raft.ErrCompacted when from is below the first index, because compacted
// entries are committed and must not be replaced.
func (s *Store) TruncateSuffix(from uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.checkWritable(); err != nil {
		return fmt.Errorf("wal: truncate log of %s from %d: %w", s.dir, from, err)
	}
	if lowest := max(s.index.first, 1); from < lowest {
		return fmt.Errorf("wal: truncate log from %d: first index is %d: %w", from, lowest, raft.ErrCompacted)
	}
	if from > s.index.last {
		return nil
	}
	if err := s.writeIndexRecord(recordTruncateSuffix, from); err != nil {
		return fmt.Errorf("wal: truncate log of %s from %d: %w", s.dir, from, err)
	}
	s.mu.Lock()
	s.index.truncateSuffix(from)
	s.mu.Unlock()
	return nil
}

// TruncatePrefix deletes the entries at index upTo and below. It writes a
// truncation record, synced before it returns unless Options.NoSync is set,
// and then deletes the oldest segment files that hold only entries at upTo
// and below. When upTo is at or above the last index, the log becomes empty
// and the next appended entry must have index upTo+1; this is how a node
// resets its log after installing a snapshot. Indexes already deleted are
// ignored.
func (s *Store) TruncatePrefix(upTo uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.checkWritable(); err != nil {
		return fmt.Errorf("wal: truncate log of %s up to %d: %w", s.dir, upTo, err)
	}
	if upTo < max(s.index.first, 1) {
		return nil
	}
	if err := s.writeIndexRecord(recordTruncatePrefix, upTo); err != nil {
		return fmt.Errorf("wal: truncate log of %s up to %d: %w", s.dir, upTo, err)
	}
	s.mu.Lock()
	s.index.truncatePrefix(upTo)
	s.mu.Unlock()
	s.deleteSegments(upTo)
	return nil
}

// deleteSegments deletes the oldest segments, other than the active one,
// whose entries all have indexes up to upTo. The segment after the deleted
// ones records the log's bounds in its header, so replay needs none of
// them. A failure is logged, not returned: the truncation is already
// durable, and the files are deleted by a later call.
func (s *Store) deleteSegments(upTo uint64) {
	for {
		s.mu.Lock()
		seg := s.segments[0]
		if seg == s.active || seg.maxIndex > upTo {
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		// Deleting the oldest file first keeps the remaining sequence
		// numbers contiguous, even after a crash between deletions.
		if err := os.Remove(seg.path); err != nil {
			s.log.Warn("failed to delete a compacted log segment", "file", seg.path, "error", err)
			return
		}
		if !s.noSync {
			if err := fsutil.SyncDir(s.dir); err != nil {
				s.log.Warn("failed to sync the directory after deleting a log segment", "file", seg.path, "error", err)
			}
		}
		s.mu.Lock()
		s.segments = s.segments[1:]
		s.mu.Unlock()
		seg.release()
		s.log.Debug("log segment deleted", "file", seg.path, "max_index", seg.maxIndex, "compacted_up_to", upTo)
	}
}
