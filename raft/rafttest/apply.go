package rafttest

import (
	"fmt"
	"slices"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// propose proposes one command on n, as a client would on the node it
// believes leads. A name "v<N>" is generated when data is empty.
func (s *Sim) propose(n *node, data string) {
	if n.core == nil {
		s.tracef(traceEvent, "propose on %s failed: node is down", n.id)
		return
	}
	s.proposalCount++
	if data == "" {
		data = fmt.Sprintf("v%d", s.proposalCount)
	}
	term, index, err := n.core.Propose([]wire.Entry{{Type: wire.EntryTypeCommand, Data: []byte(data)}})
	if err != nil {
		s.tracef(traceEvent, "propose %s on %s rejected: %v", data, n.id, err)
		s.process(n)
		return
	}
	n.proposals = append(n.proposals, &proposal{data: data, node: n.id, term: term, index: index})
	s.tracef(traceEvent, "%s appended %s at index %d in term %d", n.id, data, index, term)
	s.process(n)
}

// resolveProposals ends every pending proposal of n with outcome.
func (s *Sim) resolveProposals(n *node, outcome string) {
	for _, p := range n.proposals {
		s.stats.Proposals++
		s.tracef(traceEvent, "proposal %s (index %d, term %d): %s", p.data, p.index, p.term, outcome)
	}
	n.proposals = nil
}

// advanceCommit records n's new commit index and applies up to it.
func (s *Sim) advanceCommit(n *node, commit uint64) {
	if commit <= n.commit {
		s.check.fail("Monotonic Commit", "%s reported commit index %d after %d", n.id, commit, n.commit)
		return
	}
	if commit > n.st.view.last() {
		s.check.fail("Monotonic Commit", "%s reported commit index %d beyond its last index %d", n.id, commit, n.st.view.last())
		return
	}
	s.check.committed(n.id, n.st.view.entries[n.commit:commit])
	n.commit = commit
	s.hashCommit(n.id, commit)
	s.tracef(traceEvent, "%s committed through %d", n.id, commit)
	s.apply(n)
}

// apply applies n's committed entries in order, each once, as the runtime's
// applier does, then resolves the proposals and reads waiting on them.
func (s *Sim) apply(n *node) {
	for n.applied < n.commit {
		e := n.st.view.entries[n.applied]
		s.check.applied(n.id, n.applied, e)
		if raft.Mutation == "apply_twice" {
			// The mutation check's planted bug: apply the entry again.
			s.check.applied(n.id, e.Index, e)
		}
		n.applied = e.Index
		s.ackProposal(n, e)
	}
	s.serveReads(n)
}

func (s *Sim) ackProposal(n *node, e wire.Entry) {
	i := slices.IndexFunc(n.proposals, func(p *proposal) bool { return p.index == e.Index })
	if i < 0 {
		return
	}
	p := n.proposals[i]
	n.proposals = slices.Delete(n.proposals, i, i+1)
	s.stats.Proposals++
	if p.term == e.Term && p.data == string(e.Data) {
		s.tracef(traceEvent, "proposal %s (index %d, term %d): acknowledged", p.data, p.index, p.term)
		s.check.acknowledged(p)
		return
	}
	s.tracef(traceEvent, "proposal %s (index %d, term %d): not applied, index %d holds %s",
		p.data, p.index, p.term, e.Index, formatEntry(e))
}

// read starts a linearizable read on n.
func (s *Sim) read(n *node) {
	if n.core == nil {
		s.tracef(traceEvent, "read on %s failed: node is down", n.id)
		return
	}
	s.readCount++
	r := &readOp{id: s.readCount, node: n.id, minIndex: s.check.commitIndex()}
	if err := n.core.ReadIndex(r.id); err != nil {
		s.tracef(traceEvent, "read %d on %s rejected: %v", r.id, n.id, err)
		s.process(n)
		return
	}
	n.reads = append(n.reads, r)
	s.tracef(traceEvent, "read %d started on %s, %d known committed", r.id, n.id, r.minIndex)
	s.process(n)
}

func (s *Sim) confirmRead(n *node, rs raft.ReadState) {
	i := slices.IndexFunc(n.reads, func(r *readOp) bool { return r.id == rs.ID })
	if i < 0 {
		s.check.fail("Linearizable Read", "%s confirmed read %d, which it never started", n.id, rs.ID)
		return
	}
	r := n.reads[i]
	if r.released {
		s.check.fail("Linearizable Read", "%s confirmed read %d twice", n.id, rs.ID)
		return
	}
	r.released, r.index = true, rs.Index
	s.stats.Reads++
	if rs.Index < r.minIndex {
		s.check.fail("Linearizable Read", "%s confirmed read %d at index %d, but index %d was committed before the read began",
			n.id, rs.ID, rs.Index, r.minIndex)
		return
	}
	s.tracef(traceEvent, "read %d on %s confirmed at index %d", r.id, n.id, r.index)
	s.serveReads(n)
}

// serveReads completes the confirmed reads whose index n has applied.
func (s *Sim) serveReads(n *node) {
	kept := n.reads[:0]
	for _, r := range n.reads {
		if r.released && r.index <= n.applied {
			s.tracef(traceEvent, "read %d on %s served at applied index %d", r.id, n.id, n.applied)
			continue
		}
		kept = append(kept, r)
	}
	n.reads = kept
}

func (s *Sim) failRead(n *node, id uint64, reason string) {
	i := slices.IndexFunc(n.reads, func(r *readOp) bool { return r.id == id })
	if i < 0 {
		s.check.fail("Linearizable Read", "%s failed read %d, which it never started", n.id, id)
		return
	}
	n.reads = slices.Delete(n.reads, i, i+1)
	s.tracef(traceEvent, "read %d on %s failed: %s", id, n.id, reason)
}

// event traces role changes and checks every new leader.
func (s *Sim) event(n *node, e raft.Event) {
	if e.Type != raft.EventRoleChanged {
		return
	}
	s.tracef(traceEvent, "%s became %s in term %d", n.id, e.Role, e.Term)
	if e.Role == raft.RoleLeader {
		s.check.newLeader(n.id, e.Term, &n.st.view)
		n.leaderTerm, n.leaderLast, n.leaderHash = e.Term, n.st.view.last(), n.st.view.hashAt(n.st.view.last())
		n.matches = map[string]uint64{}
	}
}

func (s *Sim) hashCommit(id string, commit uint64) {
	b := append([]byte{'C'}, id...)
	b = append(b, 0)
	b = append(b, byte(commit), byte(commit>>8), byte(commit>>16), byte(commit>>24))
	s.hash.Write(b)
}
