package raft_test

import (
	"context"
	"runtime"
	"strings"
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

// callerLogStore records, for every Append, whether the log writer's
// goroutine made the call. inline is its answer to InlineWrites.
type callerLogStore struct {
	*memory.LogStore
	inline bool

	mu                     sync.Mutex
	fromWriter, fromOthers int
}

func (s *callerLogStore) InlineWrites() bool { return s.inline }

func (s *callerLogStore) Append(entries []wire.Entry) error {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	writer := false
	for {
		f, more := frames.Next()
		if strings.Contains(f.Function, "(*logWriter).run") {
			writer = true
		}
		if !more {
			break
		}
	}
	s.mu.Lock()
	if writer {
		s.fromWriter++
	} else {
		s.fromOthers++
	}
	s.mu.Unlock()
	return s.LogStore.Append(entries)
}

func TestInlineWritesOnlyForInlineStores(t *testing.T) {
	for _, inline := range []bool{true, false} {
		logs := &callerLogStore{LogStore: memory.NewLogStore(), inline: inline}
		n, err := raft.NewNode(raft.Config{ID: "n1", Cluster: "c1", Peers: []string{"n1"},
			ElectionTimeout: 100 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond},
			statemachine.NewKV(), logs, memory.NewStableStore(), memory.NewSnapshotStore(),
			&chanTransport{net: &chanNetwork{handlers: map[string]wire.PeerHandler{}, down: map[string]bool{}}, id: "n1"})
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for n.Status().Role != raft.RoleLeader && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		for i := range 50 {
			_, err := n.Propose(ctx, statemachine.EncodePut("k", []byte{byte(i)}))
			require.NoError(t, err)
		}
		cancel()
		require.NoError(t, n.Stop())

		logs.mu.Lock()
		if inline {
			assert.Positive(t, logs.fromOthers, "no append ran on the node loop with InlineWrites true")
		} else {
			assert.Zero(t, logs.fromOthers, "appends ran outside the log writer with InlineWrites false")
			assert.Positive(t, logs.fromWriter)
		}
		logs.mu.Unlock()
	}
}
