package tests

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/statemachine/sessionwire"
	"github.com/natsraft/natsraft/storage/boltlike"
	"github.com/natsraft/natsraft/storage/memory"
	natstransport "github.com/natsraft/natsraft/transport/nats"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// Bounds of the session tests. They only limit how long a failing test
// waits.
const (
	sessionClusterID   = "sessions"
	sessionWaitBound   = 15 * time.Second
	sessionCallTimeout = 10 * time.Second
)

// sessionCluster runs three nodes whose key-value state machines run
// behind statemachine.WithSessions, in this process on an embedded NATS
// server. With durable set, each node keeps its log, term and vote in a
// boltlike store in a directory of its own, so a restarted node replays
// its log into a fresh state machine.
type sessionCluster struct {
	t       *testing.T
	srv     *embedded.Server
	ids     []string
	durable bool
	dir     string
	mem     map[string]*memory.Store

	mu    sync.Mutex
	nodes map[string]*sessionNode // running nodes
}

// sessionNode is one running member of a sessionCluster.
type sessionNode struct {
	id       string
	nc       *nats.Conn
	node     *raft.Node
	kv       *statemachine.KV
	sessions *statemachine.Sessions
	server   *natstransport.ClientServer
	// bolt is the durable store, closed after the node stops, or nil.
	bolt *boltlike.Store
}

func newSessionCluster(t *testing.T, durable bool) *sessionCluster {
	t.Helper()
	srv, err := embedded.Start(embedded.Options{Port: embedded.NoListener})
	require.NoError(t, err)
	c := &sessionCluster{t: t, srv: srv, ids: []string{"n1", "n2", "n3"}, durable: durable, dir: t.TempDir(),
		mem: map[string]*memory.Store{}, nodes: map[string]*sessionNode{}}
	for _, id := range c.ids {
		c.mem[id] = memory.NewStore()
	}
	t.Cleanup(func() {
		for _, id := range c.ids {
			c.stop(id)
		}
		srv.Shutdown()
	})
	for _, id := range c.ids {
		c.start(id)
	}
	return c
}

// start starts node id with a fresh state machine on its stores.
func (c *sessionCluster) start(id string) {
	c.t.Helper()
	nc, err := c.srv.Connect()
	require.NoError(c.t, err)
	log := (&testCluster{t: c.t}).logger()
	tcfg := natstransport.Config{Cluster: sessionClusterID, Node: id, Peers: c.ids, Logger: log}
	tr, err := natstransport.New(nc, tcfg)
	require.NoError(c.t, err)

	n := &sessionNode{id: id, nc: nc, kv: statemachine.NewKV()}
	n.sessions = statemachine.WithSessions(n.kv, statemachine.SessionOptions{})
	logs, stable, snaps := raft.LogStore(c.mem[id].Log), raft.StableStore(c.mem[id].Stable), raft.SnapshotStore(c.mem[id].Snapshots)
	if c.durable {
		dir := filepath.Join(c.dir, id)
		n.bolt, err = boltlike.Open(filepath.Join(dir, "raft.db"), boltlike.Options{Cluster: sessionClusterID, Node: id, Logger: log})
		require.NoError(c.t, err)
		snapStore, err := boltlike.NewSnapshotStore(filepath.Join(dir, "snapshots"), boltlike.SnapshotOptions{Cluster: sessionClusterID, Node: id, Logger: log})
		require.NoError(c.t, err)
		logs, stable, snaps = n.bolt, n.bolt, snapStore
	}
	n.node, err = raft.NewNode(raft.Config{
		ID: id, Cluster: sessionClusterID, Peers: c.ids,
		ElectionTimeout: testElectionTimeout, HeartbeatInterval: testHeartbeat, Logger: log,
	}, n.sessions, logs, stable, snaps, tr)
	require.NoError(c.t, err)
	n.server, err = natstransport.ServeNode(nc, tcfg, n.node)
	require.NoError(c.t, err)

	c.mu.Lock()
	c.nodes[id] = n
	c.mu.Unlock()
}

// stop stops node id as a crash would, and closes its durable store.
func (c *sessionCluster) stop(id string) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return
	}
	_ = n.server.Close()
	_ = n.node.Stop()
	if n.bolt != nil {
		require.NoError(c.t, n.bolt.Close(), "close the store of %s", id)
	}
	n.nc.Close()
}

func (c *sessionCluster) running() []*sessionNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var nodes []*sessionNode
	for _, id := range c.ids {
		if n := c.nodes[id]; n != nil {
			nodes = append(nodes, n)
		}
	}
	return nodes
}

// waitLeader waits until a running node leads and every running node
// follows it, and returns its id.
func (c *sessionCluster) waitLeader() string {
	c.t.Helper()
	var leader string
	require.Eventually(c.t, func() bool {
		leader = ""
		for _, n := range c.running() {
			if n.node.IsLeader() {
				leader = n.id
			}
		}
		if leader == "" {
			return false
		}
		for _, n := range c.running() {
			if n.node.Leader() != leader {
				return false
			}
		}
		return true
	}, sessionWaitBound, 10*time.Millisecond, "no leader agreed on within %s", sessionWaitBound)
	return leader
}

// waitApplied waits until the leader has committed its whole log and
// every running node has applied it. A new leader commits the entries of
// earlier terms only with the first entry of its own term, so its commit
// index may lag its log for a moment after an election.
func (c *sessionCluster) waitApplied() {
	c.t.Helper()
	leader := c.waitLeader()
	c.mu.Lock()
	n := c.nodes[leader]
	c.mu.Unlock()
	require.NotNil(c.t, n, "leader %s stopped", leader)
	require.Eventually(c.t, func() bool {
		st := n.node.Status()
		if st.CommitIndex < st.LastIndex {
			return false
		}
		for _, other := range c.running() {
			if other.node.Status().AppliedIndex < st.CommitIndex {
				return false
			}
		}
		return true
	}, sessionWaitBound, 10*time.Millisecond, "nodes did not apply the leader's log")
}

// rawClient returns a client without sessions: it sends the bytes it is
// given, so a test can send the same session command twice.
func (c *sessionCluster) rawClient() *natstransport.Client {
	c.t.Helper()
	nc, err := c.srv.Connect()
	require.NoError(c.t, err)
	c.t.Cleanup(nc.Close)
	cl, err := natstransport.NewClient(nc, natstransport.ClientConfig{Cluster: sessionClusterID, Timeout: sessionCallTimeout})
	require.NoError(c.t, err)
	return cl
}

// proposeSession sends a session command through cl and decodes the
// session result and the key-value result inside it.
func proposeSession(t *testing.T, cl *natstransport.Client, cmd []byte) (sessionwire.SessionResult, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sessionCallTimeout)
	defer cancel()
	raw, _, err := cl.Propose(ctx, cmd)
	require.NoError(t, err)
	res, err := statemachine.DecodeSessionResult(raw)
	require.NoError(t, err)
	kv, err := statemachine.DecodeResult(res.Result)
	require.NoError(t, err, "key-value result of a %v session result", res.Status)
	return res, string(kv.Value)
}

// requireValueEverywhere checks key's value and revision on every running
// node's state machine.
func (c *sessionCluster) requireValueEverywhere(key, value string, revision uint64) {
	c.t.Helper()
	c.waitApplied()
	for _, n := range c.running() {
		out, err := n.kv.Read(statemachine.EncodeGet(key))
		require.NoError(c.t, err)
		res, err := statemachine.DecodeResult(out)
		require.NoError(c.t, err)
		require.Equal(c.t, value, string(res.Value), "value of %s on %s", key, n.id)
		require.Equal(c.t, revision, res.Revision, "revision of %s on %s", key, n.id)
	}
}

// sessionDigests returns each running node's session digest, by node id.
func (c *sessionCluster) sessionDigests() map[string]string {
	digests := map[string]string{}
	for _, n := range c.running() {
		digests[n.id] = fmt.Sprintf("%s/%s", n.sessions.Digest(), n.kv.Digest())
	}
	return digests
}
