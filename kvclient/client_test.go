package kvclient_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/kvclient"
	"github.com/natsraft/natsraft/raft"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

const (
	testElectionTimeout = 400 * time.Millisecond
	leaderWait          = 10 * time.Second
	callTimeout         = 10 * time.Second
)

// TestClient runs every operation against one three-node cluster.
func TestClient(t *testing.T) {
	c := startCluster(t, testElectionTimeout)
	c.waitLeader(leaderWait)
	kv := c.client(clusterID, callTimeout)

	t.Run("put get delete", func(t *testing.T) { testPutGetDelete(t, kv) })
	t.Run("compare and set", func(t *testing.T) { testCompareAndSet(t, kv) })
	t.Run("increment", func(t *testing.T) { testIncrement(t, kv) })
	t.Run("increment rejected", func(t *testing.T) { testIncrementRejected(t, kv) })
	t.Run("concurrent increments", func(t *testing.T) { testConcurrentIncrements(t, kv) })
	t.Run("empty key", func(t *testing.T) { testEmptyKey(t, kv) })
	t.Run("status", func(t *testing.T) { testStatus(t, kv) })
	t.Run("unknown cluster", func(t *testing.T) {
		testUnknownCluster(t, c.client("absent", 300*time.Millisecond))
	})
}

func testPutGetDelete(t *testing.T, kv *kvclient.Client) {
	ctx := context.Background()
	k := key(t, "k")

	rev, err := kv.Put(ctx, k, []byte("one"))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), rev, "revision of the first put")
	rev, err = kv.Put(ctx, k, []byte("two"))
	require.NoError(t, err)
	assert.Equal(t, uint64(2), rev, "revision of the second put")

	value, rev, err := kv.Get(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, "two", string(value))
	assert.Equal(t, uint64(2), rev)

	existed, err := kv.Delete(ctx, k)
	require.NoError(t, err)
	assert.True(t, existed, "delete of a stored key")

	_, _, err = kv.Get(ctx, k)
	assert.ErrorIs(t, err, kvclient.ErrKeyNotFound)
	assert.EqualError(t, err, `kvclient: key not found: get "`+k+`"`)

	existed, err = kv.Delete(ctx, k)
	require.NoError(t, err)
	assert.False(t, existed, "delete of a deleted key")

	// A key created again starts over at revision 1.
	rev, err = kv.Put(ctx, k, nil)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), rev, "revision after delete and put")
	value, _, err = kv.Get(ctx, k)
	require.NoError(t, err, "an empty value is a value")
	assert.Empty(t, value)
}

func testCompareAndSet(t *testing.T, kv *kvclient.Client) {
	ctx := context.Background()
	k := key(t, "k")

	rev, err := kv.CompareAndSet(ctx, k, nil, true, []byte("v1"))
	require.NoError(t, err, "create an absent key")
	assert.Equal(t, uint64(1), rev)

	_, err = kv.CompareAndSet(ctx, k, nil, true, []byte("again"))
	var failed *kvclient.CompareFailedError
	require.ErrorAs(t, err, &failed, "expect absent on a stored key")
	assert.ErrorIs(t, err, kvclient.ErrCompareFailed)
	assert.True(t, failed.Found)
	assert.Equal(t, "v1", string(failed.Value))
	assert.Equal(t, uint64(1), failed.Revision)
	assert.Equal(t, k, failed.Key)

	_, err = kv.CompareAndSet(ctx, k, []byte("wrong"), false, []byte("v2"))
	require.ErrorAs(t, err, &failed, "wrong expected value")
	assert.Equal(t, "v1", string(failed.Value))

	rev, err = kv.CompareAndSet(ctx, k, []byte("v1"), false, []byte("v2"))
	require.NoError(t, err, "matching expected value")
	assert.Equal(t, uint64(2), rev)
	value, _, err := kv.Get(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, "v2", string(value))

	_, err = kv.CompareAndSet(ctx, key(t, "absent"), []byte("x"), false, []byte("y"))
	require.ErrorAs(t, err, &failed, "expected value on an absent key")
	assert.False(t, failed.Found)
	assert.Zero(t, failed.Revision)
}

func testIncrement(t *testing.T, kv *kvclient.Client) {
	ctx := context.Background()
	k := key(t, "counter")

	n, err := kv.Increment(ctx, k, 5)
	require.NoError(t, err, "increment of an absent key")
	assert.Equal(t, int64(5), n)
	n, err = kv.Increment(ctx, k, -7)
	require.NoError(t, err)
	assert.Equal(t, int64(-2), n)

	value, rev, err := kv.Get(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, "-2", string(value), "increments store decimal text")
	assert.Equal(t, uint64(2), rev)
}

func testIncrementRejected(t *testing.T, kv *kvclient.Client) {
	ctx := context.Background()
	text := key(t, "text")
	_, err := kv.Put(ctx, text, []byte("abc"))
	require.NoError(t, err)

	_, err = kv.Increment(ctx, text, 1)
	var rejected *kvclient.RejectedError
	require.ErrorAs(t, err, &rejected, "increment of a value that is not a number")
	assert.ErrorIs(t, err, kvclient.ErrRejected)
	assert.NotErrorIs(t, err, raft.ErrNotApplied, "the command went through the log")
	assert.Equal(t, "increment", rejected.Op)
	assert.Equal(t, text, rejected.Key)
	assert.NotZero(t, rejected.Index, "a rejected command still has a log index")
	assert.Contains(t, rejected.Reason, "not a decimal int64")

	full := key(t, "max")
	_, err = kv.Put(ctx, full, []byte(strconv.FormatInt(math.MaxInt64, 10)))
	require.NoError(t, err)
	_, err = kv.Increment(ctx, full, 1)
	assert.ErrorIs(t, err, kvclient.ErrRejected, "increment past MaxInt64")
	value, rev, err := kv.Get(ctx, full)
	require.NoError(t, err)
	assert.Equal(t, strconv.FormatInt(math.MaxInt64, 10), string(value), "a rejected increment changed the value")
	assert.Equal(t, uint64(1), rev, "a rejected increment changed the revision")
}

func testConcurrentIncrements(t *testing.T, kv *kvclient.Client) {
	const workers, perWorker = 4, 25
	ctx := context.Background()
	k := key(t, "counter")

	var mu sync.Mutex
	var seen []int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				n, err := kv.Increment(ctx, k, 1)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				seen = append(seen, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	slices.Sort(seen)
	want := make([]int64, workers*perWorker)
	for i := range want {
		want[i] = int64(i + 1)
	}
	assert.Equal(t, want, seen, "each increment must return a distinct value from 1 to %d", len(want))
	value, _, err := kv.Get(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(workers*perWorker), string(value))
}

func testEmptyKey(t *testing.T, kv *kvclient.Client) {
	ctx := context.Background()
	calls := map[string]func() error{
		"put":             func() error { _, err := kv.Put(ctx, "", []byte("x")); return err },
		"get":             func() error { _, _, err := kv.Get(ctx, ""); return err },
		"delete":          func() error { _, err := kv.Delete(ctx, ""); return err },
		"compare-and-set": func() error { _, err := kv.CompareAndSet(ctx, "", nil, true, nil); return err },
		"increment":       func() error { _, err := kv.Increment(ctx, "", 1); return err },
	}
	for name, call := range calls {
		err := call()
		assert.ErrorIs(t, err, kvclient.ErrEmptyKey, name)
		assert.ErrorIs(t, err, raft.ErrNotApplied, name)
		assert.EqualError(t, err, "kvclient: empty key: "+name+" needs a non-empty key")
	}
}

func testStatus(t *testing.T, kv *kvclient.Client) {
	replies, err := kv.Status(context.Background())
	require.NoError(t, err)
	var nodes []string
	leaders := 0
	for _, r := range replies {
		nodes = append(nodes, r.GetNode())
		if r.GetRole() == raft.RoleLeader.String() {
			leaders++
		}
	}
	assert.Equal(t, []string{"n1", "n2", "n3"}, nodes)
	assert.Equal(t, 1, leaders, "nodes reporting themselves leader")
}

// testUnknownCluster sends commands to a cluster that no node serves: NATS
// reports no responders, so nothing was applied.
func testUnknownCluster(t *testing.T, kv *kvclient.Client) {
	ctx := context.Background()
	_, err := kv.Put(ctx, "k", []byte("v"))
	require.Error(t, err)
	assert.ErrorIs(t, err, raft.ErrNotApplied, "put to a cluster without nodes")
	assert.ErrorIs(t, err, raft.ErrNoLeader)
	assert.NotErrorIs(t, err, raft.ErrOutcomeUnknown)

	_, _, err = kv.Get(ctx, "k")
	assert.ErrorIs(t, err, raft.ErrNoLeader, "get from a cluster without nodes")
	assert.NotErrorIs(t, err, kvclient.ErrKeyNotFound)

	_, err = kv.Status(ctx)
	assert.Error(t, err, "status of a cluster without nodes")
}

// TestWriteWithoutQuorumIsOutcomeUnknown stops both followers and writes
// before the leader notices: the leader appends the command but cannot
// commit it, so the client's deadline passes with the outcome unknown.
func TestWriteWithoutQuorumIsOutcomeUnknown(t *testing.T) {
	// The leader keeps its queue subscription for at least one election
	// timeout after it last heard from a quorum, far longer than the write's
	// deadline below.
	const electionTimeout = 2 * time.Second
	c := startCluster(t, electionTimeout)
	leader := c.waitLeader(leaderWait)
	kv := c.client(clusterID, callTimeout)
	_, err := kv.Put(context.Background(), "before", []byte("v"))
	require.NoError(t, err)

	for _, id := range c.ids {
		if id != leader {
			c.stop(id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = kv.Put(ctx, "after", []byte("v"))
	require.Error(t, err)
	assert.ErrorIs(t, err, raft.ErrOutcomeUnknown, "put that reached a leader without quorum")
	assert.NotErrorIs(t, err, raft.ErrNotApplied)
	assert.Contains(t, err.Error(), `kvclient: put "after"`)
	assert.Equal(t, raft.RoleLeader, c.nodes[leader].node.Status().Role,
		"the leader stepped down before the deadline, so the test did not exercise a write in flight")
}

// TestErrorsMatchSentinels checks the typed errors without a cluster.
func TestErrorsMatchSentinels(t *testing.T) {
	var err error = &kvclient.CompareFailedError{Key: "k", Found: true, Revision: 3}
	assert.ErrorIs(t, err, kvclient.ErrCompareFailed)
	assert.NotErrorIs(t, err, kvclient.ErrRejected)
	assert.Equal(t, `kvclient: compare-and-set "k": compare failed: the key exists at revision 3`, err.Error())
	err = &kvclient.CompareFailedError{Key: "k"}
	assert.Equal(t, `kvclient: compare-and-set "k": compare failed: the key does not exist`, err.Error())

	err = &kvclient.RejectedError{Op: "increment", Key: "k", Index: 7, Reason: "bad"}
	assert.ErrorIs(t, err, kvclient.ErrRejected)
	assert.NotErrorIs(t, err, kvclient.ErrCompareFailed)
	assert.Equal(t, `kvclient: increment "k": rejected by the state machine at log index 7: bad`, err.Error())

	wrapped := errors.Join(errors.New("context"), err)
	assert.ErrorIs(t, wrapped, kvclient.ErrRejected)
}

func TestGetStale(t *testing.T) {
	c := startCluster(t, testElectionTimeout)
	c.waitLeader(leaderWait)
	kv := c.client(clusterID, callTimeout)
	ctx := context.Background()
	_, err := kv.Put(ctx, "k", []byte("v"))
	require.NoError(t, err)

	for _, node := range c.ids {
		var got kvclient.StaleValue
		require.Eventually(t, func() bool {
			got, err = kv.GetStale(ctx, "k", node)
			return err == nil
		}, leaderWait, 10*time.Millisecond, "stale read of k from %s: %v", node, err)
		assert.Equal(t, "v", string(got.Value), "value on %s", node)
		assert.Equal(t, uint64(1), got.Revision)
		assert.Equal(t, node, got.Node)
		assert.NotZero(t, got.Index, "applied index of %s", node)
	}

	value, rev, err := kv.Get(ctx, "k", kvclient.Stale(""))
	require.NoError(t, err, "stale read from any node")
	assert.Equal(t, "v", string(value))
	assert.Equal(t, uint64(1), rev)

	missing, err := kv.GetStale(ctx, "absent", "n2")
	assert.ErrorIs(t, err, kvclient.ErrKeyNotFound)
	assert.Equal(t, "n2", missing.Node, "a missing key still names the node")
	_, err = kv.GetStale(ctx, "", "")
	assert.ErrorIs(t, err, kvclient.ErrEmptyKey)
}

// TestPlainClientOnSessionCluster sends a write without a session to a
// cluster that runs sessions: the state machine rejects the command, and
// the error names the client setting to fix.
func TestPlainClientOnSessionCluster(t *testing.T) {
	c := startCluster(t, testElectionTimeout)
	c.waitLeader(leaderWait)
	plain := c.clientWith(natstransport.ClientConfig{Cluster: clusterID, Timeout: callTimeout})

	_, err := plain.Put(context.Background(), "k", []byte("v"))
	require.Error(t, err)
	assert.ErrorContains(t, err, "needs natstransport.ClientConfig.Sessions")
	_, _, err = plain.Get(context.Background(), "k")
	assert.ErrorIs(t, err, kvclient.ErrKeyNotFound, "the rejected write changed nothing")
}
