package raft

// Status is a snapshot of a node's Raft state.
type Status struct {
	ID      string
	Cluster string
	Role    Role
	Term    uint64
	// Leader is the leader's id as this node knows it, or "".
	Leader       string
	FirstIndex   uint64
	LastIndex    uint64
	CommitIndex  uint64
	AppliedIndex uint64
	Voters       []string
}

// publishStatus stores the core's current state for Status; only the node
// loop (and NewNode, before the loop starts) calls it.
func (n *Node) publishStatus() {
	c := n.core
	n.status.Store(&Status{
		ID:          n.cfg.ID,
		Cluster:     n.cfg.Cluster,
		Role:        c.Role(),
		Term:        c.Term(),
		Leader:      c.Leader(),
		FirstIndex:  c.FirstIndex(),
		LastIndex:   c.LastIndex(),
		CommitIndex: c.CommitIndex(),
		Voters:      c.voters,
	})
}

// Status returns the node's current state.
func (n *Node) Status() Status {
	st := *n.status.Load()
	st.AppliedIndex = n.applier.applied.Load()
	st.Voters = append([]string(nil), st.Voters...)
	return st
}

// Leader returns the leader's id as this node knows it, or "".
func (n *Node) Leader() string { return n.status.Load().Leader }

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool { return n.status.Load().Role == RoleLeader }
