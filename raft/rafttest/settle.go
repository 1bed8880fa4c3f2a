package rafttest

import (
	"fmt"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// maxQuiesceActions bounds one Stabilize: without ticks the messages stop,
// so a run that long means a message storm.
const maxQuiesceActions = 100000

// Stabilize syncs every running node and delivers every message on a link
// that is not held, oldest first, until no write is pending and no message
// is left to deliver. It does not tick, so no timeout fires.
func (s *Sim) Stabilize() error {
	for taken := 0; ; {
		progress := false
		for _, n := range s.nodes {
			if n.core != nil && len(n.st.pending) > 0 {
				if err := s.Do(Action{Kind: ActSync, Node: n.id}); err != nil {
					return err
				}
				progress = true
				taken++
			}
		}
		for _, l := range s.net.links(true) {
			for s.net.count(l) > 0 && !s.net.held[l] {
				if err := s.Do(Action{Kind: ActDeliver, From: l.from, To: l.to}); err != nil {
					return err
				}
				progress = true
				taken++
			}
		}
		if !progress || s.Violation() != nil {
			return nil
		}
		if taken > maxQuiesceActions {
			s.check.fail("Liveness", "messages kept flowing for %d actions without ticks", taken)
			return nil
		}
	}
}

// settleRounds bounds Settle, in rounds of one tick per node.
const settleRoundsPerElection = 100

// Settle ends a schedule: it heals every link, releases held links,
// restarts the crashed nodes and then ticks every node and stabilizes,
// round after round, until one leader that every node follows has committed
// a new entry on every node. It records a Liveness violation if that takes
// more than 100 election timeouts, and a Durability violation if an
// acknowledged proposal is not committed.
func (s *Sim) Settle() error {
	if err := s.Do(Action{Kind: ActHeal}); err != nil {
		return err
	}
	s.net.held = map[link]bool{}
	for _, n := range s.nodes {
		if n.core == nil {
			if err := s.Do(Action{Kind: ActRestart, Node: n.id}); err != nil {
				return err
			}
		}
	}
	// The marker is a new entry of the agreed leader's term: once every
	// node has committed it, the cluster makes progress. A marker of an
	// earlier leader may be overwritten, so each new leader proposes its
	// own.
	var markerTerm, markerIndex uint64
	rounds := settleRoundsPerElection * s.cfg.ElectionTicks
	for round := 0; round < rounds; round++ {
		if err := s.Stabilize(); err != nil || s.Violation() != nil {
			return err
		}
		if leader := s.agreedLeader(); leader != nil {
			if term := leader.core.Term(); markerTerm != term {
				if _, index, err := leader.core.Propose([]wire.Entry{{Type: wire.EntryTypeNoop}}); err == nil {
					markerTerm, markerIndex = term, index
					s.process(leader)
					continue
				}
			}
			if s.allCommitted(markerTerm, markerIndex) {
				s.check.checkAcknowledged()
				return nil
			}
		}
		for _, n := range s.nodes {
			if err := s.Do(Action{Kind: ActTick, Node: n.id}); err != nil {
				return err
			}
		}
	}
	s.check.fail("Liveness", "no leader committed a new entry on every node within %d rounds of ticks after the faults ended:\n%s",
		rounds, s.Status())
	return nil
}

// agreedLeader returns the leader that every node follows in its term, or
// nil.
func (s *Sim) agreedLeader() *node {
	var leader *node
	for _, n := range s.nodes {
		if n.core != nil && n.core.Role() == raft.RoleLeader {
			leader = n
		}
	}
	if leader == nil {
		return nil
	}
	for _, n := range s.nodes {
		if n.core == nil || n.core.Leader() != leader.id || n.core.Term() != leader.core.Term() {
			return nil
		}
	}
	return leader
}

// allCommitted reports whether every node committed the entry at index,
// and it has term.
func (s *Sim) allCommitted(term, index uint64) bool {
	if index == 0 || index > s.check.commitIndex() || s.check.commitLog[index-1].Term != term {
		return false
	}
	for _, n := range s.nodes {
		if n.core == nil || n.commit < index {
			return false
		}
	}
	return true
}

// String returns the cluster's status, for failure messages.
func (s *Sim) String() string { return fmt.Sprintf("cluster %s\n%s", s.cfg, s.Status()) }
