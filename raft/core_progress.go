package raft

type progressState uint8

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
	// inflight holds the last index of each envelope sent and not yet
	// acknowledged, in sending order.
	inflight []uint64
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

func (p *progress) paused(maxInflight int) bool {
	if p.state == progressProbe {
		return p.probeSent
	}
	return len(p.inflight) >= maxInflight
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
	for i < len(p.inflight) && p.inflight[i] <= p.match {
		i++
	}
	p.inflight = p.inflight[i:]
	p.probeSent = false
	if p.state == progressProbe {
		p.state = progressReplicate
		p.inflight = p.inflight[:0]
	}
	return advanced
}

// reject moves a follower back to probing from next, which the leader
// derived from the follower's conflict hint; next never drops to match.
func (p *progress) reject(next uint64) {
	p.state = progressProbe
	p.probeSent = false
	p.inflight = p.inflight[:0]
	p.next = max(next, p.match+1)
	// Envelopes in flight count as lost, so neither kind waits for them.
	p.directHi, p.broadcastHi = 0, 0
}
