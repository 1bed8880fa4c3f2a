package statemachine

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine/sessionwire"
)

// Session defaults, used for zero SessionOptions fields.
const (
	// DefaultSessionTTL is how long a session lives without commands. It is
	// far above any client deadline, so a client that retries within its
	// deadline finds its session.
	DefaultSessionTTL = 10 * time.Minute
	// DefaultMaxSessions bounds the sessions kept at once. A session with
	// one recorded result of a few hundred bytes takes well under 1 KiB,
	// so the default bounds the table to the order of 100 MiB.
	DefaultMaxSessions = 100_000
	// DefaultMaxResultsPerSession bounds the results one session records:
	// how many commands of one client may wait for their replies at once
	// and still be deduplicated.
	DefaultMaxResultsPerSession = 1024
)

// SessionOptions configures WithSessions. Every node of a cluster must use
// the same options: they decide which commands are applied, so nodes with
// different options would reach different states.
type SessionOptions struct {
	// TTL is how long a session lives after its last command, measured on
	// the session clock: the highest raft.Command.Time applied so far.
	// Zero or negative means DefaultSessionTTL.
	TTL time.Duration
	// MaxSessions bounds the number of sessions. Creating one more evicts
	// the least recently used session. Zero or negative means
	// DefaultMaxSessions.
	MaxSessions int
	// MaxResultsPerSession bounds the results a session records. Recording
	// one more discards the result with the lowest sequence number, as if
	// the client had acknowledged it. Zero or negative means
	// DefaultMaxResultsPerSession.
	MaxResultsPerSession int
}

// Sessions is a raft.StateMachine that gives an inner state machine
// exactly-once semantics for client commands, as described in chapter 6.3
// of Diego Ongaro's dissertation "Consensus: Bridging Theory and Practice"
// (2014).
//
// Every command in the log must be an encoded sessionwire.SessionCommand
// (see EncodeSessionCommand), and every result of Apply is an encoded
// sessionwire.SessionResult (see DecodeSessionResult). A command with a
// client id is applied once per (client id, sequence number): a retry of a
// sequence number whose result is still recorded returns that result
// without applying the command again. A command without a client id goes
// to the inner state machine without deduplication.
//
// A client's first command creates its session. Sessions expire by a rule
// that depends only on the log, so every node keeps the same sessions. The
// session clock is the highest raft.Command.Time applied so far, so a new
// leader whose clock is behind never moves it back. A session not used for
// SessionOptions.TTL of that clock is removed when a later command is
// applied. Snapshot and Restore carry the sessions with the inner state.
//
// Read passes queries to the inner state machine unchanged. The methods are
// safe for concurrent use, as long as the inner state machine's Read is.
type Sessions struct {
	inner      raft.StateMachine
	ttl        int64 // nanoseconds
	maxSess    int
	maxResults int

	// mu guards the fields below. Apply, Snapshot and Restore hold it while
	// they use them, and Digest, Len and Table take it to read them.
	mu sync.Mutex
	// clock is the highest raft.Command.Time applied, in Unix nanoseconds.
	// NOTE: a leader whose clock runs far ahead moves it forward for good,
	// and sessions then expire early, identically on every node.
	clock int64
	byID  map[string]*list.Element
	// lru holds *session values, the least recently used first. A session
	// moves to the back each time it is used, so lastUsed never decreases
	// from front to back.
	lru *list.List
}

// session is one client's state.
type session struct {
	id       string
	lastUsed int64
	// acked is the sequence number at or below which no result is
	// recorded: the highest acknowledgement received, raised when a result
	// is dropped for MaxResultsPerSession.
	acked uint64
	// results holds the recorded results by sequence number, all above
	// acked.
	results map[uint64]*resultRecord
}

// resultRecord is a command's recorded result: the log index it was applied at
// and the inner state machine's result.
type resultRecord struct {
	index  uint64
	result []byte
}

var (
	_ raft.StateMachine  = (*Sessions)(nil)
	_ raft.InlineApplier = (*Sessions)(nil)
)

// ApplyInline reports whether the inner state machine applies inline
// (raft.InlineApplier); the session table itself is in memory.
func (s *Sessions) ApplyInline() bool {
	ia, ok := s.inner.(raft.InlineApplier)
	return ok && ia.ApplyInline()
}

// WithSessions returns a state machine that applies session commands to
// inner at most once per client sequence number. The returned Sessions
// owns inner: a caller that applied commands to inner or restored it
// directly would leave the sessions out of step with inner's state.
func WithSessions(inner raft.StateMachine, opts SessionOptions) *Sessions {
	if opts.TTL <= 0 {
		opts.TTL = DefaultSessionTTL
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.MaxResultsPerSession <= 0 {
		opts.MaxResultsPerSession = DefaultMaxResultsPerSession
	}
	return &Sessions{
		inner:      inner,
		ttl:        int64(opts.TTL),
		maxSess:    opts.MaxSessions,
		maxResults: opts.MaxResultsPerSession,
		byID:       make(map[string]*list.Element),
		lru:        list.New(),
	}
}

// Inner returns the wrapped state machine.
func (s *Sessions) Inner() raft.StateMachine { return s.inner }

// Read passes query to the inner state machine.
func (s *Sessions) Read(query []byte) ([]byte, error) {
	return s.inner.Read(query)
}

// Len returns the number of sessions.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// SessionInfo describes one session, for inspection and tests.
type SessionInfo struct {
	ClientID string
	// LastUsed is the session clock, in Unix nanoseconds, when the session
	// last applied a command.
	LastUsed int64
	// Acked is the sequence number at or below which no result is
	// recorded.
	Acked uint64
	// Recorded lists the sequence numbers with a recorded result, in
	// ascending order.
	Recorded []uint64
}

// Table returns the sessions from the least to the most recently used, and
// the session clock in Unix nanoseconds.
func (s *Sessions) Table() (clock int64, sessions []SessionInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.lru.Front(); e != nil; e = e.Next() {
		sess := e.Value.(*session)
		sessions = append(sessions, SessionInfo{
			ClientID: sess.id,
			LastUsed: sess.lastUsed,
			Acked:    sess.acked,
			Recorded: sess.sequences(),
		})
	}
	return s.clock, sessions
}

// Digest returns the hex-encoded SHA-256 of the session table as Snapshot
// encodes it: the clock, and every session with its recorded results in
// least recently used order. Nodes that applied the same commands have the
// same digest. It does not cover the inner state machine.
func (s *Sessions) Digest() string {
	s.mu.Lock()
	table := s.tableLocked()
	s.mu.Unlock()
	sum := sha256.Sum256(table.Marshal())
	return hex.EncodeToString(sum[:])
}

// tableLocked returns the session table for a snapshot. The caller must
// hold s.mu. Record results alias the session state.
func (s *Sessions) tableLocked() *sessionwire.SessionTable {
	table := &sessionwire.SessionTable{Clock: s.clock, Sessions: make([]sessionwire.SessionState, 0, s.lru.Len())}
	for e := s.lru.Front(); e != nil; e = e.Next() {
		sess := e.Value.(*session)
		state := sessionwire.SessionState{ClientID: sess.id, LastUsed: sess.lastUsed, Acked: sess.acked}
		for _, seq := range sess.sequences() {
			rec := sess.results[seq]
			state.Results = append(state.Results, sessionwire.SessionRecord{Sequence: seq, Index: rec.index, Result: rec.result})
		}
		table.Sessions = append(table.Sessions, state)
	}
	return table
}

// sequences returns the recorded sequence numbers in ascending order.
func (sess *session) sequences() []uint64 {
	seqs := make([]uint64, 0, len(sess.results))
	for seq := range sess.results {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return seqs
}

// Snapshot writes the session table, framed with a checksum, followed by
// the inner state machine's snapshot. See session_snapshot.go for the
// format.
func (s *Sessions) Snapshot(w io.Writer) error {
	s.mu.Lock()
	table := s.tableLocked().Marshal()
	s.mu.Unlock()
	if err := writeSessionSection(w, table); err != nil {
		return fmt.Errorf("statemachine: write session snapshot: %w", err)
	}
	if err := s.inner.Snapshot(w); err != nil {
		return fmt.Errorf("statemachine: write session snapshot: inner state machine: %w", err)
	}
	return nil
}

// Restore replaces the sessions and the inner state with a snapshot
// written by Snapshot. It returns an error wrapping ErrInvalidSnapshot if
// the session section is damaged or inconsistent. The sessions change only
// if the inner state machine's Restore succeeds too.
func (s *Sessions) Restore(r io.Reader) error {
	table, err := readSessionSection(r)
	if err != nil {
		return err
	}
	byID, lru, err := buildSessions(table)
	if err != nil {
		return err
	}
	if err := s.inner.Restore(r); err != nil {
		return fmt.Errorf("statemachine: restore session snapshot: inner state machine: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = table.Clock
	s.byID = byID
	s.lru = lru
	return nil
}

// buildSessions checks a decoded session table and returns its sessions.
func buildSessions(table *sessionwire.SessionTable) (map[string]*list.Element, *list.List, error) {
	byID := make(map[string]*list.Element, len(table.Sessions))
	lru := list.New()
	var prevUsed int64
	for i := range table.Sessions {
		state := &table.Sessions[i]
		switch {
		case state.ClientID == "":
			return nil, nil, invalidSnapshot("session %d has an empty client id", i)
		case byID[state.ClientID] != nil:
			return nil, nil, invalidSnapshot("session %q is listed twice", state.ClientID)
		case i > 0 && state.LastUsed < prevUsed:
			return nil, nil, invalidSnapshot("session %q was last used at %d, before the session listed before it (%d)",
				state.ClientID, state.LastUsed, prevUsed)
		}
		prevUsed = state.LastUsed
		sess := &session{id: state.ClientID, lastUsed: state.LastUsed, acked: state.Acked, results: make(map[uint64]*resultRecord, len(state.Results))}
		prevSeq := state.Acked
		for _, rec := range state.Results {
			if rec.Sequence <= prevSeq {
				return nil, nil, invalidSnapshot("session %q: recorded sequence %d is not above %d", state.ClientID, rec.Sequence, prevSeq)
			}
			prevSeq = rec.Sequence
			sess.results[rec.Sequence] = &resultRecord{index: rec.Index, result: rec.Result}
		}
		byID[sess.id] = lru.PushBack(sess)
	}
	return byID, lru, nil
}
