package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/statemachine"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// recordingTransport is a raft.Transport that records what it sends.
type recordingTransport struct {
	mu   sync.Mutex
	sent []string // "to kind"
}

func (r *recordingTransport) Start(wire.PeerHandler) error { return nil }
func (r *recordingTransport) Flush() error                 { return nil }
func (r *recordingTransport) Close() error                 { return nil }

func (r *recordingTransport) Send(to string, msg wire.Message) error {
	r.mu.Lock()
	r.sent = append(r.sent, to+" "+msg.Kind().String())
	r.mu.Unlock()
	return nil
}

func (r *recordingTransport) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

func TestFaultTransportCutsAndHeals(t *testing.T) {
	net := newFaultNet(1)
	inner := &recordingTransport{}
	tr := &faultTransport{inner: inner, id: "n1", net: net}
	msg := &wire.AppendEntriesRequest{Cluster: "c", From: "n1", To: "n2", Term: 1}

	require.NoError(t, tr.Send("n2", msg))
	assert.Equal(t, 1, inner.count(), "no fault: the message is sent once")

	net.cutLink("n1", "n2")
	require.NoError(t, tr.Send("n2", msg))
	require.NoError(t, tr.Send("n3", msg))
	assert.Equal(t, 2, inner.count(), "the cut link n1->n2 loses the message; n1->n3 still works")

	net.heal()
	net.isolate("n2", []string{"n1", "n2", "n3"})
	require.NoError(t, tr.Send("n2", msg))
	assert.Equal(t, 2, inner.count(), "isolating n2 cuts n1->n2")

	net.heal()
	net.setRates(faultRates{duplicate: 1})
	require.NoError(t, tr.Send("n2", msg))
	assert.Equal(t, 4, inner.count(), "duplicate rate 1 sends every message twice")

	net.setRates(faultRates{delay: 1, maxDelay: 20 * time.Millisecond})
	require.NoError(t, tr.Send("n2", msg))
	net.timers.Wait()
	assert.Equal(t, 5, inner.count(), "a delayed message is sent once its delay passes")

	net.setRates(faultRates{drop: 1})
	require.NoError(t, tr.Send("n2", msg))
	assert.Equal(t, 5, inner.count(), "drop rate 1 loses every message")
	assert.Equal(t, int64(1), net.counts.dropped.Load())
	assert.Equal(t, int64(2), net.counts.cutDropped.Load())
}

// putKeys writes prefix-0, prefix-1, ... through cl and returns the keys
// that were acknowledged; it stops at the first failure.
func putKeys(t *testing.T, cl *natstransport.Client, prefix string, n int, timeout time.Duration) []string {
	t.Helper()
	var acked []string
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("%s-%d", prefix, i)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		_, _, err := cl.Propose(ctx, statemachine.EncodePut(key, []byte("v")))
		cancel()
		require.NoErrorf(t, err, "put %s", key)
		acked = append(acked, key)
	}
	return acked
}

// requireKeysEverywhere waits until every node applied the leader's commit
// index, then checks every key on every node and that the state machines
// are equal.
func requireKeysEverywhere(t *testing.T, c *faultCluster, keys []string) {
	t.Helper()
	c.waitApplied()
	for _, id := range c.running() {
		kv := c.node(id).kv
		for _, key := range keys {
			b, err := kv.Read(statemachine.EncodeGet(key))
			require.NoError(t, err)
			res, err := statemachine.DecodeResult(b)
			require.NoError(t, err)
			require.Truef(t, res.Found, "acknowledged key %s missing on %s", key, id)
		}
	}
	digest := c.node(c.ids[0]).kv.Digest()
	for _, id := range c.ids[1:] {
		assert.Equalf(t, digest, c.node(id).kv.Digest(), "state machine of %s differs from %s's", id, c.ids[0])
	}
}

func TestFaultsIsolatedLeaderStepsDown(t *testing.T) {
	c := newFaultCluster(t, 3, 11)
	old := c.waitLeader()
	cl := c.client(5 * time.Second)
	acked := putKeys(t, cl, "before", 20, 5*time.Second)

	c.net.isolate(old, c.ids)
	// Check quorum: a leader that hears from no quorum for an election
	// timeout steps down. Two timeouts bound it, because the first check
	// may still count responses from before the cut.
	require.Eventuallyf(t, func() bool { return !c.node(old).node.IsLeader() }, faultLeaderBound, 10*time.Millisecond,
		"isolated leader %s did not step down", old)
	var next string
	require.Eventuallyf(t, func() bool {
		next = c.leader()
		return next != "" && next != old
	}, faultLeaderBound, 10*time.Millisecond, "the majority side elected no leader")
	acked = append(acked, putKeys(t, cl, "during", 20, 5*time.Second)...)

	c.net.heal()
	requireKeysEverywhere(t, c, acked)
	c.checkOneLeaderPerTerm()
}

func TestFaultsOneWayCutFromLeader(t *testing.T) {
	c := newFaultCluster(t, 3, 12)
	old := c.waitLeader()
	cl := c.client(5 * time.Second)
	acked := putKeys(t, cl, "before", 20, 5*time.Second)

	// The followers stop hearing the leader, but the leader still hears
	// them: they elect a new leader, whose higher term reaches the old one.
	for _, id := range c.ids {
		if id != old {
			c.net.cutLink(old, id)
		}
	}
	require.Eventuallyf(t, func() bool {
		l := c.leader()
		return l != "" && l != old && !c.node(old).node.IsLeader()
	}, faultLeaderBound, 10*time.Millisecond, "no new leader replaced %s", old)
	acked = append(acked, putKeys(t, cl, "during", 20, 5*time.Second)...)

	c.net.heal()
	requireKeysEverywhere(t, c, acked)
	c.checkOneLeaderPerTerm()
}

func TestFaultsLossyNetworkConverges(t *testing.T) {
	c := newFaultCluster(t, 5, 13)
	c.waitLeader()
	c.net.setRates(faultRates{drop: 0.2, duplicate: 0.1, delay: 0.2, maxDelay: 30 * time.Millisecond})
	cl := c.client(10 * time.Second)
	acked := putKeys(t, cl, "lossy", 100, 10*time.Second)

	c.net.setRates(faultRates{})
	requireKeysEverywhere(t, c, acked)
	c.checkOneLeaderPerTerm()
	t.Logf("%d messages sent, %d dropped, %d duplicated, %d delayed; %d terms had a leader",
		c.net.counts.sent.Load(), c.net.counts.dropped.Load(), c.net.counts.duplicated.Load(),
		c.net.counts.delayed.Load(), c.terms())
}

func TestFaultsRestartsKeepAckedWrites(t *testing.T) {
	c := newFaultCluster(t, 3, 14)
	c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()

	var mu sync.Mutex
	var acked []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl := c.client(time.Second)
		for i := 0; ctx.Err() == nil; i++ {
			key := fmt.Sprintf("w-%d", i)
			opCtx, opCancel := context.WithTimeout(context.Background(), time.Second)
			_, _, err := cl.Propose(opCtx, statemachine.EncodePut(key, []byte("v")))
			opCancel()
			if err == nil {
				mu.Lock()
				acked = append(acked, key)
				mu.Unlock()
			}
		}
	}()
	plan := &faultPlan{every: 400 * time.Millisecond, crash: true, maxDown: 1}
	plan.run(ctx, c, 14)
	<-done
	for _, id := range c.stoppedNodes() {
		c.start(id)
	}
	require.NotEmpty(t, acked, "no write was acknowledged")
	requireKeysEverywhere(t, c, acked)
	c.checkOneLeaderPerTerm()
	t.Logf("%d writes acknowledged across %d restarts; %d terms had a leader", len(acked), plan.injected.Load(), c.terms())
}
