package rafttest

import (
	"fmt"
	"slices"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// hashedLog is a log with a running hash of every prefix: hashes[i] digests
// entries[0..i]. Two logs whose entries at one index have equal prefix hashes
// are identical up to that index, which makes the Log Matching check
// incremental.
type hashedLog struct {
	entries []wire.Entry // entries[i] has index i+1
	hashes  []uint64
}

func (l *hashedLog) last() uint64 { return uint64(len(l.entries)) }

func (l *hashedLog) lastTerm() uint64 {
	if len(l.entries) == 0 {
		return 0
	}
	return l.entries[len(l.entries)-1].Term
}

// hashAt returns the prefix hash through index, or 0 for index 0.
func (l *hashedLog) hashAt(index uint64) uint64 {
	if index == 0 {
		return 0
	}
	return l.hashes[index-1]
}

// truncate deletes the entries at index from and above. The slices are
// clipped so that a later append never writes into memory another log
// shares.
func (l *hashedLog) truncate(from uint64) {
	if from == 0 || from > l.last() {
		return
	}
	l.entries = slices.Clip(l.entries[:from-1])
	l.hashes = slices.Clip(l.hashes[:from-1])
}

// append adds entries, which must continue the log.
func (l *hashedLog) append(entries []wire.Entry) error {
	for _, e := range entries {
		if e.Index != l.last()+1 {
			return fmt.Errorf("append of entry %d to a log ending at %d", e.Index, l.last())
		}
		l.hashes = append(l.hashes, entryHash(l.hashAt(l.last()), e))
		l.entries = append(l.entries, e)
	}
	return nil
}

func (l *hashedLog) clone() hashedLog {
	return hashedLog{entries: slices.Clone(l.entries), hashes: slices.Clone(l.hashes)}
}

// entryHash mixes one entry into a prefix hash with 64-bit FNV-1a.
func entryHash(prev uint64, e wire.Entry) uint64 {
	const prime = 1099511628211
	h := prev ^ 14695981039346656037
	mix := func(v uint64) {
		for i := 0; i < 8; i++ {
			h ^= v & 0xff
			h *= prime
			v >>= 8
		}
	}
	mix(e.Index)
	mix(e.Term)
	mix(uint64(e.Type))
	mix(uint64(len(e.Data)))
	for _, b := range e.Data {
		h ^= uint64(b)
		h *= prime
	}
	return h
}

// pendingWrite is the durable part of one Ready, not yet synced.
type pendingWrite struct {
	hardState    *wire.HardState
	truncateFrom uint64
	entries      []wire.Entry
	// messages may leave once this write and every earlier one are durable.
	messages []raft.Envelope
}

// storage is one node's simulated disk. The durable part survives a crash;
// the pending writes are lost. view is the log as the running node sees it,
// the durable log with every pending write applied: the runtime's log cache
// serves unsynced entries, so a leader may send entries it has not synced.
type storage struct {
	hardState wire.HardState
	durable   hashedLog
	pending   []pendingWrite
	view      hashedLog
	viewHS    wire.HardState
}

// write queues w and applies it to the view.
func (s *storage) write(w pendingWrite) error {
	s.pending = append(s.pending, w)
	return applyWrite(&s.view, &s.viewHS, w)
}

func applyWrite(l *hashedLog, hs *wire.HardState, w pendingWrite) error {
	if w.truncateFrom != 0 {
		l.truncate(w.truncateFrom)
	}
	if err := l.append(w.entries); err != nil {
		return err
	}
	if w.hardState != nil {
		*hs = *w.hardState
	}
	return nil
}

// sync makes every pending write durable and returns them in order.
func (s *storage) sync() ([]pendingWrite, error) {
	synced := s.pending
	s.pending = nil
	for _, w := range synced {
		if err := applyWrite(&s.durable, &s.hardState, w); err != nil {
			return synced, err
		}
	}
	return synced, nil
}

// crash discards the pending writes.
func (s *storage) crash() {
	s.pending = nil
	s.view = s.durable.clone()
	s.viewHS = s.hardState
}

// initialState builds a core's starting state from the durable part only.
func (s *storage) initialState() raft.InitialState {
	st := raft.InitialState{HardState: s.hardState, LastIndex: s.durable.last()}
	for _, e := range s.durable.entries {
		if n := len(st.Runs); n == 0 || st.Runs[n-1].Term != e.Term {
			st.Runs = append(st.Runs, raft.TermRun{Start: e.Index, Term: e.Term})
		}
	}
	return st
}

// entries returns the view's entries [lo, hi), or false if it lacks some.
func (s *storage) entries(lo, hi uint64) ([]wire.Entry, bool) {
	if lo == 0 || hi < lo || hi-1 > s.view.last() {
		return nil, false
	}
	return slices.Clone(s.view.entries[lo-1 : hi-1]), true
}
