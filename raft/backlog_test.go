package raft_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedMachine is a state machine whose Apply waits until the gate opens.
type gatedMachine struct {
	gate    chan struct{}
	mu      sync.Mutex
	applied int
}

func (m *gatedMachine) Apply(cmds []raft.Command) ([][]byte, error) {
	<-m.gate
	m.mu.Lock()
	m.applied += len(cmds)
	m.mu.Unlock()
	return make([][]byte, len(cmds)), nil
}
func (m *gatedMachine) Read([]byte) ([]byte, error) { return nil, nil }
func (m *gatedMachine) Snapshot(io.Writer) error    { return nil }
func (m *gatedMachine) Restore(io.Reader) error     { return nil }

func TestBacklogHoldsProposalsUntilApplied(t *testing.T) {
	net := &chanNetwork{handlers: map[string]wire.PeerHandler{}, down: map[string]bool{}}
	sm := &gatedMachine{gate: make(chan struct{})}
	st := memory.NewStore()
	n, err := raft.NewNode(raft.Config{
		ID: "a", Cluster: "c1", Peers: []string{"a"},
		ElectionTimeout: 100 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond,
		MaxUnappliedEntries: 8,
	}, sm, st.Log, st.Stable, st.Snapshots, &chanTransport{net: net, id: "a"})
	require.NoError(t, err)
	defer n.Stop()
	require.Eventually(t, n.IsLeader, 5*time.Second, 5*time.Millisecond)

	// The no-op entry and these proposals fill the backlog while Apply waits.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := n.Propose(context.Background(), []byte("x"))
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return n.Status().LastIndex >= 8 }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	assert.LessOrEqual(t, n.Status().LastIndex, uint64(9), "leader appended past the backlog bound")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = n.Propose(ctx, []byte("late"))
	cancel()
	assert.ErrorIs(t, err, raft.ErrOverloaded)
	assert.ErrorIs(t, err, raft.ErrNotApplied)

	close(sm.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	sm.mu.Lock()
	assert.Equal(t, 20, sm.applied)
	sm.mu.Unlock()
}
