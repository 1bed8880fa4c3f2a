package raft

import (
	"errors"
	"slices"

	"github.com/natsraft/natsraft/raft/wire"
)

// errNotLeader is the error of Propose and ReadIndex on a follower. The
// runtime wraps it with the leader hint.
var errNotLeader = errors.New("not leader")

// Propose appends entries of type Command (or the given type) with the data
// of each to the leader's log and queues them for replication. It returns the
// term and the index of the first entry, or errNotLeader.
func (c *Core) Propose(entries []wire.Entry) (term, first uint64, err error) {
	if c.role != RoleLeader {
		return 0, 0, errNotLeader
	}
	first = c.log.last + 1
	c.appendEntries(entries)
	c.broadcastAppend()
	return c.term, first, nil
}

// appendEntries assigns indexes and the current term to entries and adds
// them to the leader's own log.
func (c *Core) appendEntries(entries []wire.Entry) {
	for i := range entries {
		entries[i].Term = c.term
		entries[i].Index = c.log.last + 1
		c.log.append(c.term)
		c.sizes.add(entries[i].Index, entries[i].Size())
	}
	c.ready.Entries = append(c.ready.Entries, entries...)
	if len(c.voters) == 1 {
		c.maybeCommit()
	}
}

func (c *Core) broadcastAppend() {
	if c.cfg.Broadcast {
		c.sendToAll()
	}
	for _, p := range c.peers() {
		c.sendAppend(p)
	}
}

// sendToAll sends new entries in envelopes addressed to every follower,
// while all followers are in step (see inStep) and have room in their
// windows. Followers that fall out of step get envelopes of their own from
// sendAppend, so a lagging follower catches up alone.
func (c *Core) sendToAll() {
	peers := c.peers()
	for c.inStep() {
		next := c.progress[peers[0]].next
		for _, p := range peers {
			if c.progress[p].paused(c.cfg.MaxInflight, c.cfg.MaxInflightBytes) {
				return
			}
		}
		if next > c.log.last {
			return
		}
		prevTerm, ok := c.log.term(next - 1)
		if !ok {
			return
		}
		budget := uint64(0)
		for _, p := range peers {
			budget = max(budget, c.progress[p].inflightBytes)
		}
		hi := c.envelopeEnd(next, budget)
		hiTerm, _ := c.log.term(hi - 1)
		c.ready.Messages = append(c.ready.Messages, Envelope{
			To:     BroadcastTo,
			Msg:    c.appendRequest(BroadcastTo, next-1, prevTerm),
			Lo:     next,
			Hi:     hi,
			HiTerm: hiTerm,
		})
		bytes := c.sizes.between(next, hi)
		for _, p := range peers {
			pr := c.progress[p]
			pr.sent(hi-1, bytes)
			pr.next = hi
			pr.broadcastHi = hi - 1
		}
	}
}

// inStep reports whether envelopes to every follower may be broadcast: at
// least two followers, all replicating, all at the same next index, and
// none with an envelope of its own still unacknowledged.
func (c *Core) inStep() bool {
	peers := c.peers()
	if !c.cfg.Broadcast || len(peers) < 2 {
		return false
	}
	next := c.progress[peers[0]].next
	for _, p := range peers {
		pr := c.progress[p]
		if pr.state != progressReplicate || pr.next != next || pr.match < pr.directHi {
			return false
		}
	}
	return true
}

// sendAppend sends the entries the follower lacks, as many envelopes as its
// window allows.
func (c *Core) sendAppend(peer string) {
	pr := c.progress[peer]
	if pr == nil {
		return
	}
	if pr.state == progressReplicate && c.cfg.Broadcast && (pr.match < pr.broadcastHi || c.inStep()) {
		// Either a broadcast to this follower is unacknowledged, which an
		// envelope of its own could overtake, or broadcasting is its job.
		return
	}
	for !pr.paused(c.cfg.MaxInflight, c.cfg.MaxInflightBytes) && pr.next <= c.log.last {
		prev := pr.next - 1
		prevTerm, ok := c.log.term(prev)
		if !ok {
			// NOTE: the follower needs entries below the log's first index,
			// which only a snapshot can give; snapshots are not sent yet.
			return
		}
		hi := c.envelopeEnd(pr.next, pr.inflightBytes)
		hiTerm, _ := c.log.term(hi - 1)
		c.ready.Messages = append(c.ready.Messages, Envelope{
			To:     peer,
			Msg:    c.appendRequest(peer, prev, prevTerm),
			Lo:     pr.next,
			Hi:     hi,
			HiTerm: hiTerm,
		})
		if pr.state == progressProbe {
			pr.probeSent = true
		} else {
			pr.sent(hi-1, c.sizes.between(pr.next, hi))
			pr.next = hi
			pr.directHi = hi - 1
		}
	}
}

// envelopeEnd returns the end (exclusive) of an envelope that starts at
// next: at most MaxEntriesPerMessage entries, and with MaxInflightBytes set,
// no more bytes than the window has left after inflight bytes. An envelope
// always holds at least one entry.
func (c *Core) envelopeEnd(next, inflight uint64) uint64 {
	hi := min(c.log.last+1, next+uint64(c.cfg.MaxEntriesPerMessage))
	if limit := c.cfg.MaxInflightBytes; limit > 0 && hi > next+1 {
		hi = c.sizes.fit(next, hi, limit-min(inflight, limit))
	}
	return hi
}

func (c *Core) appendRequest(peer string, prev, prevTerm uint64) *wire.AppendEntriesRequest {
	return &wire.AppendEntriesRequest{
		Cluster:      c.cfg.Cluster,
		From:         c.id,
		To:           peer,
		Term:         c.term,
		PrevLogIndex: prev,
		PrevLogTerm:  prevTerm,
		LeaderCommit: c.commit,
		Seq:          c.seq,
	}
}

// sendHeartbeat sends an empty AppendEntries anchored at the follower's
// match index, which it is known to hold, so a heartbeat never fails the
// consistency check while entries are in flight.
func (c *Core) sendHeartbeat(peer string) {
	pr := c.progress[peer]
	prevTerm, ok := c.log.term(pr.match)
	if !ok {
		return
	}
	c.send(peer, c.appendRequest(peer, pr.match, prevTerm))
}

func (c *Core) broadcastHeartbeat() {
	for _, p := range c.peers() {
		c.sendHeartbeat(p)
		pr := c.progress[p]
		if pr.checkStall(c.stallRounds()) {
			pr.reject(pr.match + 1)
		}
		// A probe without a response is retried once per heartbeat.
		if pr.state == progressProbe {
			pr.probeSent = false
			c.sendAppend(p)
		}
	}
}

// stallRounds is the number of heartbeat rounds without progress after
// which a follower's in-flight envelopes count as lost: half an election
// timeout, and at least three rounds.
func (c *Core) stallRounds() int {
	return max(3, c.cfg.ElectionTicks/c.cfg.HeartbeatTicks/2)
}

func (c *Core) tickLeader() {
	c.heartbeatElapsed++
	if c.heartbeatElapsed >= c.cfg.HeartbeatTicks {
		c.heartbeatElapsed = 0
		c.broadcastHeartbeat()
	}
	if c.electionElapsed >= c.cfg.ElectionTicks {
		c.electionElapsed = 0
		c.checkQuorum()
	}
}

// checkQuorum steps the leader down when fewer than a quorum of voters
// responded during the last election timeout, so that a leader cut off from
// its cluster stops taking requests.
func (c *Core) checkQuorum() {
	active := 1
	for _, p := range c.peers() {
		pr := c.progress[p]
		if pr.recentActive {
			active++
		}
		pr.recentActive = false
	}
	if active < c.quorum() {
		c.becomeFollower(c.term, "")
	}
}

func (c *Core) handleAppendResponse(m *wire.AppendEntriesResponse) {
	if m.Term > c.term {
		c.becomeFollower(m.Term, "")
		return
	}
	if m.Term < c.term || c.role != RoleLeader {
		// A response from an earlier term never counts toward commitment.
		return
	}
	pr := c.progress[m.From]
	if pr == nil {
		return
	}
	pr.recentActive = true
	if m.Seq > pr.ackedSeq {
		pr.ackedSeq = m.Seq
		c.releaseReads()
	}
	if !m.Success {
		// A rejection without a conflict hint carries nothing to act on.
		if m.ConflictIndex != 0 {
			c.handleReject(pr, m)
			c.replicateAfterResponse(m.From)
		}
		return
	}
	if pr.ack(m.MatchIndex) {
		c.trimSizes()
		c.maybeCommit()
	}
	c.replicateAfterResponse(m.From)
}

// replicateAfterResponse sends what a response made possible: to the
// follower that responded, or to every follower when broadcasting, because
// one response can bring all followers back in step.
func (c *Core) replicateAfterResponse(peer string) {
	if c.cfg.Broadcast {
		c.broadcastAppend()
		return
	}
	c.sendAppend(peer)
}

// handleReject rewinds a follower's next index using its conflict hint. If
// the leader has entries of the follower's conflicting term, it resumes
// after its last one. Otherwise it skips the follower's whole term.
func (c *Core) handleReject(pr *progress, m *wire.AppendEntriesResponse) {
	next := m.ConflictIndex
	if m.ConflictTerm != 0 {
		if last := c.log.lastIndexOfTerm(m.ConflictTerm); last != 0 {
			next = last + 1
		}
	}
	if next == 0 {
		next = 1
	}
	if next > c.log.last+1 {
		next = c.log.last + 1
	}
	// A rejection of an index the follower already matched is stale: it
	// answers an older probe.
	if next <= pr.match {
		return
	}
	pr.reject(next)
}

// maybeCommit advances the commit index to the highest index stored on a
// quorum, counting the leader only through its durable index, and only if
// that entry is of the current term. Entries of earlier terms commit
// indirectly with it.
func (c *Core) maybeCommit() {
	matches := make([]uint64, 0, len(c.voters))
	for _, v := range c.voters {
		if v == c.id {
			matches = append(matches, c.durable)
		} else if pr := c.progress[v]; pr != nil {
			matches = append(matches, pr.match)
		} else {
			matches = append(matches, 0)
		}
	}
	slices.Sort(matches)
	q := matches[len(matches)-c.quorum()]
	if q <= c.commit {
		return
	}
	if mutationCommitOldTerm {
		c.commit, c.ready.CommitIndex = q, q
	}
	if t, _ := c.log.term(q); t != c.term {
		return
	}
	c.commit = q
	c.ready.CommitIndex = q
	c.sendPendingReads()
}
