package kvclient_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/kvclient"
	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/storage/memory"
	natstransport "github.com/natsraft/natsraft/transport/nats"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

const clusterID = "kv"

// testNode is one running node of a testCluster.
type testNode struct {
	nc     *nats.Conn
	node   *raft.Node
	server *natstransport.ClientServer
}

// testCluster runs three nodes with in-memory stores and the key-value
// state machine behind client sessions in this process, on a real embedded
// NATS server. Each node has its own connection.
type testCluster struct {
	t     *testing.T
	srv   *embedded.Server
	ids   []string
	nodes map[string]*testNode
}

// startCluster starts a three-node cluster whose nodes use the given
// election timeout, and stops it when the test ends.
func startCluster(t *testing.T, electionTimeout time.Duration) *testCluster {
	t.Helper()
	srv, err := embedded.Start(embedded.Options{Port: embedded.NoListener})
	require.NoError(t, err)
	c := &testCluster{t: t, srv: srv, ids: []string{"n1", "n2", "n3"}, nodes: map[string]*testNode{}}
	t.Cleanup(func() {
		for id := range c.nodes {
			c.stop(id)
		}
		srv.Shutdown()
	})
	for _, id := range c.ids {
		c.start(id, electionTimeout)
	}
	return c
}

// testLogger returns a logger that prints warnings and errors with -v and
// discards everything otherwise.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (c *testCluster) start(id string, electionTimeout time.Duration) {
	c.t.Helper()
	nc, err := c.srv.Connect()
	require.NoError(c.t, err)
	tcfg := natstransport.Config{Cluster: clusterID, Node: id, Peers: c.ids, Logger: testLogger()}
	tr, err := natstransport.New(nc, tcfg)
	require.NoError(c.t, err)
	st := memory.NewStore()
	node, err := raft.NewNode(raft.Config{
		ID:                id,
		Cluster:           clusterID,
		Peers:             c.ids,
		ElectionTimeout:   electionTimeout,
		HeartbeatInterval: electionTimeout / 8,
		Logger:            testLogger(),
	}, statemachine.WithSessions(statemachine.NewKV(), statemachine.SessionOptions{}), st.Log, st.Stable, st.Snapshots, tr)
	require.NoError(c.t, err)
	server, err := natstransport.ServeNode(nc, tcfg, node)
	require.NoError(c.t, err)
	c.nodes[id] = &testNode{nc: nc, node: node, server: server}
}

// stop stops node id and closes its connection.
func (c *testCluster) stop(id string) {
	n := c.nodes[id]
	if n == nil {
		return
	}
	delete(c.nodes, id)
	_ = n.server.Close()
	_ = n.node.Stop()
	n.nc.Close()
}

// waitLeader waits until a node leads and every running node follows it,
// and returns its id.
func (c *testCluster) waitLeader(timeout time.Duration) string {
	c.t.Helper()
	var leader string
	require.Eventuallyf(c.t, func() bool {
		leader = ""
		for id, n := range c.nodes {
			if n.node.Status().Role == raft.RoleLeader {
				leader = id
			}
		}
		if leader == "" {
			return false
		}
		for _, n := range c.nodes {
			if n.node.Status().Leader != leader {
				return false
			}
		}
		return true
	}, timeout, 10*time.Millisecond, "no leader agreed on within %v", timeout)
	return leader
}

// client returns a kvclient with a session, on a connection of its own,
// for the cluster named cluster, whose calls without a deadline give up
// after timeout.
func (c *testCluster) client(cluster string, timeout time.Duration) *kvclient.Client {
	c.t.Helper()
	return c.clientWith(natstransport.ClientConfig{Cluster: cluster, Timeout: timeout, Sessions: true})
}

// clientWith returns a kvclient on a connection of its own, configured by
// cfg.
func (c *testCluster) clientWith(cfg natstransport.ClientConfig) *kvclient.Client {
	c.t.Helper()
	nc, err := c.srv.Connect()
	require.NoError(c.t, err)
	c.t.Cleanup(nc.Close)
	cfg.Logger = testLogger()
	tc, err := natstransport.NewClient(nc, cfg)
	require.NoError(c.t, err)
	return kvclient.New(tc)
}

// key returns a key for the calling test and step, so tests that share a
// cluster do not see each other's writes.
func key(t *testing.T, step string) string {
	return fmt.Sprintf("%s/%s", t.Name(), step)
}
