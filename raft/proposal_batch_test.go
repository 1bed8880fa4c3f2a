package raft_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/statemachine"
)

func TestProposeBatch(t *testing.T) {
	nodes, leader := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	cmds := make([][]byte, 100)
	for i := range cmds {
		cmds[i] = statemachine.EncodePut(fmt.Sprintf("k%d", i), []byte("v"))
	}
	results := nodes[leader].node.ProposeBatch(ctx, cmds)
	require.Len(t, results, len(cmds))
	for i, r := range results {
		require.NoError(t, r.Err, "command %d", i)
		if i > 0 {
			assert.Equal(t, results[i-1].Index+1, r.Index, "index of command %d", i)
		}
		res, err := statemachine.DecodeResult(r.Value)
		require.NoError(t, err)
		assert.Equal(t, uint64(1), res.Revision, "revision of k%d", i)
	}
	waitApplied(t, nodes, results[len(results)-1].Index)
	for id, n := range nodes {
		assert.Equal(t, len(cmds), n.kv.Len(), "keys on %s", id)
	}

	for id, n := range nodes {
		if id == leader {
			continue
		}
		waitKnowsLeader(t, n, leader)
		for i, r := range n.node.ProposeBatch(ctx, cmds[:3]) {
			var nl *raft.NotLeaderError
			require.True(t, errors.As(r.Err, &nl), "follower %s, command %d: error %v", id, i, r.Err)
			assert.Equal(t, leader, nl.Leader)
			assert.ErrorIs(t, r.Err, raft.ErrNotApplied)
		}
	}
}

// waitKnowsLeader waits until follower n has heard from leader: a commit
// needs only one follower, so the other may not know the leader yet.
func waitKnowsLeader(t *testing.T, n *testNode, leader string) {
	t.Helper()
	require.Eventually(t, func() bool { return n.node.Leader() == leader }, 5*time.Second, time.Millisecond,
		"follower %s did not learn the leader %s", n.node.ID(), leader)
}

func TestClientServiceProposeBatch(t *testing.T) {
	nodes, leader := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := &wire.ProposeBatchRequest{Cluster: "c1", Commands: [][]byte{
		statemachine.EncodePut("x", []byte("1")),
		statemachine.EncodePut("x", []byte("2")),
	}}

	resp := raft.NewClientService(nodes[leader].node).ProposeBatch(ctx, req)
	require.Equal(t, wire.ErrorCodeOK, resp.Error, resp.Message)
	require.Len(t, resp.Responses, 2)
	for i, r := range resp.Responses {
		require.Equal(t, wire.ErrorCodeOK, r.Error, "command %d: %s", i, r.Message)
		res, err := statemachine.DecodeResult(r.Result)
		require.NoError(t, err)
		assert.Equal(t, uint64(i+1), res.Revision, "revision after command %d", i)
	}

	for id, n := range nodes {
		if id == leader {
			continue
		}
		waitKnowsLeader(t, n, leader)
		resp := raft.NewClientService(n.node).ProposeBatch(ctx, req)
		assert.Equal(t, wire.ErrorCodeNotLeader, resp.Error, "batch on follower %s", id)
		assert.Equal(t, leader, resp.Leader)
		assert.Empty(t, resp.Responses)
	}

	wrong := &wire.ProposeBatchRequest{Cluster: "other", Commands: req.Commands}
	resp = raft.NewClientService(nodes[leader].node).ProposeBatch(ctx, wrong)
	assert.Equal(t, wire.ErrorCodeInvalid, resp.Error)
	assert.Empty(t, resp.Responses)
}
