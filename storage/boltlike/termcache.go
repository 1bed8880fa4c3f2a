package boltlike

import "sort"

// maxTermRuns bounds the runs a termCache keeps. Terms change only on
// leader elections, so a few runs usually cover the whole log.
const maxTermRuns = 1024

// termRun is a range of consecutive entries with the same term, from start
// up to the next run's start (or the cache's last index).
type termRun struct {
	start, term uint64
}

// termCache holds the terms of the entries in [runs[0].start, last] as a
// run-length list, so that Term needs no disk read for them. It covers the
// end of the log: entries are added at the end, and the oldest runs are
// dropped when there are more than maxTermRuns. It is not safe for
// concurrent use.
type termCache struct {
	runs []termRun
	last uint64
}

// lookup returns the term of the entry at index, or ok false when the cache
// does not cover index.
func (c *termCache) lookup(index uint64) (term uint64, ok bool) {
	if len(c.runs) == 0 || index < c.runs[0].start || index > c.last {
		return 0, false
	}
	// The run containing index is the last one that starts at or before it.
	i := sort.Search(len(c.runs), func(i int) bool { return c.runs[i].start > index })
	return c.runs[i-1].term, true
}

// add records that the entry at index has term. An index that does not
// follow the cached range restarts the cache at index.
func (c *termCache) add(index, term uint64) {
	if len(c.runs) == 0 || index != c.last+1 {
		c.runs = append(c.runs[:0], termRun{start: index, term: term})
		c.last = index
		return
	}
	c.last = index
	if c.runs[len(c.runs)-1].term == term {
		return
	}
	if len(c.runs) == maxTermRuns {
		// Drop the older half; those terms are then read from disk.
		n := copy(c.runs, c.runs[maxTermRuns/2:])
		c.runs = c.runs[:n]
	}
	c.runs = append(c.runs, termRun{start: index, term: term})
}

// truncateSuffix drops the terms of the entries at index from and above.
func (c *termCache) truncateSuffix(from uint64) {
	if len(c.runs) == 0 || from > c.last {
		return
	}
	if from <= c.runs[0].start {
		c.reset()
		return
	}
	i := sort.Search(len(c.runs), func(i int) bool { return c.runs[i].start >= from })
	c.runs = c.runs[:i]
	c.last = from - 1
}

// truncatePrefix drops the terms of the entries below first.
func (c *termCache) truncatePrefix(first uint64) {
	if len(c.runs) == 0 || first <= c.runs[0].start {
		return
	}
	if first > c.last {
		c.reset()
		return
	}
	// Keep the run containing first and the runs after it.
	i := sort.Search(len(c.runs), func(i int) bool { return c.runs[i].start > first }) - 1
	n := copy(c.runs, c.runs[i:])
	c.runs = c.runs[:n]
	c.runs[0].start = first
}

func (c *termCache) reset() {
	c.runs = c.runs[:0]
	c.last = 0
}
