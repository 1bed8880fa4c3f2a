package rafttest

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// Violation is a broken invariant.
type Violation struct {
	// Step is the number of the action after which it was found (1-based).
	Step int
	// Property names the invariant, for example "Election Safety".
	Property string
	// Detail says what happened, naming nodes, terms and entries.
	Detail string
}

func (v *Violation) Error() string {
	return fmt.Sprintf("%s violated at step %d: %s", v.Property, v.Step, v.Detail)
}

// entryKey identifies a log entry by index and term.
type entryKey struct{ index, term uint64 }

// registration is the first sighting of an entry in any log.
type registration struct {
	hash  uint64
	where string
	step  int
	tail  []wire.Entry // the entry and up to three before it
}

// checker holds the history the invariants are checked against. It keeps
// only the first violation.
type checker struct {
	step      int
	violation *Violation

	// leaders maps each term to the node that led in it.
	leaders map[uint64]string
	// registry maps every entry seen in any log, durable or not, to the
	// prefix hash of that log through it.
	registry map[entryKey]registration
	// commitLog holds the entries known committed, by index: the longest
	// prefix any node has reported committed.
	commitLog []wire.Entry
	// applyLog holds the entry each index was first applied with.
	applyLog []wire.Entry
	// acked are the acknowledged proposals.
	acked []*proposal
}

func newChecker() checker {
	return checker{leaders: map[uint64]string{}, registry: map[entryKey]registration{}}
}

func (c *checker) fail(property, format string, args ...any) {
	if c.violation != nil {
		return
	}
	c.violation = &Violation{Step: c.step, Property: property, Detail: fmt.Sprintf(format, args...)}
}

// commitIndex returns the highest index known committed anywhere.
func (c *checker) commitIndex() uint64 { return uint64(len(c.commitLog)) }

func sameEntry(a, b wire.Entry) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type && bytes.Equal(a.Data, b.Data)
}

// logChanged checks Log Matching for the entries of l from index from on:
// an entry with the same index and term as an entry seen in any log, at any
// time, must follow the same prefix.
func (c *checker) logChanged(node, what string, l *hashedLog, from uint64) {
	for i := max(from, 1); i <= l.last(); i++ {
		e := l.entries[i-1]
		key := entryKey{e.Index, e.Term}
		h := l.hashes[i-1]
		reg, seen := c.registry[key]
		if !seen {
			lo := uint64(max(int64(i)-4, 0))
			c.registry[key] = registration{hash: h, where: node + "'s " + what, step: c.step, tail: slices.Clone(l.entries[lo:i])}
			continue
		}
		if reg.hash != h {
			lo := uint64(max(int64(i)-4, 0))
			c.fail("Log Matching", "entry %d@%d in %s's %s follows other entries than the same entry in %s at step %d: %s has [... %s], %s had [... %s]",
				e.Index, e.Term, node, what, reg.where, reg.step, node, formatEntries(l.entries[lo:i]), reg.where, formatEntries(reg.tail))
			return
		}
	}
}

// committed records that node committed entries, which continue its
// previous commit index, and checks them against what is known committed.
func (c *checker) committed(node string, entries []wire.Entry) {
	for _, e := range entries {
		if e.Index <= c.commitIndex() {
			if want := c.commitLog[e.Index-1]; !sameEntry(want, e) {
				c.fail("State Machine Safety", "%s committed %s at index %d, where %s was committed before",
					node, formatEntry(e), e.Index, formatEntry(want))
				return
			}
			continue
		}
		c.commitLog = append(c.commitLog, e)
	}
}

// applied checks that node applies e right after index last, and that no
// node applied another entry at e's index.
func (c *checker) applied(node string, last uint64, e wire.Entry) {
	switch {
	case e.Index <= last:
		c.fail("Apply Exactly Once", "%s applied entry %s again after applying through index %d", node, formatEntry(e), last)
		return
	case e.Index != last+1:
		c.fail("Apply Exactly Once", "%s applied entry %s after index %d, skipping entries", node, formatEntry(e), last)
		return
	}
	if e.Index <= uint64(len(c.applyLog)) {
		if want := c.applyLog[e.Index-1]; !sameEntry(want, e) {
			c.fail("State Machine Safety", "%s applied %s at index %d, where another node applied %s",
				node, formatEntry(e), e.Index, formatEntry(want))
		}
		return
	}
	c.applyLog = append(c.applyLog, e)
}

// newLeader checks Election Safety and Leader Completeness when node
// becomes leader of term with log l.
func (c *checker) newLeader(node string, term uint64, l *hashedLog) {
	if other, ok := c.leaders[term]; ok && other != node {
		c.fail("Election Safety", "%s became leader in term %d, which %s already led", node, term, other)
		return
	}
	c.leaders[term] = node
	for i, want := range c.commitLog {
		if i >= len(l.entries) {
			c.fail("Leader Completeness", "%s became leader in term %d with last index %d, but entries through %d were committed",
				node, term, l.last(), c.commitIndex())
			return
		}
		if got := l.entries[i]; !sameEntry(got, want) {
			c.fail("Leader Completeness", "%s became leader in term %d holding %s at index %d, but %s was committed there",
				node, term, formatEntry(got), i+1, formatEntry(want))
			return
		}
	}
}

func (c *checker) acknowledged(p *proposal) { c.acked = append(c.acked, p) }

// checkAcknowledged checks that every acknowledged proposal is committed at
// its index.
func (c *checker) checkAcknowledged() {
	for _, p := range c.acked {
		if p.index > c.commitIndex() {
			c.fail("Durability", "proposal %s was acknowledged at index %d, but only %d entries are known committed", p.data, p.index, c.commitIndex())
			return
		}
		if e := c.commitLog[p.index-1]; e.Term != p.term || string(e.Data) != p.data {
			c.fail("Durability", "proposal %s was acknowledged at index %d, but %s is committed there", p.data, p.index, formatEntry(e))
			return
		}
	}
}

// checkLeaderWrite fails if a node that leads truncates its own log.
func (s *Sim) checkLeaderWrite(n *node, rd raft.Ready) {
	if rd.TruncateFrom == 0 || n.leaderTerm == 0 || n.core.Role() != raft.RoleLeader || n.core.Term() != n.leaderTerm {
		return
	}
	s.check.fail("Leader Append-Only", "%s, leader of term %d, truncated its log from index %d", n.id, n.leaderTerm, rd.TruncateFrom)
}

// checkNode checks the per-node invariants after n processed an input.
func (s *Sim) checkNode(n *node) {
	c := n.core
	if c == nil {
		return
	}
	if c.CommitIndex() < n.commit {
		s.check.fail("Monotonic Commit", "%s's commit index went back from %d to %d", n.id, n.commit, c.CommitIndex())
	}
	if n.applied > n.commit {
		s.check.fail("Apply Within Commit", "%s applied through %d past its commit index %d", n.id, n.applied, n.commit)
	}
	if c.Role() != raft.RoleLeader {
		n.leaderTerm = 0
		return
	}
	if other, ok := s.check.leaders[c.Term()]; !ok || other != n.id {
		s.check.fail("Election Safety", "%s leads term %d, but %s", n.id, c.Term(), leaderNote(other, ok))
	}
	if n.leaderTerm != c.Term() {
		return
	}
	for _, p := range s.ids {
		if m := c.Match(p); p != n.id && m < n.matches[p] {
			s.check.fail("Leader Progress", "%s, leader of term %d, moved %s's match index back from %d to %d",
				n.id, n.leaderTerm, p, n.matches[p], m)
		} else {
			n.matches[p] = m
		}
	}
	v := &n.st.view
	if v.last() < n.leaderLast || v.hashAt(n.leaderLast) != n.leaderHash {
		s.check.fail("Leader Append-Only", "%s, leader of term %d, changed its log through index %d: it now ends %s",
			n.id, n.leaderTerm, n.leaderLast, formatEntries(v.entries[max(int(v.last())-3, 0):]))
	}
	n.leaderLast, n.leaderHash = v.last(), v.hashAt(v.last())
}

func leaderNote(other string, ok bool) string {
	if !ok {
		return "it never announced its leadership"
	}
	return other + " was recorded as that term's leader"
}
