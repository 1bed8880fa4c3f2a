package raft

import "github.com/natsraft/natsraft/raft/wire"

// startElection begins a pre-vote poll or, when pre-vote is off or the
// campaign comes from a leadership transfer, a real election.
func (c *Core) startElection(transfer bool) {
	if c.cfg.PreVote && !transfer {
		c.campaign(RolePreCandidate, false)
		return
	}
	c.campaign(RoleCandidate, transfer)
}

// campaign requests the vote of every voter. A pre-candidate keeps its term and
// asks for votes in term+1 without binding anyone; a candidate raises its
// term and votes for itself, durably before its requests leave.
func (c *Core) campaign(role Role, transfer bool) {
	term := c.term + 1
	if role == RoleCandidate {
		c.setTerm(term)
		c.vote = c.id
		c.hardDirty = true
	}
	c.setRole(role)
	c.setLeader("")
	c.resetElectionTimer()
	c.votes = map[string]bool{c.id: true}
	if c.countVotes() {
		return
	}
	for _, p := range c.peers() {
		m := &wire.VoteRequest{
			Cluster:      c.cfg.Cluster,
			From:         c.id,
			To:           p,
			Term:         term,
			LastLogIndex: c.log.last,
			LastLogTerm:  c.log.lastTerm(),
			PreVote:      role == RolePreCandidate,
			Transfer:     transfer,
		}
		if role == RoleCandidate {
			c.sendAfterPersist(p, m)
		} else {
			c.send(p, m)
		}
	}
}

// countVotes moves a (pre-)candidate on once a quorum granted its request
// and reports whether it did.
func (c *Core) countVotes() bool {
	granted, rejected := 0, 0
	for _, v := range c.voters {
		g, ok := c.votes[v]
		switch {
		case ok && g:
			granted++
		case ok:
			rejected++
		}
	}
	switch {
	case granted >= c.quorum():
		if c.role == RolePreCandidate {
			c.campaign(RoleCandidate, false)
		} else {
			c.becomeLeader()
		}
		return true
	case rejected >= c.quorum():
		c.becomeFollower(c.term, "")
		return true
	}
	return false
}

// inLease reports whether this node heard from a live leader within the
// minimum election timeout. Such a node ignores vote requests, so that a
// node rejoining after a partition cannot depose a leader that a quorum
// still follows.
func (c *Core) inLease() bool {
	if c.role == RoleLeader {
		return true
	}
	return c.leader != "" && c.electionElapsed < c.cfg.ElectionTicks
}

func (c *Core) handleVoteRequest(m *wire.VoteRequest) {
	if !c.isVoter(m.From) && !m.PreVote {
		// A node outside the configuration cannot win, so reject it
		// without changing state.
		c.send(m.From, c.voteResponse(m, false))
		return
	}
	if m.Term > c.term && c.inLease() && !m.Transfer {
		c.send(m.From, c.voteResponse(m, false))
		return
	}
	if m.Term < c.term {
		c.send(m.From, c.voteResponse(m, false))
		return
	}
	upToDate := c.log.isUpToDate(m.LastLogIndex, m.LastLogTerm)
	if m.PreVote {
		// A pre-vote binds nothing: grant it when the poller's term would be
		// new to us and its log is at least as up to date.
		resp := c.voteResponse(m, m.Term > c.term && upToDate)
		if resp.Granted {
			resp.Term = m.Term
		}
		c.send(m.From, resp)
		return
	}
	if m.Term > c.term {
		c.becomeFollower(m.Term, "")
	}
	canVote := c.vote == "" || c.vote == m.From
	if canVote && upToDate && c.role == RoleFollower {
		c.vote = m.From
		c.hardDirty = true
		c.resetElectionTimer()
		// The vote must be durable before the grant leaves: a node that
		// forgot a vote after a crash could vote twice in one term.
		c.sendAfterPersist(m.From, c.voteResponse(m, true))
		if mutationVoteNotPersisted {
			c.unpersistLastMessage(true)
		}
		return
	}
	c.send(m.From, c.voteResponse(m, false))
}

func (c *Core) voteResponse(m *wire.VoteRequest, granted bool) *wire.VoteResponse {
	return &wire.VoteResponse{
		Cluster: c.cfg.Cluster,
		From:    c.id,
		To:      m.From,
		Term:    c.term,
		Granted: granted,
		PreVote: m.PreVote,
	}
}

func (c *Core) handleVoteResponse(m *wire.VoteResponse) {
	if m.Term > c.term && !(m.PreVote && m.Granted) {
		c.becomeFollower(m.Term, "")
		return
	}
	wantPre := c.role == RolePreCandidate
	if (c.role != RolePreCandidate && c.role != RoleCandidate) || m.PreVote != wantPre {
		return
	}
	// A pre-vote grant carries the term polled for; any other counted
	// response must be from this term.
	want := c.term
	if wantPre && m.Granted {
		want = c.term + 1
	}
	if m.Term != want {
		return
	}
	if _, seen := c.votes[m.From]; seen || !c.isVoter(m.From) {
		return
	}
	c.votes[m.From] = m.Granted
	c.countVotes()
}

func (c *Core) becomeLeader() {
	c.setRole(RoleLeader)
	c.setLeader(c.id)
	c.votes = nil
	c.heartbeatElapsed = 0
	c.electionElapsed = 0
	c.progress = make(map[string]*progress, len(c.voters))
	for _, p := range c.peers() {
		c.progress[p] = &progress{next: c.log.last + 1, state: progressProbe, recentActive: true}
	}
	// An entry of the new term lets the leader commit, by counting replicas,
	// every earlier entry before it, and confirms its log for reads. It
	// records the configuration, so that the voters are in every node's
	// durable log and a node restarted with other peers is caught.
	c.termStart = c.log.last + 1
	conf := wire.Configuration{Voters: c.voters}
	c.appendEntries([]wire.Entry{{Type: wire.EntryTypeConfig, Data: conf.Marshal()}})
	c.broadcastAppend()
}

func (c *Core) handleTimeoutNow(m *wire.TimeoutNowRequest) {
	if m.Term < c.term || !c.isVoter(c.id) {
		return
	}
	if m.Term > c.term {
		c.becomeFollower(m.Term, m.From)
	}
	c.startElection(true)
}
