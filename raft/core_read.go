package raft

// ReadIndex starts a linearizable read with the caller's id. The read's
// index is the commit index at this moment; it is released in
// Ready.ReadStates once a quorum has answered a heartbeat round sent after
// the read began, which proves that no other leader had been elected. It
// returns errNotLeader on a follower.
func (c *Core) ReadIndex(id uint64) error {
	if c.role != RoleLeader {
		return errNotLeader
	}
	r := pendingRead{id: id}
	if c.commit < c.termStart {
		// Until its no-op commits, the leader's commit index may lag
		// entries that earlier leaders committed.
		c.readsUnsent = append(c.readsUnsent, r)
		return nil
	}
	c.queueRead(r)
	return nil
}

func (c *Core) queueRead(r pendingRead) {
	r.index = c.commit
	if len(c.voters) == 1 {
		c.ready.ReadStates = append(c.ready.ReadStates, ReadState{ID: r.id, Index: r.index})
		return
	}
	c.seq++
	r.seq = c.seq
	c.readQueue = append(c.readQueue, r)
	for _, p := range c.peers() {
		c.sendHeartbeat(p)
	}
}

// sendPendingReads starts the reads that waited for the leader's first
// commit in its term.
func (c *Core) sendPendingReads() {
	if c.commit < c.termStart || len(c.readsUnsent) == 0 {
		return
	}
	reads := c.readsUnsent
	c.readsUnsent = nil
	for _, r := range reads {
		c.queueRead(r)
	}
}

// releaseReads moves the reads confirmed by a quorum to Ready.ReadStates.
func (c *Core) releaseReads() {
	n := 0
	for _, r := range c.readQueue {
		acks := 1
		for _, p := range c.peers() {
			if c.progress[p].ackedSeq >= r.seq {
				acks++
			}
		}
		if acks < c.quorum() {
			break
		}
		c.ready.ReadStates = append(c.ready.ReadStates, ReadState{ID: r.id, Index: r.index})
		n++
	}
	c.readQueue = c.readQueue[n:]
}

func (c *Core) failReads() {
	for _, r := range c.readQueue {
		c.ready.ReadsFailed = append(c.ready.ReadsFailed, r.id)
	}
	for _, r := range c.readsUnsent {
		c.ready.ReadsFailed = append(c.ready.ReadsFailed, r.id)
	}
	c.readQueue = nil
	c.readsUnsent = nil
}
