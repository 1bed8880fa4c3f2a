package natstransport

import (
	"log/slog"
	"sync"
	"time"

	"github.com/natsraft/natsraft/raft/wire"
)

// addressed is implemented by every peer message: the ids every message
// carries so a node can reject traffic that is not for it.
type addressed interface {
	GetCluster() string
	GetFrom() string
	GetTo() string
}

// filter is the wire.PeerHandler the transport dispatches to. It passes a
// decoded message to the application's handler only if the message belongs
// to this cluster, is addressed to this node and comes from a known peer.
type filter struct {
	t    *Transport
	h    wire.PeerHandler
	base string // the subject root this filter's subscription covers
	// broadcast marks the filter of "<prefix>.<cluster>.all.>": its
	// messages have an empty recipient, and the node's own are skipped.
	broadcast bool
}

// accept reports whether m may reach the handler, counting and logging it
// when it may not.
func (f *filter) accept(m addressed, suffix string) bool {
	t := f.t
	switch {
	case m.GetCluster() != t.cfg.Cluster:
		t.counters.wrongCluster.Add(1)
		t.drops.report(reasonWrongCluster, "message", suffix, "message_cluster", m.GetCluster(), "peer", m.GetFrom())
		return false
	case f.broadcast && m.GetFrom() == t.cfg.Node:
		// NATS echoes a node's own broadcasts back to it.
		return false
	case f.broadcast && m.GetTo() != "", !f.broadcast && m.GetTo() != t.cfg.Node:
		t.counters.wrongTo.Add(1)
		t.drops.report(reasonWrongRecipient, "message", suffix, "recipient", m.GetTo(), "peer", m.GetFrom())
		return false
	}
	if _, ok := (*t.peers.Load())[m.GetFrom()]; !ok {
		t.counters.unknownFrom.Add(1)
		t.drops.report(reasonUnknownSender, "message", suffix, "peer", m.GetFrom())
		return false
	}
	t.counters.received.Add(1)
	return true
}

func (f *filter) HandleRequestVote(m *wire.VoteRequest) {
	if f.accept(m, wire.SubjectRequestVote) {
		f.h.HandleRequestVote(m)
	}
}

func (f *filter) HandleRequestVoteResponse(m *wire.VoteResponse) {
	if f.accept(m, wire.SubjectRequestVoteResponse) {
		f.h.HandleRequestVoteResponse(m)
	}
}

func (f *filter) HandleAppendEntries(m *wire.AppendEntriesRequest) {
	if f.accept(m, wire.SubjectAppendEntries) {
		f.h.HandleAppendEntries(m)
	}
}

func (f *filter) HandleAppendEntriesResponse(m *wire.AppendEntriesResponse) {
	if f.accept(m, wire.SubjectAppendEntriesResponse) {
		f.h.HandleAppendEntriesResponse(m)
	}
}

func (f *filter) HandleInstallSnapshot(m *wire.InstallSnapshotRequest) {
	if f.accept(m, wire.SubjectInstallSnapshot) {
		f.h.HandleInstallSnapshot(m)
	}
}

func (f *filter) HandleInstallSnapshotResponse(m *wire.InstallSnapshotResponse) {
	if f.accept(m, wire.SubjectInstallSnapshotResponse) {
		f.h.HandleInstallSnapshotResponse(m)
	}
}

func (f *filter) HandleTimeoutNow(m *wire.TimeoutNowRequest) {
	if f.accept(m, wire.SubjectTimeoutNow) {
		f.h.HandleTimeoutNow(m)
	}
}

// Reasons for dropping a message, as logged.
const (
	reasonMalformed      = "malformed"
	reasonUnknownSubject = "unknown subject"
	reasonWrongCluster   = "wrong cluster"
	reasonWrongRecipient = "wrong recipient"
	reasonUnknownSender  = "unknown sender"
	reasonNoReply        = "no reply subject"
	reasonOverloaded     = "overloaded"
)

// dropLogInterval is the minimum time between two log lines for the same
// drop reason. Drops in between are counted and reported with the next line.
const dropLogInterval = 5 * time.Second

// dropLog writes rate-limited warnings about dropped messages: at most one
// line per reason per dropLogInterval.
type dropLog struct {
	log *slog.Logger

	mu      sync.Mutex
	reasons map[string]*dropReason
}

type dropReason struct {
	last       time.Time
	suppressed uint64 // drops since the last line that were not logged
}

// report logs one dropped message, or counts it if a line for reason was
// written less than dropLogInterval ago.
func (d *dropLog) report(reason string, attrs ...any) {
	now := time.Now()
	d.mu.Lock()
	if d.reasons == nil {
		d.reasons = make(map[string]*dropReason)
	}
	r := d.reasons[reason]
	if r == nil {
		r = &dropReason{}
		d.reasons[reason] = r
	}
	if !r.last.IsZero() && now.Sub(r.last) < dropLogInterval {
		r.suppressed++
		d.mu.Unlock()
		return
	}
	suppressed := r.suppressed
	r.last = now
	r.suppressed = 0
	d.mu.Unlock()

	args := make([]any, 0, len(attrs)+4)
	args = append(args, "reason", reason, "dropped_since_last_report", suppressed+1)
	args = append(args, attrs...)
	d.log.Warn("dropped message", args...)
}
