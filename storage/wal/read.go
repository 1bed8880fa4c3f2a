package wal

import (
	"fmt"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// FirstIndex returns the index of the first stored entry. After the log was
// truncated down to nothing, it returns the index the next entry must have.
// It returns 0 if the store has never held an entry or been compacted.
func (s *Store) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return 0, fmt.Errorf("wal: read first index of %s: %w", s.dir, ErrClosed)
	}
	return s.index.first, nil
}

// LastIndex returns the index of the last stored entry. When the log is
// empty it returns FirstIndex()-1, or 0 if FirstIndex is 0, so that the next
// entry always has index LastIndex()+1.
func (s *Store) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return 0, fmt.Errorf("wal: read last index of %s: %w", s.dir, ErrClosed)
	}
	return s.index.last, nil
}

// Term returns the term of the entry at index from the in-memory index,
// without reading a file.
func (s *Store) Term(index uint64) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return 0, fmt.Errorf("wal: read term of entry %d from %s: %w", index, s.dir, ErrClosed)
	}
	if lowest := max(s.index.first, 1); index < lowest {
		return 0, fmt.Errorf("wal: read term of entry %d: first index is %d: %w", index, lowest, raft.ErrCompacted)
	}
	if index > s.index.last {
		return 0, fmt.Errorf("wal: read term of entry %d: last index is %d: %w", index, s.index.last, raft.ErrUnavailable)
	}
	return s.index.terms.lookup(index), nil
}

// readChunk is a run of entry records that lie back to back in one
// segment, so that one pread returns all of them.
type readChunk struct {
	seg    *segment
	offset int64
	size   int64
	first  uint64 // index of the first entry
	count  int
}

// readPlan is the list of records that Entries reads, taken from the index
// under the read lock. It holds a reference on each segment in chunks.
type readPlan struct {
	chunks []readChunk
	terms  runs
}

func (p *readPlan) release() {
	for _, c := range p.chunks {
		c.seg.release()
	}
}

// Entries returns the entries in [lo, hi), reading each run of adjacent
// records with one pread. With maxBytes above 0, it returns the longest
// prefix of the range whose total Entry.Size() is at most maxBytes, but
// always at least one entry. It returns an error wrapping raft.ErrCompacted
// when lo is below the first index, raft.ErrUnavailable when hi-1 is above
// the last index, and raft.ErrCorrupt when a record fails its checksum or
// does not hold the expected entry. The entries are the caller's: their
// Data shares new buffers that the store does not keep.
func (s *Store) Entries(lo, hi uint64, maxBytes int) ([]wire.Entry, error) {
	if lo > hi {
		return nil, fmt.Errorf("wal: read entries [%d, %d): invalid range, lo is above hi", lo, hi)
	}
	plan, err := s.planRead(lo, hi, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("wal: read entries [%d, %d) from %s: %w", lo, hi, s.dir, err)
	}
	defer plan.release()

	count := 0
	for _, c := range plan.chunks {
		count += c.count
	}
	out := make([]wire.Entry, 0, count)
	for _, c := range plan.chunks {
		if out, err = readChunkEntries(out, c, plan.terms); err != nil {
			return nil, fmt.Errorf("wal: read entries [%d, %d): %w", lo, hi, err)
		}
	}
	return out, nil
}

// planRead checks [lo, hi) against the log's bounds and groups the records
// to read into chunks, stopping once their entries' sizes pass maxBytes.
func (s *Store) planRead(lo, hi uint64, maxBytes int) (readPlan, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return readPlan{}, ErrClosed
	}
	x := &s.index
	if lowest := max(x.first, 1); lo < lowest {
		return readPlan{}, fmt.Errorf("first index is %d: %w", lowest, raft.ErrCompacted)
	}
	if hi > x.last+1 {
		return readPlan{}, fmt.Errorf("last index is %d: %w", x.last, raft.ErrUnavailable)
	}
	if lo == hi {
		return readPlan{}, nil
	}

	var plan readPlan
	total := 0
	for index := lo; index < hi; index++ {
		sl := x.slot(index)
		// The body is the record type followed by the entry's encoding,
		// whose length is Entry.Size().
		total += int(sl.bodySize) - 1
		if maxBytes > 0 && total > maxBytes && index > lo {
			break
		}
		seq := x.segs.lookup(index)
		offset, size := int64(sl.offset), int64(alignFrame(int(sl.bodySize)))
		if n := len(plan.chunks); n > 0 {
			if c := &plan.chunks[n-1]; c.seg.seq == seq && c.offset+c.size == offset {
				c.size += size
				c.count++
				continue
			}
		}
		seg := s.segments[seq-s.segments[0].seq]
		seg.acquire()
		plan.chunks = append(plan.chunks, readChunk{seg: seg, offset: offset, size: size, first: index, count: 1})
	}
	plan.terms = x.terms.between(lo, hi)
	return plan, nil
}

// readChunkEntries reads the records of c with one pread, verifies each
// against the index and appends the entries to out.
func readChunkEntries(out []wire.Entry, c readChunk, terms runs) ([]wire.Entry, error) {
	buf := make([]byte, c.size)
	if _, err := c.seg.file.ReadAt(buf, c.offset); err != nil {
		return out, fmt.Errorf("read %s at offset %d: %w", c.seg.path, c.offset, err)
	}
	pos := 0
	for i := range c.count {
		index := c.first + uint64(i)
		e, size, err := decodeEntryRecord(buf[pos:], index, terms.lookup(index))
		if err != nil {
			return out, corrupt(fmt.Sprintf("entry %d in %s at offset %d", index, c.seg.path, c.offset+int64(pos)), err)
		}
		out = append(out, e)
		pos += size
	}
	return out, nil
}

// decodeEntryRecord verifies the record at the start of b and decodes the
// entry in it, which must have index and term. The entry's Data aliases b,
// capped so that appending to it cannot overwrite b.
func decodeEntryRecord(b []byte, index, term uint64) (wire.Entry, int, error) {
	var e wire.Entry
	body, size, err := readFrame(b)
	if err != nil {
		return e, 0, err
	}
	if body[0] != recordEntry {
		return e, 0, fmt.Errorf("the record has type %d, not an entry", body[0])
	}
	if err := e.Unmarshal(body[1:]); err != nil {
		return e, 0, err
	}
	if e.Index != index || e.Term != term {
		return e, 0, fmt.Errorf("the record contains entry %d of term %d, expected entry %d of term %d", e.Index, e.Term, index, term)
	}
	if e.Data != nil {
		e.Data = e.Data[:len(e.Data):len(e.Data)]
	}
	return e, size, nil
}
