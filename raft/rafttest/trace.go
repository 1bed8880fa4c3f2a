package rafttest

import (
	"fmt"
	"strings"
)

// traceLevel classifies trace lines.
type traceLevel uint8

const (
	// traceEvent lines report role changes, commits, proposal and read
	// outcomes, crashes and restarts.
	traceEvent traceLevel = iota
	// traceMessage lines report each message delivered, duplicated, dropped
	// or lost.
	traceMessage
)

// tracer collects trace lines while a trace is on.
type tracer struct {
	messages bool // keep traceMessage lines too
	lines    []string
}

// EnableTrace starts collecting trace lines: role changes, commits,
// proposal and read outcomes, crashes and restarts, and with messages each
// message delivered, duplicated, dropped or lost. Tracing costs time, so
// random schedules run without it.
func (s *Sim) EnableTrace(messages bool) { s.trace = &tracer{messages: messages} }

// TakeTrace returns the trace lines collected so far and clears them.
func (s *Sim) TakeTrace() []string {
	if s.trace == nil {
		return nil
	}
	lines := s.trace.lines
	s.trace.lines = nil
	return lines
}

func (s *Sim) tracef(level traceLevel, format string, args ...any) {
	t := s.trace
	if t == nil || (level == traceMessage && !t.messages) {
		return
	}
	t.lines = append(t.lines, fmt.Sprintf(format, args...))
}

// Status describes every node in one line each: role, term, leader, vote
// and indexes, or the durable state of a crashed node.
func (s *Sim) Status() string {
	var b strings.Builder
	for _, n := range s.nodes {
		if n.core == nil {
			fmt.Fprintf(&b, "%s: down term=%d vote=%s durable=%d\n", n.id, n.st.hardState.Term, orNone(n.st.hardState.Vote), n.st.durable.last())
			continue
		}
		c := n.core
		fmt.Fprintf(&b, "%s: %s term=%d leader=%s vote=%s last=%d commit=%d applied=%d durable=%d unsynced=%d\n",
			n.id, c.Role(), c.Term(), orNone(c.Leader()), orNone(c.Vote()), c.LastIndex(), n.commit, n.applied,
			n.st.durable.last(), len(n.st.pending))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Log describes node id's log, and its durable log when that differs.
func (s *Sim) Log(id string) (string, error) {
	n, err := s.node(id)
	if err != nil {
		return "", err
	}
	out := fmt.Sprintf("%s log: %s", n.id, orEmpty(formatEntries(n.st.view.entries)))
	if n.st.view.last() != n.st.durable.last() || n.st.view.hashAt(n.st.view.last()) != n.st.durable.hashAt(n.st.durable.last()) {
		out += fmt.Sprintf("\n%s durable: %s", n.id, orEmpty(formatEntries(n.st.durable.entries)))
	}
	return out, nil
}

func orEmpty(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// Queue describes the messages in flight, oldest first, marking those on
// cut or held links.
func (s *Sim) Queue() string {
	if len(s.net.queue) == 0 {
		return "(no messages)"
	}
	var b strings.Builder
	for _, f := range s.net.queue {
		l := link{f.from, f.to}
		b.WriteString(formatMessage(f.from, f.to, f.msg))
		if s.net.cut[l] {
			b.WriteString(" (cut)")
		}
		if s.net.held[l] {
			b.WriteString(" (held)")
		}
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}
