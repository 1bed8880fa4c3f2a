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

// onStack reports whether a function whose name contains fn is a caller of
// the function that calls onStack.
func onStack(fn string) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if strings.Contains(f.Function, fn) {
			return true
		}
		if !more {
			return false
		}
	}
}

// callerLogStore records, for every Append, whether the log writer's
// goroutine made the call. inline is the value InlineWrites returns.
type callerLogStore struct {
	*memory.LogStore
	inline bool

	mu                     sync.Mutex
	fromWriter, fromOthers int
}

func (s *callerLogStore) InlineWrites() bool { return s.inline }

func (s *callerLogStore) Append(entries []wire.Entry) error {
	writer := onStack("(*logWriter).run")
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

// callerKV records, for every Apply, whether the applier's goroutine made
// the call. inline is the value ApplyInline returns.
type callerKV struct {
	*statemachine.KV
	inline bool

	mu                      sync.Mutex
	fromApplier, fromOthers int
}

func (kv *callerKV) ApplyInline() bool { return kv.inline }

func (kv *callerKV) Apply(cmds []raft.Command) ([][]byte, error) {
	applier := onStack("(*applier).run")
	kv.mu.Lock()
	if applier {
		kv.fromApplier++
	} else {
		kv.fromOthers++
	}
	kv.mu.Unlock()
	return kv.KV.Apply(cmds)
}

func TestInlineApplyOnlyForInlineStateMachines(t *testing.T) {
	for _, inline := range []bool{true, false} {
		kv := &callerKV{KV: statemachine.NewKV(), inline: inline}
		n, err := raft.NewNode(raft.Config{ID: "n1", Cluster: "c1", Peers: []string{"n1"},
			ElectionTimeout: 100 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond},
			kv, memory.NewLogStore(), memory.NewStableStore(), memory.NewSnapshotStore(),
			&chanTransport{net: &chanNetwork{handlers: map[string]wire.PeerHandler{}, down: map[string]bool{}}, id: "n1"})
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for n.Status().Role != raft.RoleLeader && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		for i := range 50 {
			res, err := n.Propose(ctx, statemachine.EncodePut("k", []byte{byte(i)}))
			require.NoError(t, err)
			assert.Equal(t, uint64(i+2), res.Index, "entries are applied in order, once")
		}
		cancel()
		require.NoError(t, n.Stop())

		kv.mu.Lock()
		if inline {
			assert.Positive(t, kv.fromOthers, "no apply ran on the node loop with ApplyInline true")
		} else {
			assert.Zero(t, kv.fromOthers, "applies ran outside the applier with ApplyInline false")
			assert.Positive(t, kv.fromApplier)
		}
		kv.mu.Unlock()
	}
}
