package wal

import (
	"fmt"
	"sort"
)

// slot locates one entry's record inside its segment: the frame's offset
// and the body's length. The segment comes from logIndex.segs.
type slot struct {
	offset   uint32
	bodySize uint32
}

// run is a range of consecutive indexes that share one value: a term or a
// segment sequence number. It starts at start and ends where the next run
// starts.
type run struct {
	start, value uint64
}

// runs maps indexes to values that change rarely, with one run per change.
type runs []run

// add records value for index, which must be above every index added
// before.
func (r *runs) add(index, value uint64) {
	if n := len(*r); n > 0 && (*r)[n-1].value == value {
		return
	}
	*r = append(*r, run{start: index, value: value})
}

// lookup returns the value of index, which must be at or above the start of
// the first run.
func (r runs) lookup(index uint64) uint64 {
	i := sort.Search(len(r), func(i int) bool { return r[i].start > index })
	return r[i-1].value
}

// truncateSuffix deletes the runs of from and above.
func (r *runs) truncateSuffix(from uint64) {
	*r = (*r)[:sort.Search(len(*r), func(i int) bool { return (*r)[i].start >= from })]
}

// truncatePrefix deletes the values below first, which must be at or above
// the start of the first run.
func (r *runs) truncatePrefix(first uint64) {
	i := sort.Search(len(*r), func(i int) bool { return (*r)[i].start > first })
	if i == 0 {
		return
	}
	kept := append(runs(nil), (*r)[i-1:]...)
	kept[0].start = first
	*r = kept
}

// between returns a copy of the runs that cover [lo, hi), which must lie
// within the indexes that r covers.
func (r runs) between(lo, hi uint64) runs {
	i := sort.Search(len(r), func(i int) bool { return r[i].start > lo }) - 1
	j := sort.Search(len(r), func(i int) bool { return r[i].start >= hi })
	return append(runs(nil), r[i:max(i+1, j)]...)
}

// logIndex is the in-memory state of the log: its bounds and, for each
// entry, where its record is and its term. It costs 8 bytes per entry plus
// one run per term change and per segment.
//
// Replay starts a logIndex from a segment header's bounds without the slots
// of the entries before it. Those entries lie in deleted segments, so they
// must be compacted by the end of the replay, which verifyComplete checks.
type logIndex struct {
	first uint64 // 0 until the log first holds an entry or is compacted
	last  uint64
	base  uint64 // index of slots[0]
	slots []slot
	terms runs
	segs  runs
}

// empty reports whether the log holds no entry.
func (x *logIndex) empty() bool { return x.first == 0 || x.last < x.first }

// slot returns the slot of index, which must lie in [base, last].
func (x *logIndex) slot(index uint64) slot { return x.slots[index-x.base] }

// checkNext returns an error unless an entry with index may be appended.
func (x *logIndex) checkNext(index uint64) error {
	if index == 0 {
		return fmt.Errorf("index 0 is invalid, indexes start at 1")
	}
	if x.first != 0 && index != x.last+1 {
		return fmt.Errorf("the next index is %d, got %d", x.last+1, index)
	}
	return nil
}

// appendEntry adds the entry at index, which checkNext accepted.
func (x *logIndex) appendEntry(index, term, seq uint64, s slot) {
	if x.first == 0 {
		x.first, x.last = index, index-1
	}
	if len(x.slots) == 0 {
		x.base = index
	}
	x.slots = append(x.slots, s)
	x.last = index
	x.terms.add(index, term)
	x.segs.add(index, seq)
}

// truncateSuffix deletes the entries at from and above. from must be at
// least max(first, 1).
func (x *logIndex) truncateSuffix(from uint64) {
	if from > x.last {
		return
	}
	x.last = from - 1
	if from <= x.base {
		x.slots, x.base = nil, from
	} else {
		x.slots = x.slots[:from-x.base]
	}
	x.terms.truncateSuffix(from)
	x.segs.truncateSuffix(from)
}

// truncatePrefix deletes the entries at upTo and below.
func (x *logIndex) truncatePrefix(upTo uint64) {
	x.first = upTo + 1
	if upTo >= x.last {
		x.last = upTo
		x.slots, x.base = nil, upTo+1
		x.terms, x.segs = nil, nil
		return
	}
	if x.first > x.base {
		x.slots = x.slots[x.first-x.base:]
		x.base = x.first
	}
	x.terms.truncatePrefix(x.first)
	x.segs.truncatePrefix(x.first)
}

// verifyComplete returns an error unless every entry between first and last
// has a slot.
func (x *logIndex) verifyComplete() error {
	if !x.empty() && x.base != x.first {
		return fmt.Errorf("entries %d to %d are missing: their segment files were deleted or lost", x.first, x.base-1)
	}
	return nil
}
