package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
)

func TestClusterElectsOneLeaderPerTerm(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d-nodes", size), func(t *testing.T) {
			c := newTestCluster(t, size)
			first := c.waitLeader(10 * time.Second)
			// Force a few more elections by stopping leaders, up to a
			// minority of the cluster.
			for i := 0; i < (size-1)/2; i++ {
				c.stop(c.waitLeader(10 * time.Second))
			}
			next := c.waitLeader(10 * time.Second)
			assert.NotEqual(t, first, next)
			c.checkOneLeaderPerTerm()
		})
	}
}

func TestClusterAppliesTenThousandProposals(t *testing.T) {
	for _, broadcast := range []bool{false, true} {
		t.Run(fmt.Sprintf("broadcast=%v", broadcast), func(t *testing.T) {
			c := newTestClusterWith(t, 3, func(cfg *raft.Config) { cfg.Broadcast = broadcast })
			applyTenThousand(t, c)
		})
	}
}

func applyTenThousand(t *testing.T, c *testCluster) {
	c.waitLeader(10 * time.Second)
	cl := c.client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const workers, perWorker = 50, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				if err := put(ctx, cl, fmt.Sprintf("key-%d-%d", w, i), fmt.Sprintf("value-%d", i)); err != nil {
					errs <- fmt.Errorf("put key-%d-%d: %w", w, i, err)
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
	c.waitApplied(30 * time.Second)
	digest := c.node("n1").kv.Digest()
	for _, id := range c.ids {
		assert.Equal(t, workers*perWorker, c.node(id).kv.Len(), "keys on %s", id)
		assert.Equal(t, digest, c.node(id).kv.Digest(), "state machine of %s", id)
	}
}

// writer puts keys until stopped and records which were acknowledged.
type writer struct {
	mu    sync.Mutex
	acked []string
	errs  int
}

func (w *writer) run(ctx context.Context, c *testCluster, prefix string) {
	cl := c.client()
	for i := 0; ctx.Err() == nil; i++ {
		key := fmt.Sprintf("%s-%d", prefix, i)
		opCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := put(opCtx, cl, key, "v")
		cancel()
		w.mu.Lock()
		if err == nil {
			w.acked = append(w.acked, key)
		} else {
			w.errs++
		}
		w.mu.Unlock()
	}
}

func (w *writer) ackedKeys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked...)
}

func TestClusterLeaderFailoverKeepsAckedWrites(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.waitLeader(10 * time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{}
	done := make(chan struct{})
	go func() { w.run(ctx, c, "w"); close(done) }()
	require.Eventually(t, func() bool { return len(w.ackedKeys()) >= 200 }, 20*time.Second, 10*time.Millisecond)

	stoppedAt := time.Now()
	c.stop(old)
	leader := c.waitLeader(10 * testElectionTimeout)
	t.Logf("new leader %s elected %v after the old one stopped", leader, time.Since(stoppedAt))
	assert.NotEqual(t, old, leader)

	before := len(w.ackedKeys())
	require.Eventually(t, func() bool { return len(w.ackedKeys()) >= before+200 }, 20*time.Second, 10*time.Millisecond,
		"writes did not resume under the new leader")
	cancel()
	<-done

	c.waitApplied(20 * time.Second)
	for _, key := range w.ackedKeys() {
		for _, id := range c.running() {
			require.Truef(t, hasKey(t, c.node(id).kv, key), "acknowledged key %s missing on %s", key, id)
		}
	}
	c.checkOneLeaderPerTerm()
}

func TestClusterRestartedFollowerCatchesUp(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	follower := "n1"
	if follower == leader {
		follower = "n2"
	}
	cl := c.client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < 100; i++ {
		require.NoError(t, put(ctx, cl, fmt.Sprintf("before-%d", i), "v"))
	}
	c.stop(follower)
	for i := 0; i < 500; i++ {
		require.NoError(t, put(ctx, cl, fmt.Sprintf("during-%d", i), "v"))
	}
	restarted := c.start(follower)
	c.waitApplied(20 * time.Second)
	assert.Equal(t, 600, restarted.kv.Len())
	assert.Equal(t, c.node(leader).kv.Digest(), restarted.kv.Digest())
	st := restarted.node.Status()
	assert.Equal(t, c.node(leader).node.Status().LastIndex, st.LastIndex)
}

func TestClusterSurvivesMalformedMessages(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	nc, err := c.srv.Connect()
	require.NoError(t, err)
	defer nc.Close()

	garbage := [][]byte{nil, {0xc1}, {0x85, 0x01}, {0xdf, 0xff, 0xff, 0xff, 0xff}, []byte("not msgpack at all")}
	for _, id := range c.ids {
		for _, suffix := range []string{"vote", "vote.resp", "append", "append.resp", "snapshot", "snapshot.resp", "timeout_now", "unknown"} {
			for _, g := range garbage {
				require.NoError(t, nc.Publish(fmt.Sprintf("natsraft.%s.%s.%s", clusterName, id, suffix), g))
			}
		}
	}
	require.NoError(t, nc.Flush())

	cl := c.client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 50; i++ {
		require.NoError(t, put(ctx, cl, fmt.Sprintf("k%d", i), "v"))
	}
	assert.Equal(t, leader, c.waitLeader(10*time.Second), "garbage on raft subjects changed the leader")
	for _, id := range c.ids {
		st := c.node(id).tr.Stats()
		assert.Positive(t, st.DroppedMalformed, "malformed messages counted on %s", id)
		assert.Positive(t, st.DroppedUnknownSubject, "unknown subjects counted on %s", id)
	}
	v, err := cl.Read(ctx, statemachine.EncodeGet("k49"))
	require.NoError(t, err)
	res, err := statemachine.DecodeResult(v)
	require.NoError(t, err)
	assert.True(t, res.Found)
}

func TestClientWithoutLeaderFailsClearly(t *testing.T) {
	c := newTestCluster(t, 3)
	c.waitLeader(10 * time.Second)
	cl := c.client()
	for _, id := range c.ids[:2] {
		c.stop(id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// The remaining node cannot win an election alone; through
	// check-quorum the old leader, if it survived, steps down too.
	last := c.running()[0]
	require.Eventually(t, func() bool { return !c.node(last).node.IsLeader() }, 10*time.Second, 10*time.Millisecond)
	err := put(ctx, cl, "k", "v")
	require.Error(t, err)
	assert.ErrorIs(t, err, raft.ErrNoLeader)
	assert.ErrorIs(t, err, raft.ErrNotApplied)
}

func hasKey(t *testing.T, kv *statemachine.KV, key string) bool {
	t.Helper()
	b, err := kv.Read(statemachine.EncodeGet(key))
	require.NoError(t, err)
	res, err := statemachine.DecodeResult(b)
	require.NoError(t, err)
	return res.Found
}
