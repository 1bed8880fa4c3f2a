package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/statemachine/sessionwire"
)

// TestDurableSessionDedupSurvivesRestart restarts every node of a cluster
// on boltlike stores. The state machines start empty and rebuild the
// sessions by replaying the log, so a retry sent after the restart is
// still a duplicate.
func TestDurableSessionDedupSurvivesRestart(t *testing.T) {
	c := newSessionCluster(t, true)
	c.waitLeader()
	cl := c.rawClient()

	first, value := proposeSession(t, cl, incrementCommand("client-a", 1, 0))
	require.Equal(t, sessionwire.StatusApplied, first.Status)
	require.Equal(t, "1", value)
	c.requireValueEverywhere("counter", "1", 1)
	before := c.sessionDigests()

	for _, id := range c.ids {
		c.stop(id)
	}
	for _, id := range c.ids {
		c.start(id)
	}
	c.waitApplied()
	assert.Equal(t, before, c.sessionDigests(), "sessions and keys rebuilt from the log")
	for _, n := range c.running() {
		assert.Equal(t, 1, n.sessions.Len(), "sessions on %s after the restart", n.id)
	}

	retry, value := proposeSession(t, cl, incrementCommand("client-a", 1, 0))
	assert.Equal(t, sessionwire.StatusDuplicate, retry.Status, "the retry after the restart")
	assert.Equal(t, "1", value)
	assert.Equal(t, first.Index, retry.Index)
	c.requireValueEverywhere("counter", "1", 1)
}
