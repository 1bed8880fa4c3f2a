package rafttest

import (
	"fmt"
	"strings"

	"github.com/natsraft/natsraft/raft/wire"
)

// link is a one-way connection between two nodes.
type link struct{ from, to string }

func (l link) String() string { return l.from + "->" + l.to }

// flight is a message in the network.
type flight struct {
	id       uint64 // sequence number, in sending order
	from, to string
	msg      wire.Message
}

// network holds the messages in flight in sending order, and the links that
// are cut (messages on them are lost on delivery) or held (messages on them
// wait until released).
type network struct {
	queue  []flight
	nextID uint64
	cut    map[link]bool
	held   map[link]bool
}

func newNetwork() network {
	return network{cut: map[link]bool{}, held: map[link]bool{}}
}

func (n *network) send(from, to string, m wire.Message) {
	n.nextID++
	n.queue = append(n.queue, flight{id: n.nextID, from: from, to: to, msg: m})
}

// positions returns the queue positions of the messages on l that match
// kind ("" matches every kind), in sending order.
func (n *network) positions(l link, kind string) []int {
	var out []int
	for i, f := range n.queue {
		if f.from == l.from && f.to == l.to && (kind == "" || messageKind(f.msg) == kind) {
			out = append(out, i)
		}
	}
	return out
}

// take removes and returns the pos-th message on l (0 is the oldest).
func (n *network) take(l link, pos int) (flight, bool) {
	ps := n.positions(l, "")
	if pos < 0 || pos >= len(ps) {
		return flight{}, false
	}
	f := n.queue[ps[pos]]
	n.queue = append(n.queue[:ps[pos]], n.queue[ps[pos]+1:]...)
	return f, true
}

// peek returns the pos-th message on l without removing it.
func (n *network) peek(l link, pos int) (flight, bool) {
	ps := n.positions(l, "")
	if pos < 0 || pos >= len(ps) {
		return flight{}, false
	}
	return n.queue[ps[pos]], true
}

// links returns the links with queued messages, in order of their oldest
// message. held links are left out when skipHeld is set.
func (n *network) links(skipHeld bool) []link {
	var out []link
	seen := map[link]bool{}
	for _, f := range n.queue {
		l := link{f.from, f.to}
		if seen[l] || (skipHeld && n.held[l]) {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	return out
}

// count returns the number of queued messages on l.
func (n *network) count(l link) int {
	c := 0
	for _, f := range n.queue {
		if f.from == l.from && f.to == l.to {
			c++
		}
	}
	return c
}

// messageKind names a message's type as scripts write it.
func messageKind(m wire.Message) string {
	switch m := m.(type) {
	case *wire.VoteRequest:
		if m.PreVote {
			return "prevote"
		}
		return "vote"
	case *wire.VoteResponse:
		if m.PreVote {
			return "prevote-resp"
		}
		return "vote-resp"
	case *wire.AppendEntriesRequest:
		return "append"
	case *wire.AppendEntriesResponse:
		return "append-resp"
	case *wire.TimeoutNowRequest:
		return "timeout-now"
	case *wire.InstallSnapshotRequest:
		return "snapshot"
	case *wire.InstallSnapshotResponse:
		return "snapshot-resp"
	}
	return m.Kind().String()
}

// messageKinds lists the kinds messageKind returns, for script validation.
var messageKinds = []string{"prevote", "vote", "prevote-resp", "vote-resp", "append", "append-resp",
	"timeout-now", "snapshot", "snapshot-resp"}

// cloneMessage returns a deep copy of m made through its wire encoding, as a
// real transport would deliver it.
func cloneMessage(m wire.Message) wire.Message {
	c := wire.NewMessage(m.Kind())
	if err := c.Unmarshal(m.MarshalAppend(nil)); err != nil {
		panic(fmt.Sprintf("rafttest: %v does not decode its own encoding: %v", m.Kind(), err))
	}
	return c
}

// formatMessage describes a message in one line, as scenario outputs show it.
func formatMessage(from, to string, m wire.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s->%s %s", from, to, messageKind(m))
	switch m := m.(type) {
	case *wire.VoteRequest:
		fmt.Fprintf(&b, " term=%d last=%d@%d", m.Term, m.LastLogIndex, m.LastLogTerm)
		if m.Transfer {
			b.WriteString(" transfer")
		}
	case *wire.VoteResponse:
		fmt.Fprintf(&b, " term=%d", m.Term)
		if m.Granted {
			b.WriteString(" granted")
		} else {
			b.WriteString(" rejected")
		}
	case *wire.AppendEntriesRequest:
		fmt.Fprintf(&b, " term=%d prev=%d@%d commit=%d", m.Term, m.PrevLogIndex, m.PrevLogTerm, m.LeaderCommit)
		if len(m.Entries) > 0 {
			fmt.Fprintf(&b, " entries=[%s]", formatEntries(m.Entries))
		}
	case *wire.AppendEntriesResponse:
		fmt.Fprintf(&b, " term=%d", m.Term)
		if m.Success {
			fmt.Fprintf(&b, " ok match=%d", m.MatchIndex)
		} else {
			fmt.Fprintf(&b, " rejected hint=%d/%d last=%d", m.ConflictIndex, m.ConflictTerm, m.LastLogIndex)
		}
	case *wire.TimeoutNowRequest:
		fmt.Fprintf(&b, " term=%d", m.Term)
	}
	return b.String()
}

// formatEntry shows an entry as index@term, followed by :data for a command
// with data.
func formatEntry(e wire.Entry) string {
	if len(e.Data) == 0 || e.Type != wire.EntryTypeCommand {
		return fmt.Sprintf("%d@%d", e.Index, e.Term)
	}
	return fmt.Sprintf("%d@%d:%s", e.Index, e.Term, e.Data)
}

func formatEntries(es []wire.Entry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = formatEntry(e)
	}
	return strings.Join(parts, " ")
}
