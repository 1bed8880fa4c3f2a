package raft_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chanNetwork is an in-process Transport for runtime tests: messages are
// encoded and decoded as on the wire and delivered by goroutines, so the
// node runtime is tested without NATS. Cluster tests over NATS live in
// tests/.
type chanNetwork struct {
	mu       sync.Mutex
	handlers map[string]wire.PeerHandler
	down     map[string]bool
}

type chanTransport struct {
	net *chanNetwork
	id  string
}

func (t *chanTransport) Start(h wire.PeerHandler) error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	t.net.handlers[t.id] = h
	return nil
}

func (t *chanTransport) Send(to string, msg wire.Message) error {
	t.net.mu.Lock()
	h := t.net.handlers[to]
	down := t.net.down[to] || t.net.down[t.id]
	t.net.mu.Unlock()
	if h == nil || down {
		return nil
	}
	subject, _ := wire.PeerSubject(msg.Kind())
	data := msg.MarshalAppend(nil)
	go func() { _ = wire.DispatchPeer(subject, data, h) }()
	return nil
}

func (t *chanTransport) Flush() error { return nil }

func (t *chanTransport) Close() error {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	delete(t.net.handlers, t.id)
	return nil
}

type testNode struct {
	node  *raft.Node
	kv    *statemachine.KV
	store *memory.Store
}

func startNode(t *testing.T, net *chanNetwork, id string, peers []string, store *memory.Store) *testNode {
	t.Helper()
	kv := statemachine.NewKV()
	n, err := raft.NewNode(raft.Config{
		ID:                id,
		Cluster:           "c1",
		Peers:             peers,
		ElectionTimeout:   150 * time.Millisecond,
		HeartbeatInterval: 30 * time.Millisecond,
	}, kv, store.Log, store.Stable, store.Snapshots, &chanTransport{net: net, id: id})
	require.NoError(t, err)
	return &testNode{node: n, kv: kv, store: store}
}

func waitLeader(t *testing.T, nodes map[string]*testNode) string {
	t.Helper()
	var leader string
	require.Eventually(t, func() bool {
		for id, n := range nodes {
			if n.node.IsLeader() {
				leader = id
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no leader elected")
	return leader
}

// startCluster starts nodes a, b and c on a chanNetwork with memory
// stores, stops them when the test ends, and returns them with the id of
// the elected leader.
func startCluster(t *testing.T) (map[string]*testNode, string) {
	t.Helper()
	net := &chanNetwork{handlers: map[string]wire.PeerHandler{}, down: map[string]bool{}}
	peers := []string{"a", "b", "c"}
	nodes := map[string]*testNode{}
	for _, id := range peers {
		nodes[id] = startNode(t, net, id, peers, memory.NewStore())
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = n.node.Stop()
		}
	})
	return nodes, waitLeader(t, nodes)
}

// waitApplied waits until every node has applied index.
func waitApplied(t *testing.T, nodes map[string]*testNode, index uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if n.node.Status().AppliedIndex < index {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "nodes did not apply index %d", index)
}

func TestNodeReplicatesAndApplies(t *testing.T) {
	nodes, leader := startCluster(t)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				_, err := nodes[leader].node.Propose(ctx, statemachine.EncodePut(fmt.Sprintf("k%d-%d", w, i), []byte("v")))
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	q, _, err := nodes[leader].node.Read(ctx, statemachine.EncodeGet("k3-7"))
	require.NoError(t, err)
	res, err := statemachine.DecodeResult(q)
	require.NoError(t, err)
	assert.True(t, res.Found)

	waitApplied(t, nodes, nodes[leader].node.Status().CommitIndex)
	for id, n := range nodes {
		assert.Equal(t, 1000, n.kv.Len(), "keys on %s", id)
		assert.Equal(t, nodes[leader].kv.Digest(), n.kv.Digest(), "digest of %s", id)
	}

	for id, n := range nodes {
		if id != leader {
			_, err := n.node.Propose(ctx, statemachine.EncodePut("x", nil))
			var nl *raft.NotLeaderError
			require.True(t, errors.As(err, &nl), "follower propose error %v", err)
			assert.Equal(t, leader, nl.Leader)
			assert.ErrorIs(t, err, raft.ErrNotApplied)
		}
	}
}

func TestNodeStaleReadOnFollower(t *testing.T) {
	nodes, leader := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := nodes[leader].node.Propose(ctx, statemachine.EncodePut("k", []byte("v1")))
	require.NoError(t, err)
	for id, n := range nodes {
		if id == leader {
			continue
		}
		_, _, err := n.node.Read(ctx, statemachine.EncodeGet("k"))
		assert.ErrorIs(t, err, raft.ErrNotLeader, "linearizable read on follower %s", id)
		require.Eventually(t, func() bool { return n.node.Status().AppliedIndex >= res.Index }, 5*time.Second, time.Millisecond)
		b, index, err := n.node.ReadStale(ctx, statemachine.EncodeGet("k"))
		require.NoError(t, err)
		assert.GreaterOrEqual(t, index, res.Index)
		got, err := statemachine.DecodeResult(b)
		require.NoError(t, err)
		assert.Equal(t, "v1", string(got.Value))
	}
}

func TestNodeRejectsChangedPeersOnRestart(t *testing.T) {
	net := &chanNetwork{handlers: map[string]wire.PeerHandler{}, down: map[string]bool{}}
	peers := []string{"a", "b", "c"}
	nodes := map[string]*testNode{}
	for _, id := range peers {
		nodes[id] = startNode(t, net, id, peers, memory.NewStore())
	}
	leader := waitLeader(t, nodes)
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if n.node.Status().AppliedIndex < 1 {
				return false
			}
		}
		return true
	}, 5*time.Second, time.Millisecond, "the leader's configuration entry was not applied everywhere")
	for _, n := range nodes {
		require.NoError(t, n.node.Stop())
	}

	store := nodes[leader].store
	kv := statemachine.NewKV()
	_, err := raft.NewNode(raft.Config{ID: leader, Cluster: "c1", Peers: []string{leader}},
		kv, store.Log, store.Stable, store.Snapshots, &chanTransport{net: net, id: leader})
	assert.ErrorIs(t, err, raft.ErrPeersMismatch)

	// The same peers in another order are the same configuration.
	n, err := raft.NewNode(raft.Config{ID: leader, Cluster: "c1", Peers: []string{"c", "b", "a"}},
		kv, store.Log, store.Stable, store.Snapshots, &chanTransport{net: net, id: leader})
	require.NoError(t, err)
	require.NoError(t, n.Stop())
}
