package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/kvclient"
	"github.com/natsraft/natsraft/raft"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// Parameters of the durable cluster test. The bounds only limit how long a
// failing test waits; none is a performance assertion.
const (
	durableWriters      = 4
	durableKillRounds   = 6
	durableRunBetween   = 1500 * time.Millisecond // between a restart and the next kill
	durableDownTime     = 700 * time.Millisecond  // from a kill to the restart
	durableWriteTimeout = 3 * time.Second
	durableMinAcked     = 50 // acknowledged writes required in all
)

// durableLedger records the outcome of every write of the test.
type durableLedger struct {
	mu      sync.Mutex
	acked   map[string]string
	unknown map[string]string
	// incrAcked and incrUnknown count each writer's acknowledged increments
	// of its counter and those with unknown outcome.
	incrAcked, incrUnknown [durableWriters]int
}

// TestDurableClusterSurvivesKills runs three "raftnode run --data"
// processes while clients write, once on each durable store. It kills a
// node with SIGKILL and restarts it on the same data directory several
// times, leaders included. Then it checks that every acknowledged write is
// readable, that each counter counts every acknowledged increment once,
// and that the three state machines hold the same state.
func TestDurableClusterSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds raftnode and starts three processes; skipped with -short")
	}
	for _, store := range []string{"bolt", "wal"} {
		t.Run(store, func(t *testing.T) { testDurableClusterSurvivesKills(t, store) })
	}
}

func testDurableClusterSurvivesKills(t *testing.T, store string) {
	c := startCLICluster(t, "durable-"+store, "500ms", "--store", store)
	c.waitLeader(t)

	ledger := &durableLedger{acked: map[string]string{}, unknown: map[string]string{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range durableWriters {
		kv := durableClient(t, c)
		wg.Go(func() { durableWrite(t, kv, w, ledger, stop) })
	}

	for round := range durableKillRounds {
		time.Sleep(durableRunBetween)
		victim := durableVictim(t, c, round)
		require.Equal(t, -1, c.nodes[victim].signal(t, syscall.SIGKILL, procShutdownBound), "exit of killed node %s", victim)
		ledger.mu.Lock()
		t.Logf("round %d: killed %s with %d writes acknowledged so far", round, victim, len(ledger.acked))
		ledger.mu.Unlock()
		time.Sleep(durableDownTime)
		c.start(t, victim)
	}
	time.Sleep(durableRunBetween)
	close(stop)
	wg.Wait()

	t.Logf("writes: %d acknowledged, %d with unknown outcome", len(ledger.acked), len(ledger.unknown))
	require.GreaterOrEqual(t, len(ledger.acked), durableMinAcked, "acknowledged writes")
	durableWaitConverged(t, c)
	reader := durableClient(t, c)
	durableCheckReads(t, reader, ledger)
	durableCheckCounters(t, reader, ledger)
	durableCheckDigests(t, c)
}

// durableClient returns a kvclient with a session on a connection of its
// own to the test's NATS server.
func durableClient(t *testing.T, c *cliCluster) *kvclient.Client {
	t.Helper()
	nc, err := nats.Connect(c.url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	tc, err := natstransport.NewClient(nc, natstransport.ClientConfig{
		Prefix: c.prefix, Cluster: c.cluster, Sessions: true,
		Timeout: durableWriteTimeout, AttemptTimeout: time.Second,
	})
	require.NoError(t, err)
	return kvclient.New(tc)
}

// durableWrite puts new keys and increments the writer's counter until
// stop is closed, and records every outcome in ledger.
func durableWrite(t *testing.T, kv *kvclient.Client, w int, ledger *durableLedger, stop <-chan struct{}) {
	counter := fmt.Sprintf("counter-%d", w)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), durableWriteTimeout)
		if i%4 == 3 {
			_, err := kv.Increment(ctx, counter, 1)
			cancel()
			ledger.mu.Lock()
			switch {
			case err == nil:
				ledger.incrAcked[w]++
			case !errors.Is(err, raft.ErrNotApplied):
				ledger.incrUnknown[w]++
			}
			ledger.mu.Unlock()
			continue
		}
		key, value := fmt.Sprintf("w%d-%05d", w, i), fmt.Sprintf("value %d of writer %d", i, w)
		_, err := kv.Put(ctx, key, []byte(value))
		cancel()
		ledger.mu.Lock()
		switch {
		case err == nil:
			ledger.acked[key] = value
		case !errors.Is(err, raft.ErrNotApplied):
			ledger.unknown[key] = value
			t.Logf("put %s: outcome unknown: %v", key, err)
		}
		ledger.mu.Unlock()
	}
}

// durableVictim returns the node to kill in round: the leader in even
// rounds, a follower in odd ones.
func durableVictim(t *testing.T, c *cliCluster, round int) string {
	t.Helper()
	leader := c.waitLeader(t)
	if round%2 == 0 {
		return leader
	}
	followers := []string{}
	for _, id := range []string{"n1", "n2", "n3"} {
		if id != leader {
			followers = append(followers, id)
		}
	}
	return followers[round/2%len(followers)]
}

// durableWaitConverged waits until all three nodes run, the leader has
// committed its whole log, and every node has applied it.
func durableWaitConverged(t *testing.T, c *cliCluster) {
	t.Helper()
	deadline := time.Now().Add(procFailoverBound)
	var last cliStatus
	for time.Now().Before(deadline) {
		st, ok := c.status(t)
		last = st
		if ok && st.Leader != "" && len(st.Nodes) == 3 && converged(st) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nodes did not converge within %s; last status: %+v", procFailoverBound, last)
}

func converged(st cliStatus) bool {
	var target uint64
	for _, n := range st.Nodes {
		if n.Node == st.Leader {
			if n.CommitIndex < n.LastIndex {
				return false
			}
			target = n.CommitIndex
		}
	}
	for _, n := range st.Nodes {
		if n.Leader != st.Leader || n.AppliedIndex != target {
			return false
		}
	}
	return true
}

// durableCheckReads reads every acknowledged key from the leader, and from
// each node's own state machine. Each read has its own deadline, because
// the number of keys depends on how fast the cluster wrote. The first read
// that fails ends the test.
func durableCheckReads(t *testing.T, kv *kvclient.Client, ledger *durableLedger) {
	t.Helper()
	read := func(fn func(ctx context.Context) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*durableWriteTimeout)
		defer cancel()
		return fn(ctx)
	}
	for key, want := range ledger.acked {
		var value []byte
		err := read(func(ctx context.Context) (err error) { value, _, err = kv.Get(ctx, key); return })
		require.NoError(t, err, "get acknowledged key %s", key)
		require.Equal(t, want, string(value), "value of %s", key)
		for _, node := range []string{"n1", "n2", "n3"} {
			var v kvclient.StaleValue
			err := read(func(ctx context.Context) (err error) { v, err = kv.GetStale(ctx, key, node); return })
			require.NoError(t, err, "stale get of acknowledged key %s from %s", key, node)
			require.Equal(t, want, string(v.Value), "value of %s on %s", key, node)
		}
	}
	for key, want := range ledger.unknown {
		var value []byte
		err := read(func(ctx context.Context) (err error) { value, _, err = kv.Get(ctx, key); return })
		if err == nil {
			assert.Equal(t, want, string(value), "value of %s, written with unknown outcome", key)
			continue
		}
		assert.ErrorIs(t, err, kvclient.ErrKeyNotFound, "get %s, written with unknown outcome", key)
	}
}

// durableCheckCounters checks that each counter counts every acknowledged
// increment once, plus at most the increments with unknown outcome.
func durableCheckCounters(t *testing.T, kv *kvclient.Client, ledger *durableLedger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), procFailoverBound)
	defer cancel()
	for w := range durableWriters {
		counter := fmt.Sprintf("counter-%d", w)
		value, _, err := kv.Get(ctx, counter)
		if ledger.incrAcked[w] == 0 && errors.Is(err, kvclient.ErrKeyNotFound) {
			continue
		}
		require.NoError(t, err, "get %s", counter)
		n, err := strconv.Atoi(string(value))
		require.NoError(t, err, "value of %s", counter)
		assert.GreaterOrEqual(t, n, ledger.incrAcked[w], "%s: an acknowledged increment is missing", counter)
		assert.LessOrEqual(t, n, ledger.incrAcked[w]+ledger.incrUnknown[w], "%s: an increment was applied twice", counter)
		t.Logf("%s = %d: %d increments acknowledged, %d with unknown outcome", counter, n, ledger.incrAcked[w], ledger.incrUnknown[w])
	}
}

// stateAtStop matches the log line that "raftnode run" writes when it
// stops, with the digests of its state machine.
var stateAtStop = regexp.MustCompile(`msg="state at stop" .*kv_digest=([0-9a-f]{64}) keys=(\d+) session_digest=([0-9a-f]{64})`)

// durableCheckDigests stops every node with SIGTERM and compares the
// digests that each logs on its way out. No write runs any more and all
// nodes have applied the same log, so the digests must be equal.
func durableCheckDigests(t *testing.T, c *cliCluster) {
	t.Helper()
	states := map[string]string{}
	for _, id := range []string{"n1", "n2", "n3"} {
		p := c.nodes[id]
		require.Equal(t, 0, p.signal(t, syscall.SIGTERM, procShutdownBound), "exit code of %s after SIGTERM", id)
		log, err := os.ReadFile(p.logPath)
		require.NoError(t, err)
		m := stateAtStop.FindSubmatch(log)
		require.NotNil(t, m, "log of %s has no state at stop", id)
		states[id] = fmt.Sprintf("kv %s, %s keys, sessions %s", m[1], m[2], m[3])
	}
	t.Logf("state of n1: %s", states["n1"])
	assert.Equal(t, states["n1"], states["n2"], "state of n2")
	assert.Equal(t, states["n1"], states["n3"], "state of n3")
}
