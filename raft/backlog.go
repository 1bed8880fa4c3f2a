package raft

import (
	"sync/atomic"

	"github.com/natsraft/natsraft/raft/wire"
)

// backlog bounds what a leader holds appended but not yet applied, by
// entries and by command bytes, so that memory stays bounded under any
// client load. Only the node loop uses it.
type backlog struct {
	maxEntries uint64
	maxBytes   int
	applied    *atomic.Uint64 // the applier's applied index

	// batches are the proposal batches not yet known to be applied, oldest
	// first, with the index of their last entry and their command bytes.
	batches []backlogBatch
	bytes   int
}

type backlogBatch struct {
	last  uint64
	bytes int
}

// add records a batch of proposals whose last entry is at index last.
func (b *backlog) add(last uint64, entries []wire.Entry) {
	size := 0
	for i := range entries {
		size += len(entries[i].Data)
	}
	b.batches = append(b.batches, backlogBatch{last: last, bytes: size})
	b.bytes += size
}

// release drops the batches the applier has applied.
func (b *backlog) release() {
	applied := b.applied.Load()
	n := 0
	for n < len(b.batches) && b.batches[n].last <= applied {
		b.bytes -= b.batches[n].bytes
		n++
	}
	if n > 0 {
		b.batches = append(b.batches[:0], b.batches[n:]...)
	}
}

// full reports whether a log ending at lastIndex is at a limit.
func (b *backlog) full(lastIndex uint64) bool { return b.fullWith(lastIndex, 0) }

// fullWith reports whether a log ending at lastIndex, plus extra command
// bytes, is at a limit.
func (b *backlog) fullWith(lastIndex uint64, extra int) bool {
	b.release()
	applied := b.applied.Load()
	if lastIndex > applied && lastIndex-applied >= b.maxEntries {
		return true
	}
	return b.bytes+extra >= b.maxBytes
}
