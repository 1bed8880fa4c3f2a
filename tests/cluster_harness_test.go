package tests

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/storage/memory"
	natstransport "github.com/natsraft/natsraft/transport/nats"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

const (
	clusterName         = "c1"
	testElectionTimeout = 400 * time.Millisecond
	testHeartbeat       = 50 * time.Millisecond
)

// clusterNode is one running member of a testCluster.
type clusterNode struct {
	id     string
	nc     *nats.Conn
	node   *raft.Node
	kv     *statemachine.KV
	tr     *natstransport.Transport
	server *natstransport.ClientServer
}

// testCluster runs nodes in this process on a real embedded NATS server.
// Each node has its own connection; stores outlive a node's stop, so a
// restarted node resumes from what it had persisted.
type testCluster struct {
	t      *testing.T
	srv    *embedded.Server
	ids    []string
	stores map[string]*memory.Store

	mu    sync.Mutex
	nodes map[string]*clusterNode // running nodes

	// tune, if set, adjusts each node's configuration.
	tune func(*raft.Config)

	// leaders records, per term, every node that announced it leads.
	leaders map[uint64]map[string]bool
}

func newTestCluster(t *testing.T, size int) *testCluster {
	t.Helper()
	return newTestClusterWith(t, size, nil)
}

// newTestClusterWith is newTestCluster with tune applied to every node's
// raft.Config.
func newTestClusterWith(t *testing.T, size int, tune func(*raft.Config)) *testCluster {
	t.Helper()
	srv, err := embedded.Start(embedded.Options{Port: embedded.NoListener})
	require.NoError(t, err)
	c := &testCluster{t: t, srv: srv, stores: map[string]*memory.Store{}, nodes: map[string]*clusterNode{},
		leaders: map[uint64]map[string]bool{}, tune: tune}
	for i := 1; i <= size; i++ {
		id := fmt.Sprintf("n%d", i)
		c.ids = append(c.ids, id)
		c.stores[id] = memory.NewStore()
	}
	for _, id := range c.ids {
		c.start(id)
	}
	t.Cleanup(func() {
		for _, id := range c.running() {
			c.stop(id)
		}
		srv.Shutdown()
	})
	return c
}

func (c *testCluster) logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(&testWriter{t: c.t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start starts node id on its stores with a fresh state machine, which the
// node rebuilds by applying the log.
func (c *testCluster) start(id string) *clusterNode {
	c.t.Helper()
	nc, err := c.srv.Connect()
	require.NoError(c.t, err)
	log := c.logger()
	tcfg := natstransport.Config{Cluster: clusterName, Node: id, Peers: c.ids, Logger: log}
	tr, err := natstransport.New(nc, tcfg)
	require.NoError(c.t, err)
	kv := statemachine.NewKV()
	st := c.stores[id]
	cfg := raft.Config{
		ID:                id,
		Cluster:           clusterName,
		Peers:             c.ids,
		ElectionTimeout:   testElectionTimeout,
		HeartbeatInterval: testHeartbeat,
		Logger:            log,
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	node, err := raft.NewNode(cfg, kv, st.Log, st.Stable, st.Snapshots, tr)
	require.NoError(c.t, err)
	events, _ := node.Subscribe(1024)
	go c.recordLeaders(events)
	server, err := natstransport.ServeNode(nc, tcfg, node)
	require.NoError(c.t, err)
	n := &clusterNode{id: id, nc: nc, node: node, kv: kv, tr: tr, server: server}
	c.mu.Lock()
	c.nodes[id] = n
	c.mu.Unlock()
	return n
}

func (c *testCluster) recordLeaders(events <-chan raft.Event) {
	for e := range events {
		if e.Type == raft.EventRoleChanged && e.Role == raft.RoleLeader {
			c.mu.Lock()
			if c.leaders[e.Term] == nil {
				c.leaders[e.Term] = map[string]bool{}
			}
			c.leaders[e.Term][e.Node] = true
			c.mu.Unlock()
		}
	}
}

// stop stops node id as a crash would, keeping its stores.
func (c *testCluster) stop(id string) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return
	}
	_ = n.server.Close()
	_ = n.node.Stop()
	n.nc.Close()
}

func (c *testCluster) node(id string) *clusterNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *testCluster) running() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for _, id := range c.ids {
		if c.nodes[id] != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// waitLeader waits until one running node leads and every running node
// agrees, and returns its id.
func (c *testCluster) waitLeader(timeout time.Duration) string {
	c.t.Helper()
	var leader string
	require.Eventuallyf(c.t, func() bool {
		leader = ""
		for _, id := range c.running() {
			st := c.node(id).node.Status()
			if st.Role == raft.RoleLeader {
				leader = id
			}
		}
		if leader == "" {
			return false
		}
		for _, id := range c.running() {
			if c.node(id).node.Status().Leader != leader {
				return false
			}
		}
		return true
	}, timeout, 10*time.Millisecond, "no leader agreed on within %v", timeout)
	return leader
}

// waitApplied waits until every running node has applied the leader's
// commit index.
func (c *testCluster) waitApplied(timeout time.Duration) {
	c.t.Helper()
	leader := c.waitLeader(timeout)
	want := c.node(leader).node.Status().CommitIndex
	require.Eventuallyf(c.t, func() bool {
		for _, id := range c.running() {
			if c.node(id).node.Status().AppliedIndex < want {
				return false
			}
		}
		return true
	}, timeout, 10*time.Millisecond, "nodes did not apply through %d", want)
}

// checkOneLeaderPerTerm fails the test if two nodes led in one term.
func (c *testCluster) checkOneLeaderPerTerm() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for term, ids := range c.leaders {
		require.LessOrEqualf(c.t, len(ids), 1, "term %d had leaders %v", term, ids)
	}
}

func (c *testCluster) client() *natstransport.Client {
	c.t.Helper()
	nc, err := c.srv.Connect()
	require.NoError(c.t, err)
	c.t.Cleanup(nc.Close)
	cl, err := natstransport.NewClient(nc, natstransport.ClientConfig{Cluster: clusterName, Timeout: 10 * time.Second, Logger: c.logger()})
	require.NoError(c.t, err)
	return cl
}

// put writes key through the client and reports whether it was acknowledged.
func put(ctx context.Context, cl *natstransport.Client, key, value string) error {
	_, _, err := cl.Propose(ctx, statemachine.EncodePut(key, []byte(value)))
	return err
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
