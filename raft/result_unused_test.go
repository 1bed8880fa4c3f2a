package raft_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/storage/memory"
)

// unusedCountingKV counts the applied commands by their ResultUnused flag.
type unusedCountingKV struct {
	*statemachine.KV

	mu           sync.Mutex
	used, unused int
}

func (kv *unusedCountingKV) Apply(cmds []raft.Command) ([][]byte, error) {
	kv.mu.Lock()
	for _, c := range cmds {
		if c.ResultUnused {
			kv.unused++
		} else {
			kv.used++
		}
	}
	kv.mu.Unlock()
	return kv.KV.Apply(cmds)
}

func (kv *unusedCountingKV) counts() (used, unused int) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return kv.used, kv.unused
}

// TestResultUnusedOnlyWithoutWaiter checks that the leader requests the
// results its callers wait for, and followers, where no caller waits, do not.
func TestResultUnusedOnlyWithoutWaiter(t *testing.T) {
	net := &chanNetwork{handlers: map[string]wire.PeerHandler{}, down: map[string]bool{}}
	peers := []string{"a", "b", "c"}
	nodes := map[string]*testNode{}
	machines := map[string]*unusedCountingKV{}
	for _, id := range peers {
		kv := &unusedCountingKV{KV: statemachine.NewKV()}
		n, err := raft.NewNode(raft.Config{ID: id, Cluster: "c1", Peers: peers,
			ElectionTimeout: 150 * time.Millisecond, HeartbeatInterval: 30 * time.Millisecond},
			kv, memory.NewLogStore(), memory.NewStableStore(), memory.NewSnapshotStore(), &chanTransport{net: net, id: id})
		require.NoError(t, err)
		nodes[id], machines[id] = &testNode{node: n}, kv
	}
	defer func() {
		for _, n := range nodes {
			_ = n.node.Stop()
		}
	}()
	leader := waitLeader(t, nodes)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const proposals = 30
	for i := range proposals {
		res, err := nodes[leader].node.Propose(ctx, statemachine.EncodePut(fmt.Sprintf("k%d", i), []byte("v")))
		require.NoError(t, err)
		decoded, err := statemachine.DecodeResult(res.Value)
		require.NoError(t, err, "the leader's result for proposal %d", i)
		assert.Equal(t, uint64(1), decoded.Revision)
	}
	waitApplied(t, nodes, nodes[leader].node.Status().CommitIndex)

	for id, kv := range machines {
		used, unused := kv.counts()
		if id == leader {
			assert.Equal(t, proposals, used, "commands applied on the leader %s with a waiter", id)
			assert.Zero(t, unused, "commands applied on the leader %s without a waiter", id)
		} else {
			assert.Zero(t, used, "commands applied on the follower %s with a waiter", id)
			assert.Equal(t, proposals, unused, "commands applied on the follower %s without a waiter", id)
		}
		assert.Equal(t, machines[leader].Digest(), kv.Digest(), "digest of %s", id)
	}
}
