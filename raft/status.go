package raft

import (
	"slices"
	"sync/atomic"
)

// Status is a snapshot of a node's Raft state.
type Status struct {
	ID      string
	Cluster string
	Role    Role
	Term    uint64
	// Leader is the id of the leader this node follows, or "" if unknown.
	Leader       string
	FirstIndex   uint64
	LastIndex    uint64
	CommitIndex  uint64
	AppliedIndex uint64
	Voters       []string
}

// statusCell publishes the node loop's view of the core to other
// goroutines. The indexes change on almost every loop iteration, so they
// are atomics. The rarely changing fields sit behind one pointer, which is
// replaced only when one of them changes.
type statusCell struct {
	first, last, commit atomic.Uint64
	slow                atomic.Pointer[statusSlow]
}

type statusSlow struct {
	role   Role
	term   uint64
	leader string
	voters []string
}

// publishStatus stores the core's current state for Status; only the node
// loop (and NewNode, before the loop starts) calls it.
func (n *Node) publishStatus() {
	c := n.core
	cell := &n.status
	cell.first.Store(c.FirstIndex())
	cell.last.Store(c.LastIndex())
	cell.commit.Store(c.CommitIndex())
	old := cell.slow.Load()
	if old == nil || old.role != c.Role() || old.term != c.Term() || old.leader != c.Leader() || !slices.Equal(old.voters, c.voters) {
		cell.slow.Store(&statusSlow{role: c.Role(), term: c.Term(), leader: c.Leader(), voters: c.Voters()})
	}
}

// Status returns the node's current state. The fields are read one by one
// while the node runs, so they may come from neighbouring moments, but
// each is a value the node really had.
func (n *Node) Status() Status {
	slow := n.status.slow.Load()
	return Status{
		ID:           n.cfg.ID,
		Cluster:      n.cfg.Cluster,
		Role:         slow.role,
		Term:         slow.term,
		Leader:       slow.leader,
		FirstIndex:   n.status.first.Load(),
		LastIndex:    n.status.last.Load(),
		CommitIndex:  n.status.commit.Load(),
		AppliedIndex: n.applier.applied.Load(),
		Voters:       slices.Clone(slow.voters),
	}
}

// Leader returns the id of the leader this node follows, or "" if unknown.
func (n *Node) Leader() string { return n.status.slow.Load().leader }

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool { return n.status.slow.Load().role == RoleLeader }
