package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/statemachine/sessionwire"
)

// incrementCommand is the session command that adds 1 to "counter".
func incrementCommand(client string, seq, ack uint64) []byte {
	return statemachine.EncodeSessionCommand(client, seq, ack, statemachine.EncodeIncrement("counter", 1))
}

// TestSessionDuplicateProposalAppliedOnce sends the same session command
// twice over NATS, as a client does after its reply was lost. The cluster
// applies it once and returns the session record's result to the retry.
func TestSessionDuplicateProposalAppliedOnce(t *testing.T) {
	c := newSessionCluster(t, false)
	c.waitLeader()
	cl := c.rawClient()

	first, value := proposeSession(t, cl, incrementCommand("client-a", 1, 0))
	assert.Equal(t, sessionwire.StatusApplied, first.Status)
	assert.Equal(t, "1", value)

	retry, value := proposeSession(t, cl, incrementCommand("client-a", 1, 0))
	assert.Equal(t, sessionwire.StatusDuplicate, retry.Status)
	assert.Equal(t, "1", value, "the retry returns the first result")
	assert.Equal(t, first.Index, retry.Index, "the retry names the first application's index")

	c.requireValueEverywhere("counter", "1", 1)
	digests := c.sessionDigests()
	assert.Equal(t, digests["n1"], digests["n2"], "state of n1 and n2")
	assert.Equal(t, digests["n1"], digests["n3"], "state of n1 and n3")
}

// TestSessionSurvivesLeaderChange applies a command through one leader,
// stops that leader, and sends the same command to the new leader: the new
// leader's state machine holds the session too, so the retry is a
// duplicate.
func TestSessionSurvivesLeaderChange(t *testing.T) {
	c := newSessionCluster(t, false)
	oldLeader := c.waitLeader()
	cl := c.rawClient()

	first, value := proposeSession(t, cl, incrementCommand("client-a", 1, 0))
	require.Equal(t, sessionwire.StatusApplied, first.Status)
	require.Equal(t, "1", value)
	c.waitApplied()

	c.stop(oldLeader)
	newLeader := c.waitLeader()
	require.NotEqual(t, oldLeader, newLeader)
	t.Logf("stopped leader %s; %s leads now", oldLeader, newLeader)

	retry, value := proposeSession(t, cl, incrementCommand("client-a", 1, 0))
	assert.Equal(t, sessionwire.StatusDuplicate, retry.Status, "the retry on the new leader")
	assert.Equal(t, "1", value)
	assert.Equal(t, first.Index, retry.Index)

	next, value := proposeSession(t, cl, incrementCommand("client-a", 2, 1))
	assert.Equal(t, sessionwire.StatusApplied, next.Status)
	assert.Equal(t, "2", value, "the next sequence number is applied")

	c.requireValueEverywhere("counter", "2", 2)
	digests := c.sessionDigests()
	require.Len(t, digests, 2)
	var states []string
	for _, d := range digests {
		states = append(states, d)
	}
	assert.Equal(t, states[0], states[1], "state of the two running nodes")
}
