package raft

import (
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ack(to string, term, match, seq uint64) Envelope {
	return Envelope{To: to, Msg: &wire.AppendEntriesResponse{To: to, Term: term, Success: true, MatchIndex: match, Seq: seq}}
}

func TestCoalesceAcksMergesPerLeaderAndTerm(t *testing.T) {
	reject := Envelope{To: "a", Msg: &wire.AppendEntriesResponse{To: "a", Term: 2, ConflictIndex: 4}}
	vote := Envelope{To: "b", Msg: &wire.VoteResponse{To: "b", Term: 3}}
	in := []Envelope{ack("a", 2, 5, 1), ack("a", 2, 9, 3), reject, ack("a", 2, 7, 2), vote, ack("a", 3, 10, 0)}
	out := coalesceAcks(in)
	require.Len(t, out, 4)
	assert.Equal(t, reject, out[0])
	merged := out[1].Msg.(*wire.AppendEntriesResponse)
	assert.Equal(t, uint64(9), merged.MatchIndex, "highest match index kept")
	assert.Equal(t, uint64(3), merged.Seq, "highest heartbeat round kept")
	assert.Equal(t, vote, out[2])
	assert.Equal(t, uint64(3), out[3].Msg.(*wire.AppendEntriesResponse).Term, "acks of another term stay apart")
}

func TestCoalesceAcksKeepsSingleAcks(t *testing.T) {
	in := []Envelope{ack("a", 2, 5, 1), ack("b", 2, 6, 1)}
	assert.Equal(t, in, coalesceAcks(in))
}
