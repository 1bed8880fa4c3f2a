package raft

import "fmt"

// Role is a node's part in the Raft protocol.
type Role uint8

// Roles of a node.
const (
	RoleFollower Role = iota
	// RolePreCandidate polls its peers (pre-vote) before starting an election.
	RolePreCandidate
	RoleCandidate
	RoleLeader
)

func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RolePreCandidate:
		return "pre-candidate"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// EventType says what an Event reports.
type EventType uint8

// Event types.
const (
	// EventRoleChanged: Role is the node's new role.
	EventRoleChanged EventType = iota + 1
	// EventLeaderChanged: Leader is the new leader's id, or empty.
	EventLeaderChanged
	// EventTermChanged: Term is the new term.
	EventTermChanged
	// EventMembershipChanged: Voters is the new configuration.
	EventMembershipChanged
	// EventSnapshot: a snapshot through Index was taken or installed.
	EventSnapshot
	// EventError: background work failed with Err.
	EventError
)

func (t EventType) String() string {
	switch t {
	case EventRoleChanged:
		return "role-changed"
	case EventLeaderChanged:
		return "leader-changed"
	case EventTermChanged:
		return "term-changed"
	case EventMembershipChanged:
		return "membership-changed"
	case EventSnapshot:
		return "snapshot"
	case EventError:
		return "error"
	}
	return fmt.Sprintf("event(%d)", uint8(t))
}

// Event reports a change in a node's state. Fields not relevant to Type are
// zero, except Node and Term, which are always set.
type Event struct {
	Type   EventType
	Node   string
	Term   uint64
	Role   Role
	Leader string
	Voters []string
	Index  uint64
	Err    error
}
