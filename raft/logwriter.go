package raft

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/natsraft/natsraft/raft/wire"
)

// writeJob is the durable part of one Ready, in the order the core produced it.
type writeJob struct {
	hardState    *wire.HardState
	truncateFrom uint64
	entries      []wire.Entry
	messages     []Envelope
}

// logWriter persists entries and hard state. It gathers every job that
// arrived while the previous write was running into one store call (group
// commit), then sends the messages that waited for that write and reports
// the durable index to the node loop.
type logWriter struct {
	n    *Node
	jobs chan writeJob
	// pending counts the jobs queued or being written by run. Only the
	// node loop adds to it and only run subtracts, so when the loop reads
	// 0 the writer is idle until the loop queues again.
	pending atomic.Int64
	// inline is set when the stores write in memory (InlineWriter): the
	// node loop then writes itself while the writer is idle.
	inline bool

	mu        sync.Mutex
	persisted struct{ index, term uint64 } // latest completion, guarded by mu
	signal    chan struct{}                // capacity 1: a completion is waiting
}

func newLogWriter(n *Node, queue int) *logWriter {
	return &logWriter{n: n, jobs: make(chan writeJob, queue), signal: make(chan struct{}, 1),
		inline: writesInline(n.logs) && writesInline(n.stable)}
}

func writesInline(store any) bool {
	w, ok := store.(InlineWriter)
	return ok && w.InlineWrites()
}

// submit has job written: by the node loop itself when the stores write
// inline and the writer is idle, which keeps the order of writes, and by
// the writer goroutine otherwise. It returns false if the node stopped
// while the queue was full.
func (w *logWriter) submit(job writeJob) bool {
	if w.inline && w.pending.Load() == 0 {
		if err := w.write([]writeJob{job}); err != nil {
			w.n.fail(err)
		}
		return true
	}
	w.pending.Add(1)
	select {
	case w.jobs <- job:
		return true
	case <-w.n.stopped:
		return false
	}
}

func (w *logWriter) run() {
	defer w.n.wg.Done()
	for {
		var job writeJob
		select {
		case job = <-w.jobs:
		case <-w.n.stopped:
			return
		}
		batch := []writeJob{job}
	drain:
		for len(batch) < 1024 {
			select {
			case j := <-w.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		err := w.write(batch)
		w.pending.Add(-int64(len(batch)))
		if err != nil {
			w.n.fail(err)
			return
		}
	}
}

func (w *logWriter) write(batch []writeJob) error {
	start := w.n.metrics.now()
	// The term and vote go first, so that a crash between the two writes
	// never leaves entries on disk whose term is above the stored term.
	if err := w.writeHardState(batch); err != nil {
		return err
	}
	last, err := w.writeEntries(batch)
	if err != nil {
		return err
	}
	w.n.metrics.logWritten(start, batch)

	// Everything above is durable: the waiting messages may leave.
	var msgs []Envelope
	for i := range batch {
		msgs = append(msgs, batch[i].messages...)
	}
	for _, env := range coalesceAcks(msgs) {
		w.n.send(env)
	}
	if len(msgs) > 0 {
		w.n.flushTransport()
	}

	if last != nil {
		w.mu.Lock()
		w.persisted.index, w.persisted.term = last.Index, last.Term
		w.mu.Unlock()
		select {
		case w.signal <- struct{}{}:
		default:
		}
	}
	return nil
}

// writeHardState saves the newest hard state of the batch, if any.
func (w *logWriter) writeHardState(batch []writeJob) error {
	var hs *wire.HardState
	for i := range batch {
		if batch[i].hardState != nil {
			hs = batch[i].hardState
		}
	}
	if hs == nil {
		return nil
	}
	if err := w.n.stable.SetHardState(*hs); err != nil {
		return fmt.Errorf("save term %d and vote %q: %w", hs.Term, hs.Vote, err)
	}
	return nil
}

// writeEntries applies the batch's truncations and appends in order, with
// one Append call for each run of entries between truncations, and returns
// the last entry written.
func (w *logWriter) writeEntries(batch []writeJob) (*wire.Entry, error) {
	var pending []wire.Entry
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := w.n.logs.Append(pending); err != nil {
			return fmt.Errorf("append entries %d-%d: %w", pending[0].Index, pending[len(pending)-1].Index, err)
		}
		pending = nil
		return nil
	}
	var last *wire.Entry
	for i := range batch {
		j := &batch[i]
		if j.truncateFrom != 0 {
			if err := flush(); err != nil {
				return nil, err
			}
			if err := w.n.logs.TruncateSuffix(j.truncateFrom); err != nil {
				return nil, fmt.Errorf("truncate log from %d: %w", j.truncateFrom, err)
			}
		}
		if pending == nil {
			// A run of one job needs no copy: the store gets its slice.
			pending = j.entries
		} else if len(j.entries) > 0 {
			pending = append(pending[:len(pending):len(pending)], j.entries...)
		}
		if len(j.entries) > 0 {
			last = &j.entries[len(j.entries)-1]
		}
	}
	return last, flush()
}

// takePersisted returns the latest completion.
func (w *logWriter) takePersisted() (index, term uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.persisted.index, w.persisted.term
}
