package statemachine

import (
	"bytes"
	"container/list"
	"fmt"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine/sessionwire"
)

// outcome is Apply's decision for one command of a batch.
type outcome struct {
	status sessionwire.Status
	// fresh is the command's position in the batch passed to the inner
	// state machine, or -1 when the inner state machine does not see it.
	fresh int
	// rec is the session record that holds the result, or nil for a
	// command without a client id and for the error statuses.
	rec *resultRecord
	// index is the command's log index, reported for a command without a
	// client id.
	index   uint64
	message string
}

// Apply applies a batch of session commands and returns one encoded
// sessionwire.SessionResult per command, or nil for a command with
// ResultUnused set. It decides for every command, in
// order, whether the inner state machine applies it, then passes those
// commands to the inner state machine in one Apply call, then records
// their results. A duplicate of a command earlier in the same batch gets
// that command's result.
//
// An invalid command gets a result with status Invalid and changes
// nothing but the session clock. Apply returns an error only when the
// inner state machine does. The sessions have then advanced past the
// batch, so the node must stop, as raft.StateMachine requires.
func (s *Sessions) Apply(cmds []raft.Command) ([][]byte, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	outcomes := make([]outcome, len(cmds))
	var fresh []raft.Command
	for i := range cmds {
		outcomes[i] = s.decideLocked(&cmds[i], &fresh)
	}

	var innerResults [][]byte
	if len(fresh) > 0 {
		var err error
		innerResults, err = s.inner.Apply(fresh)
		if err != nil {
			return nil, fmt.Errorf("statemachine: apply session commands: inner state machine: %w", err)
		}
		if len(innerResults) != len(fresh) {
			return nil, fmt.Errorf("statemachine: apply session commands: inner state machine returned %d results for %d commands",
				len(innerResults), len(fresh))
		}
	}
	// Records are filled before any result is encoded, so a duplicate
	// within the batch finds its result.
	for _, o := range outcomes {
		if o.fresh >= 0 && o.rec != nil {
			// The inner state machine may reuse its result buffers.
			o.rec.result = bytes.Clone(innerResults[o.fresh])
		}
	}

	results := make([][]byte, len(cmds))
	for i, o := range outcomes {
		if cmds[i].ResultUnused {
			continue
		}
		res := sessionwire.SessionResult{Status: o.status, Message: o.message}
		switch {
		case o.rec != nil:
			res.Result, res.Index = o.rec.result, o.rec.index
		case o.fresh >= 0:
			res.Result, res.Index = innerResults[o.fresh], o.index
		}
		results[i] = res.Marshal()
	}
	return results, nil
}

// decideLocked advances the session clock, expires sessions, and decides
// the outcome of cmd. A command for the inner state machine is appended
// to fresh. The caller must hold s.mu.
func (s *Sessions) decideLocked(cmd *raft.Command, fresh *[]raft.Command) outcome {
	s.clock = max(s.clock, cmd.Time)
	s.expireLocked()

	var sc sessionwire.SessionCommand
	if err := sc.Unmarshal(cmd.Data); err != nil {
		return rejected(sessionwire.StatusInvalid, "invalid session command: "+err.Error())
	}
	pass := func(rec *resultRecord) outcome {
		// A recorded result is replayed to retries, maybe on another
		// node, so it is needed even where no caller waits here.
		unused := cmd.ResultUnused && rec == nil
		*fresh = append(*fresh, raft.Command{Index: cmd.Index, Term: cmd.Term, Data: sc.Command, Time: cmd.Time, ResultUnused: unused})
		return outcome{status: sessionwire.StatusApplied, fresh: len(*fresh) - 1, rec: rec, index: cmd.Index}
	}
	if sc.ClientID == "" {
		return pass(nil)
	}
	if sc.Sequence == 0 {
		return rejected(sessionwire.StatusInvalid, fmt.Sprintf("invalid session command of client %q: sequence numbers start at 1", sc.ClientID))
	}
	if sc.Ack >= sc.Sequence {
		return rejected(sessionwire.StatusInvalid, fmt.Sprintf("invalid session command of client %q: ack %d is not below sequence %d",
			sc.ClientID, sc.Ack, sc.Sequence))
	}

	sess := s.sessionLocked(sc.ClientID)
	if sess == nil {
		if sc.Ack > 0 {
			// The client received replies in a session that no longer
			// exists. Starting a new one could apply again a command
			// whose result the old session recorded.
			return rejected(sessionwire.StatusSessionExpired, fmt.Sprintf(
				"session of client %q expired or was evicted; the command with sequence %d was not applied", sc.ClientID, sc.Sequence))
		}
		sess = s.createLocked(sc.ClientID)
	}
	sess.lastUsed = s.clock
	s.lru.MoveToBack(s.byID[sess.id])
	sess.acknowledge(sc.Ack)

	if rec, ok := sess.results[sc.Sequence]; ok {
		return outcome{status: sessionwire.StatusDuplicate, fresh: -1, rec: rec}
	}
	if sc.Sequence <= sess.acked {
		return rejected(sessionwire.StatusDiscarded, fmt.Sprintf(
			"sequence %d of client %q is at or below its acknowledged sequence %d, so its result was discarded; it was not applied again",
			sc.Sequence, sc.ClientID, sess.acked))
	}
	rec := &resultRecord{index: cmd.Index}
	sess.results[sc.Sequence] = rec
	sess.trim(s.maxResults)
	return pass(rec)
}

// rejected returns the outcome of a command that is not applied.
func rejected(status sessionwire.Status, message string) outcome {
	return outcome{status: status, fresh: -1, message: message}
}

// sessionLocked returns the session of clientID, or nil.
func (s *Sessions) sessionLocked(clientID string) *session {
	e := s.byID[clientID]
	if e == nil {
		return nil
	}
	return e.Value.(*session)
}

// createLocked adds a session, evicting the least recently used sessions
// beyond MaxSessions.
func (s *Sessions) createLocked(clientID string) *session {
	for s.lru.Len() >= s.maxSess {
		s.removeLocked(s.lru.Front())
	}
	sess := &session{id: clientID, lastUsed: s.clock, results: make(map[uint64]*resultRecord)}
	s.byID[clientID] = s.lru.PushBack(sess)
	return sess
}

// expireLocked removes the sessions last used more than the TTL before the
// session clock. They sit at the front of the LRU list.
func (s *Sessions) expireLocked() {
	cutoff := s.clock - s.ttl
	for e := s.lru.Front(); e != nil; e = s.lru.Front() {
		if e.Value.(*session).lastUsed >= cutoff {
			return
		}
		s.removeLocked(e)
	}
}

func (s *Sessions) removeLocked(e *list.Element) {
	sess := s.lru.Remove(e).(*session)
	delete(s.byID, sess.id)
}

// acknowledge discards the results at or below ack.
func (sess *session) acknowledge(ack uint64) {
	if ack <= sess.acked {
		return
	}
	sess.acked = ack
	for seq := range sess.results {
		if seq <= ack {
			delete(sess.results, seq)
		}
	}
}

// trim discards the lowest recorded results beyond limit, raising acked
// to the highest discarded sequence number.
func (sess *session) trim(limit int) {
	for len(sess.results) > limit {
		lowest := uint64(0)
		for seq := range sess.results {
			if lowest == 0 || seq < lowest {
				lowest = seq
			}
		}
		sess.acknowledge(lowest)
	}
}
