package raft

import "github.com/natsraft/natsraft/raft/wire"

// handleAppendEntries runs the receiver side of AppendEntries: the term
// check, the consistency check on PrevLogIndex/PrevLogTerm, and the append
// of the entries the log lacks.
func (c *Core) handleAppendEntries(m *wire.AppendEntriesRequest) {
	if m.Term < c.term {
		// Tell a stale leader about the newer term. An old request replayed
		// late changes nothing here.
		c.send(m.From, c.appendResponse(m, false))
		return
	}
	if m.Term > c.term || c.role != RoleFollower || c.leader != m.From {
		c.becomeFollower(m.Term, m.From)
	}
	c.electionElapsed = 0

	if m.PrevLogIndex < c.commit {
		// Entries up to the commit index are in every later leader's log,
		// so they match; keep only what lies beyond.
		m = trimCommitted(m, c.commit)
	}
	prevTerm, ok := c.log.term(m.PrevLogIndex)
	if !ok || prevTerm != m.PrevLogTerm {
		resp := c.appendResponse(m, false)
		if !ok {
			resp.ConflictIndex = c.log.last + 1
		} else {
			resp.ConflictTerm = prevTerm
			resp.ConflictIndex = c.log.firstIndexOfTerm(m.PrevLogIndex)
		}
		c.send(m.From, resp)
		return
	}

	// Skip the entries the log already holds. Only a real conflict (same
	// index, other term) truncates: a delayed duplicate whose entries all
	// match must not remove later entries this node acknowledged.
	newEntries := m.Entries
	for len(newEntries) > 0 {
		e := newEntries[0]
		t, held := c.log.term(e.Index)
		if !held {
			break
		}
		if t != e.Term {
			c.truncate(e.Index)
			break
		}
		newEntries = newEntries[1:]
	}
	for i := range newEntries {
		c.log.append(newEntries[i].Term)
		c.sizes.add(newEntries[i].Index, newEntries[i].Size())
	}
	c.ready.Entries = append(c.ready.Entries, newEntries...)

	lastNew := m.PrevLogIndex + uint64(len(m.Entries))
	if commit := min(m.LeaderCommit, lastNew); commit > c.commit {
		c.commit = commit
		c.ready.CommitIndex = commit
		c.trimSizes()
	}
	resp := c.appendResponse(m, true)
	resp.MatchIndex = lastNew
	// The acknowledgement promises the entries are durable, so it waits
	// for this and every earlier write.
	c.sendAfterPersist(m.From, resp)
	if mutationAckBeforeDurable {
		c.unpersistLastMessage(false)
	}
}

// truncate deletes the entries at index from and above from the log.
func (c *Core) truncate(from uint64) {
	c.log.truncate(from)
	c.sizes.truncate(from)
	if c.durable >= from {
		c.durable = from - 1
	}
	if c.ready.TruncateFrom == 0 || from < c.ready.TruncateFrom {
		c.ready.TruncateFrom = from
	}
	// Entries of this Ready not yet handed to the runtime at or after from
	// are gone too.
	kept := c.ready.Entries[:0]
	for _, e := range c.ready.Entries {
		if e.Index < from {
			kept = append(kept, e)
		}
	}
	c.ready.Entries = kept
}

// trimCommitted returns m with PrevLogIndex moved up to commit and the
// entries at or below it dropped.
func trimCommitted(m *wire.AppendEntriesRequest, commit uint64) *wire.AppendEntriesRequest {
	trimmed := *m
	skip := commit - m.PrevLogIndex
	if skip >= uint64(len(m.Entries)) {
		trimmed.Entries = nil
		if n := uint64(len(m.Entries)); n > 0 {
			trimmed.PrevLogIndex = m.PrevLogIndex + n
			trimmed.PrevLogTerm = m.Entries[n-1].Term
		}
	} else {
		trimmed.PrevLogIndex = commit
		trimmed.PrevLogTerm = m.Entries[skip-1].Term
		trimmed.Entries = m.Entries[skip:]
	}
	return &trimmed
}

func (c *Core) appendResponse(m *wire.AppendEntriesRequest, success bool) *wire.AppendEntriesResponse {
	return &wire.AppendEntriesResponse{
		Cluster:      c.cfg.Cluster,
		From:         c.id,
		To:           m.From,
		Term:         c.term,
		Success:      success,
		LastLogIndex: c.log.last,
		Seq:          m.Seq,
	}
}
