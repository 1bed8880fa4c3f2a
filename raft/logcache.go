package raft

import (
	"sync"

	"github.com/natsraft/natsraft/raft/wire"
)

// logCache keeps the recent entries of the log in memory so that
// replication streams and the applier read them without touching the
// store. It holds every entry not yet durable; older entries are trimmed
// once applied and durable, after which readers fall back to the store.
type logCache struct {
	mu    sync.RWMutex
	start uint64 // index of ents[0]
	ents  []wire.Entry
}

// append adds entries that continue the cached log. Entries that do not
// continue it replace the cache.
func (c *logCache) append(ents []wire.Entry) {
	if len(ents) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ents) == 0 || ents[0].Index != c.start+uint64(len(c.ents)) {
		c.ents = c.ents[:0]
		c.start = ents[0].Index
	}
	c.ents = append(c.ents, ents...)
}

// truncate drops the entries at index from and above.
func (c *logCache) truncate(from uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if from <= c.start {
		c.ents = c.ents[:0]
		return
	}
	if n := from - c.start; n < uint64(len(c.ents)) {
		clear(c.ents[n:])
		c.ents = c.ents[:n]
	}
}

// trimTo drops the entries at index upTo and below.
func (c *logCache) trimTo(upTo uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ents) == 0 || upTo < c.start {
		return
	}
	n := upTo - c.start + 1
	if n >= uint64(len(c.ents)) {
		c.start = upTo + 1
		c.ents = c.ents[:0]
		return
	}
	// Copy the tail down so the backing array does not grow without bound.
	kept := copy(c.ents, c.ents[n:])
	clear(c.ents[kept:])
	c.ents = c.ents[:kept]
	c.start = upTo + 1
}

// get returns the cached entries from lo, up to hi (exclusive) and up to
// maxBytes of encoded size (always at least one entry), or ok false if lo is
// not cached.
func (c *logCache) get(lo, hi uint64, maxBytes int) (ents []wire.Entry, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	end := c.start + uint64(len(c.ents))
	if lo < c.start || lo >= end {
		return nil, false
	}
	hi = min(hi, end)
	size := 0
	for i := lo; i < hi; i++ {
		e := &c.ents[i-c.start]
		size += e.Size()
		if maxBytes > 0 && size > maxBytes && i > lo {
			hi = i
			break
		}
	}
	return append([]wire.Entry(nil), c.ents[lo-c.start:hi-c.start]...), true
}

// firstIndex returns the first cached index, or 0 when the cache is empty.
func (c *logCache) firstIndex() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.ents) == 0 {
		return 0
	}
	return c.start
}
