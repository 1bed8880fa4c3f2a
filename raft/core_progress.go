package raft

type progressState uint8

// inflightEnvelope is an AppendEntries envelope in flight: the index of its
// last entry and the encoded size of its entries.
type inflightEnvelope struct {
	last  uint64
	bytes uint64
}

const (
	// progressProbe: the leader does not know where the follower's log
	// matches, and sends one AppendEntries at a time until one succeeds.
	progressProbe progressState = iota
	// progressReplicate: the follower is in step; the leader streams
	// AppendEntries without waiting, up to MaxInflight envelopes.
	progressReplicate
)

// progress is the leader's view of one follower. Only the core touches it.
type progress struct {
	// match is the highest index known to be replicated on the follower.
	// It never decreases within a term.
	match uint64
	// next is the index of the next entry to send; next > match always.
	next  uint64
	state progressState
	// probeSent pauses a probing follower until a response or a heartbeat.
	probeSent bool
	// inflight holds each envelope sent and not yet acknowledged, in
	// sending order, and inflightBytes the sum of their entries' sizes.
	inflight      []inflightEnvelope
	inflightBytes uint64
	// directHi and broadcastHi are the last indexes sent in this term in an
	// envelope to this follower alone and in one to every follower. The
	// two kinds travel on different streams and may overtake each other, so
	// the leader switches kinds only once the other kind is acknowledged.
	directHi, broadcastHi uint64
	// recentActive records a response since the last CheckQuorum round.
	recentActive bool
	// ackedSeq is the highest heartbeat round the follower answered.
	ackedSeq uint64
	// stalledRounds counts heartbeat rounds in which envelopes were in
	// flight and match did not move; roundMatch is match at the last round.
	stalledRounds int
	roundMatch    uint64
}

// checkStall is called once per heartbeat round. It reports whether the
// in-flight envelopes have gone unanswered for maxRounds rounds, which
// means they were lost (the follower restarted, or NATS dropped them):
// then the window would stay full forever, so the caller resends from
// match by probing.
func (p *progress) checkStall(maxRounds int) bool {
	if p.state != progressReplicate || len(p.inflight) == 0 || p.match != p.roundMatch {
		p.stalledRounds = 0
		p.roundMatch = p.match
		return false
	}
	p.stalledRounds++
	if p.stalledRounds < maxRounds {
		return false
	}
	p.stalledRounds = 0
	return true
}

// paused reports whether the window is full: maxInflight envelopes, or
// maxBytes bytes of entries when maxBytes is above 0.
func (p *progress) paused(maxInflight int, maxBytes uint64) bool {
	if p.state == progressProbe {
		return p.probeSent
	}
	return len(p.inflight) >= maxInflight || maxBytes > 0 && p.inflightBytes >= maxBytes
}

// sent records an envelope in flight.
func (p *progress) sent(last, bytes uint64) {
	p.inflight = append(p.inflight, inflightEnvelope{last: last, bytes: bytes})
	p.inflightBytes += bytes
}

// clearInflight drops the record of the envelopes in flight.
func (p *progress) clearInflight() {
	p.inflight = p.inflight[:0]
	p.inflightBytes = 0
}

// ack records that the follower's log matches through index and reports
// whether match moved forward. Stale and duplicated responses never move
// match back or next to or below match.
func (p *progress) ack(index uint64) bool {
	advanced := false
	if index > p.match {
		p.match = index
		advanced = true
	}
	if p.next <= p.match {
		p.next = p.match + 1
	}
	i := 0
	for i < len(p.inflight) && p.inflight[i].last <= p.match {
		p.inflightBytes -= p.inflight[i].bytes
		i++
	}
	p.inflight = p.inflight[i:]
	p.probeSent = false
	if p.state == progressProbe {
		p.state = progressReplicate
		p.clearInflight()
	}
	return advanced
}

// reject moves a follower back to probing from next, which the leader
// derived from the follower's conflict hint; next never drops to match.
func (p *progress) reject(next uint64) {
	p.state = progressProbe
	p.probeSent = false
	p.clearInflight()
	p.next = max(next, p.match+1)
	// Envelopes in flight count as lost, so neither kind waits for them.
	p.directHi, p.broadcastHi = 0, 0
}
