package raft

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/natsraft/natsraft/raft/wire"
)

// inlineApplyMax is the most committed entries the node loop applies
// itself, for a state machine that is an InlineApplier.
const inlineApplyMax = 16

// applier feeds committed entries to the state machine in index order, in
// batches, each exactly once, and resolves the proposals and reads waiting
// on them. It runs on its own goroutine, off the node loop. For an
// InlineApplier, the node loop applies a few entries itself while the
// goroutine is idle.
type applier struct {
	n *Node
	// runMu is held while entries are applied and reads served, so that
	// the goroutine and the node loop never apply at the same time.
	runMu sync.Mutex
	// inline is set when the state machine is an InlineApplier.
	inline bool

	mu      sync.Mutex
	commit  uint64               // target, guarded by mu
	waiters map[uint64]*proposal // by log index, guarded by mu
	reads   []*readRequest       // confirmed reads, guarded by mu
	signal  chan struct{}        // capacity 1: new work is waiting
	// progress (capacity 1) signals the node loop that entries were applied,
	// so it can take proposals again after backpressure.
	progress chan struct{}

	applied atomic.Uint64
}

func newApplier(n *Node, applied uint64) *applier {
	a := &applier{n: n, waiters: make(map[uint64]*proposal), signal: make(chan struct{}, 1), progress: make(chan struct{}, 1)}
	if ia, ok := n.sm.(InlineApplier); ok {
		a.inline = ia.ApplyInline()
	}
	a.applied.Store(applied)
	return a
}

func (a *applier) wake() {
	select {
	case a.signal <- struct{}{}:
	default:
	}
}

// register records proposals appended at first, first+1, ... in term.
func (a *applier) register(term, first uint64, ps []*proposal) {
	a.mu.Lock()
	for i, p := range ps {
		p.index, p.term = first+uint64(i), term
		a.waiters[p.index] = p
	}
	a.mu.Unlock()
}

// setCommit raises the commit index; the node loop calls it. For an
// InlineApplier, when the applier goroutine is idle, it applies up to
// inlineApplyMax new entries itself, which saves a goroutine hand-off
// before the proposals are resolved.
func (a *applier) setCommit(index uint64) {
	a.mu.Lock()
	if index > a.commit {
		a.commit = index
	}
	a.mu.Unlock()
	if a.inline && index-min(a.applied.Load(), index) <= inlineApplyMax && a.runMu.TryLock() {
		err := a.catchUp()
		a.runMu.Unlock()
		if err != nil {
			a.n.fail(err)
		}
		return
	}
	a.wake()
}

func (a *applier) addRead(r *readRequest) {
	a.mu.Lock()
	a.reads = append(a.reads, r)
	a.mu.Unlock()
	a.wake()
}

// failWaiters resolves every waiting proposal with err.
func (a *applier) failWaiters(err error) {
	a.mu.Lock()
	waiters := a.waiters
	a.waiters = make(map[uint64]*proposal)
	a.mu.Unlock()
	for _, p := range waiters {
		p.finish(proposalResult{err: err})
	}
}

// catchUp applies the committed entries and then serves the reads they
// allow. The caller holds runMu.
func (a *applier) catchUp() error {
	if err := a.applyCommitted(); err != nil {
		return err
	}
	a.serveReads()
	return nil
}

func (a *applier) run() {
	defer a.n.wg.Done()
	for {
		select {
		case <-a.signal:
		case <-a.n.stopped:
			return
		}
		a.runMu.Lock()
		err := a.catchUp()
		a.runMu.Unlock()
		if err != nil {
			a.n.fail(err)
			return
		}
	}
}

// applyCommitted applies everything up to the commit index. The caller
// holds runMu.
func (a *applier) applyCommitted() error {
	for {
		a.mu.Lock()
		target := a.commit
		a.mu.Unlock()
		applied := a.applied.Load()
		if applied >= target {
			return nil
		}
		hi := min(target+1, applied+1+uint64(a.n.cfg.ApplyBatchSize))
		ents, err := a.n.readEntries(applied+1, hi, 0)
		if err != nil {
			return fmt.Errorf("read committed entries from %d: %w", applied+1, err)
		}
		start := a.n.metrics.now()
		if err := a.apply(ents); err != nil {
			return err
		}
		a.n.metrics.applied(start, len(ents))
		a.applied.Store(ents[len(ents)-1].Index)
		select {
		case a.progress <- struct{}{}:
		default:
		}
		a.n.cache.trimTo(min(ents[len(ents)-1].Index, a.n.durableHint.Load()))
		select {
		case <-a.n.stopped:
			return nil
		default:
		}
	}
}

func (a *applier) apply(ents []wire.Entry) error {
	cmds := make([]Command, 0, len(ents))
	// Proposals are registered when they are appended, so before their
	// entries commit: every waiter of ents is in the map by now.
	a.mu.Lock()
	for _, e := range ents {
		if e.Type == wire.EntryTypeCommand {
			_, waited := a.waiters[e.Index]
			cmds = append(cmds, Command{Index: e.Index, Term: e.Term, Data: e.Data, Time: e.Time, ResultUnused: !waited})
		}
	}
	a.mu.Unlock()
	var results [][]byte
	if len(cmds) > 0 {
		var err error
		results, err = a.n.sm.Apply(cmds)
		if err != nil {
			return fmt.Errorf("state machine failed to apply entries %d-%d: %w", cmds[0].Index, cmds[len(cmds)-1].Index, err)
		}
		if len(results) != len(cmds) {
			return fmt.Errorf("state machine returned %d results for %d commands", len(results), len(cmds))
		}
	}
	a.mu.Lock()
	done := make([]*proposal, 0, len(ents))
	for _, e := range ents {
		if p := a.waiters[e.Index]; p != nil {
			delete(a.waiters, e.Index)
			done = append(done, p)
		}
	}
	a.mu.Unlock()
	r := 0
	for _, e := range ents {
		var result []byte
		if e.Type == wire.EntryTypeCommand {
			result = results[r]
			r++
		}
		if len(done) > 0 && done[0].index == e.Index {
			p := done[0]
			done = done[1:]
			if p.term != e.Term {
				// Another leader's entry took this index, so the proposal
				// was never committed and never will be.
				p.finish(proposalResult{err: NotApplied(ErrProposalDropped)})
				continue
			}
			p.finish(proposalResult{index: e.Index, value: result})
		}
	}
	return nil
}

// serveReads serves the confirmed reads whose index has been applied. The
// caller holds runMu.
func (a *applier) serveReads() {
	applied := a.applied.Load()
	a.mu.Lock()
	var ready []*readRequest
	kept := a.reads[:0]
	for _, r := range a.reads {
		if r.index <= applied {
			ready = append(ready, r)
		} else {
			kept = append(kept, r)
		}
	}
	clear(a.reads[len(kept):])
	a.reads = kept
	a.mu.Unlock()
	slices.SortFunc(ready, func(x, y *readRequest) int { return cmp.Compare(x.index, y.index) })
	for _, r := range ready {
		v, err := a.n.sm.Read(r.query)
		index := r.index
		if index == 0 {
			// A stale read is served at whatever has been applied.
			index = applied
		}
		r.finish(readResult{value: v, index: index, err: err})
	}
}
