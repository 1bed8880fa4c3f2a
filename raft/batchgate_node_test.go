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

// holdingLog is a log store whose Append waits while hold is set, and that
// records the size of every Append.
type holdingLog struct {
	raft.LogStore

	mu    sync.Mutex
	hold  chan struct{}
	sizes []int
}

func (l *holdingLog) Append(entries []wire.Entry) error {
	l.mu.Lock()
	hold := l.hold
	l.sizes = append(l.sizes, len(entries))
	l.mu.Unlock()
	if hold != nil {
		<-hold
	}
	return l.LogStore.Append(entries)
}

// TestProposalsWaitForBatchInFlight checks that while one batch waits for
// commit, new proposals stay queued and are then appended as one batch.
func TestProposalsWaitForBatchInFlight(t *testing.T) {
	rec := newRecorder()
	logs := &holdingLog{LogStore: memory.NewLogStore()}
	n, err := raft.NewNode(raft.Config{ID: "n1", Cluster: "c1", Peers: []string{"n1"},
		ElectionTimeout: 100 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond, Metrics: rec},
		statemachine.NewKV(), logs, memory.NewStableStore(), memory.NewSnapshotStore(),
		&chanTransport{net: &chanNetwork{handlers: map[string]wire.PeerHandler{}, down: map[string]bool{}}, id: "n1"})
	require.NoError(t, err)
	defer func() { _ = n.Stop() }()
	require.Eventually(t, func() bool { st := n.Status(); return st.Role == raft.RoleLeader && st.AppliedIndex >= 1 },
		5*time.Second, 5*time.Millisecond, "no leader with its no-op applied")
	first := n.Status().LastIndex

	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	// Runs before Stop, which waits for the log writer, on every exit.
	defer release()
	logs.mu.Lock()
	logs.hold = hold
	logs.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const waiting = 50
	errs := make(chan error, waiting+1)
	go func() {
		_, err := n.Propose(ctx, statemachine.EncodePut("first", nil))
		errs <- err
	}()
	require.Eventually(t, func() bool { return n.Status().LastIndex == first+1 }, 5*time.Second, time.Millisecond,
		"the first proposal was not appended")
	for i := range waiting {
		go func() {
			_, err := n.Propose(ctx, statemachine.EncodePut(fmt.Sprintf("k%d", i), nil))
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return rec.value(t, "natsraft_proposals_queued", "n1") == waiting },
		5*time.Second, time.Millisecond, "the proposals did not queue")
	assert.Equal(t, first+1, n.Status().LastIndex, "proposals appended while a batch was in flight")

	release()
	for range waiting + 1 {
		require.NoError(t, <-errs)
	}
	assert.Equal(t, first+1+waiting, n.Status().LastIndex)
	logs.mu.Lock()
	defer logs.mu.Unlock()
	assert.Equal(t, waiting, logs.sizes[len(logs.sizes)-1], "size of the last append, in %v", logs.sizes)
}
