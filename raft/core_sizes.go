package raft

import "sort"

// entrySizes records the encoded size of the recent log entries, so that
// the leader can bound the bytes in flight to each follower. It holds the
// entries from base on as running totals: cum[i] is before plus the sizes
// of the entries base to base+i. Entries below base, which were trimmed or
// came from before this process started, count as size 0.
type entrySizes struct {
	base   uint64
	before uint64
	cum    []uint64
}

// trimSizes drops the sizes that no envelope needs any more. On a leader
// these are the sizes of the entries every follower has; on other nodes,
// of the committed entries.
func (c *Core) trimSizes() {
	upTo := c.commit
	if c.role == RoleLeader {
		upTo = c.log.last
		for _, pr := range c.progress {
			upTo = min(upTo, pr.match)
		}
	}
	c.sizes.trim(upTo)
}

// add records the size of the entry at index. An index other than the one
// after the last recorded starts the record over.
func (s *entrySizes) add(index uint64, size int) {
	if s.base+uint64(len(s.cum)) != index {
		s.base, s.before, s.cum = index, 0, s.cum[:0]
	}
	s.cum = append(s.cum, s.upTo(index)+uint64(size))
}

// upTo returns the running total of the recorded sizes below index.
func (s *entrySizes) upTo(index uint64) uint64 {
	if index <= s.base || len(s.cum) == 0 {
		return s.before
	}
	return s.cum[min(index-s.base, uint64(len(s.cum)))-1]
}

// between returns the size of the entries in [lo, hi).
func (s *entrySizes) between(lo, hi uint64) uint64 {
	return s.upTo(hi) - s.upTo(lo)
}

// fit returns the largest h in (lo, hi] such that the entries in [lo, h)
// take at most budget bytes, and lo+1 if even the first entry does not fit.
func (s *entrySizes) fit(lo, hi, budget uint64) uint64 {
	start := s.upTo(lo)
	// k is the number of entries after lo that still fit.
	k := sort.Search(int(hi-lo-1), func(k int) bool { return s.upTo(lo+uint64(k)+2)-start > budget })
	return lo + 1 + uint64(k)
}

// truncate drops the sizes of the entries at index from and above.
func (s *entrySizes) truncate(from uint64) {
	if from <= s.base {
		s.cum = s.cum[:0]
		return
	}
	if keep := from - s.base; keep < uint64(len(s.cum)) {
		s.cum = s.cum[:keep]
	}
}

// trim drops the sizes of the entries at index upTo and below.
func (s *entrySizes) trim(upTo uint64) {
	if upTo < s.base || len(s.cum) == 0 {
		return
	}
	drop := min(upTo+1-s.base, uint64(len(s.cum)))
	s.before = s.cum[drop-1]
	if drop > uint64(len(s.cum))/2 {
		s.cum = append(s.cum[:0], s.cum[drop:]...)
	} else {
		s.cum = s.cum[drop:]
	}
	s.base += drop
}
