package raft

import (
	"github.com/natsraft/natsraft/raft/wire"
)

// processReady carries out the core's accumulated work, in the order the
// Ready's rules require.
func (n *Node) processReady() {
	rd := n.core.TakeReady()
	if rd.empty() {
		return
	}
	if n.core.Role() == RoleLeader {
		n.leaderTerm.Store(n.core.Term())
	} else {
		n.leaderTerm.Store(0)
	}
	// The cache first: replication streams read new entries from it.
	if rd.TruncateFrom != 0 {
		n.cache.truncate(rd.TruncateFrom)
	}
	n.cache.append(rd.Entries)

	if rd.LostLeadership {
		n.applier.failWaiters(OutcomeUnknown(ErrLeadershipLost))
	}
	for _, id := range rd.ReadsFailed {
		if r := n.readWaiters[id]; r != nil {
			delete(n.readWaiters, id)
			r.finish(readResult{err: &NotLeaderError{Leader: n.core.Leader()}})
		}
	}

	for _, env := range rd.Messages {
		n.send(env)
	}
	if len(rd.Messages) > 0 {
		n.flushTransport()
	}

	if rd.needsWrite() {
		job := writeJob{
			hardState:    rd.HardState,
			truncateFrom: rd.TruncateFrom,
			entries:      rd.Entries,
			messages:     rd.PersistedMessages,
		}
		if !n.writer.submit(job) {
			return
		}
	}
	n.durableHint.Store(n.core.DurableIndex())

	if rd.CommitIndex != 0 {
		n.applier.setCommit(rd.CommitIndex)
	}
	for _, rs := range rd.ReadStates {
		if r := n.readWaiters[rs.ID]; r != nil {
			delete(n.readWaiters, rs.ID)
			r.index = rs.Index
			n.applier.addRead(r)
		}
	}
	for _, e := range rd.Events {
		n.logEvent(e)
		n.events.publish(e)
	}
	n.metrics.observeReady(&rd, n.core.Role())
	n.publishStatus()
}

func (n *Node) logEvent(e Event) {
	switch e.Type {
	case EventRoleChanged:
		n.log.Info("role changed", "term", e.Term, "role", e.Role.String())
	case EventLeaderChanged:
		n.log.Info("leader changed", "term", e.Term, "leader", e.Leader)
	}
}

// send hands env to its peer's replication stream when it carries entries,
// and to the transport directly otherwise.
func (n *Node) send(env Envelope) {
	if env.Hi > env.Lo {
		if s := n.streams[env.To]; s != nil {
			s.enqueue(env)
		}
		return
	}
	err := n.tr.Send(env.To, env.Msg)
	n.metrics.messageSent(env.Msg.Kind(), err)
	if err != nil {
		n.log.Debug("send failed", "peer", env.To, "kind", env.Msg.Kind().String(), "err", err)
	}
}

func (n *Node) flushTransport() {
	if err := n.tr.Flush(); err != nil {
		n.log.Debug("flush transport", "err", err)
	}
}

// readEntries returns entries [lo, hi) up to maxBytes, from the cache when
// it holds lo and from the log store otherwise.
func (n *Node) readEntries(lo, hi uint64, maxBytes int) ([]wire.Entry, error) {
	if ents, ok := n.cache.get(lo, hi, maxBytes); ok {
		return ents, nil
	}
	if first := n.cache.firstIndex(); first > lo && first < hi {
		hi = first
	}
	return n.logs.Entries(lo, hi, maxBytes)
}
