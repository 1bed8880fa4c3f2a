package raft

// batchGate bounds the proposal batches a leader has appended and not yet
// committed (Config.MaxInflightBatches). The node loop owns it.
type batchGate struct {
	max int
	// term is the term of the batches in ends.
	term uint64
	// ends contains the last index of each batch in flight, ascending.
	ends []uint64
}

// open reports whether the node loop may append another batch. It drops
// the batches that committed. It drops all of them when the node no longer
// leads in their term, because their entries may never commit and the
// proposals queued on a node that is not the leader must reach
// handleProposals to fail with NotLeader.
func (g *batchGate) open(role Role, term, commit uint64) bool {
	if role != RoleLeader || term != g.term {
		g.ends = g.ends[:0]
		g.term = term
		return true
	}
	done := 0
	for done < len(g.ends) && g.ends[done] <= commit {
		done++
	}
	if done > 0 {
		g.ends = g.ends[:copy(g.ends, g.ends[done:])]
	}
	return len(g.ends) < g.max
}

// appended records a batch appended in term whose last entry is at last.
func (g *batchGate) appended(term, last uint64) {
	if term != g.term {
		g.ends = g.ends[:0]
		g.term = term
	}
	g.ends = append(g.ends, last)
}
