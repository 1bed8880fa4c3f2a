package raft

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOutcomeUnknownNoteOnce(t *testing.T) {
	inner := OutcomeUnknown(ErrLeadershipLost)
	relayed := OutcomeUnknown(errors.New("propose on n1: " + inner.Error()))
	assert.Equal(t, "propose on n1: raft: leadership lost (the command may still be applied)", relayed.Error())
	assert.ErrorIs(t, relayed, ErrOutcomeUnknown)
	assert.ErrorIs(t, inner, ErrLeadershipLost)
}

func TestNotLeaderErrorMatchesSentinels(t *testing.T) {
	err := error(&NotLeaderError{Leader: "n2"})
	assert.ErrorIs(t, err, ErrNotLeader)
	assert.ErrorIs(t, err, ErrNotApplied)
	assert.NotErrorIs(t, err, ErrOutcomeUnknown)
	assert.Contains(t, err.Error(), "n2")
}
