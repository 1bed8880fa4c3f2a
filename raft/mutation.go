package raft

// unpersistLastMessage moves the message just queued in PersistedMessages to
// Messages, so that it leaves before the Ready's writes are durable; with
// dropHardState, the pending term and vote write is dropped as well. Only
// the bugs planted for the mutation check (see mutation_off.go) call it.
func (c *Core) unpersistLastMessage(dropHardState bool) {
	n := len(c.ready.PersistedMessages)
	c.ready.Messages = append(c.ready.Messages, c.ready.PersistedMessages[n-1])
	c.ready.PersistedMessages = c.ready.PersistedMessages[:n-1]
	if dropHardState {
		c.hardDirty = false
	}
}
