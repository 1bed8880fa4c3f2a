package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/storage/memory"
	natstransport "github.com/natsraft/natsraft/transport/nats"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// The demo cluster's id and timing. The timeouts are shorter than the
// library defaults, so the first election ends sooner. All nodes share one
// process and one NATS server, so no network delays their messages.
const (
	demoCluster         = "demo"
	demoElectionTimeout = 300 * time.Millisecond
	demoHeartbeat       = 50 * time.Millisecond
)

// demoPeers returns the ids of the demo cluster's nodes.
func demoPeers() []string { return []string{"n1", "n2", "n3"} }

// demoNode is one node of the demo cluster, with its own NATS connection.
type demoNode struct {
	id     string
	nc     *nats.Conn
	node   *raft.Node
	kv     *statemachine.KV
	server *natstransport.ClientServer
}

// localCluster is three nodes on an embedded NATS server in this process.
type localCluster struct {
	srv   *embedded.Server
	nodes []*demoNode
	log   *slog.Logger
}

// startLocalCluster starts an embedded NATS server without a TCP listener
// and three nodes connected to it in process. Call stop when done, also
// after an error.
func startLocalCluster(log *slog.Logger) (*localCluster, error) {
	srv, err := embedded.Start(embedded.Options{Port: embedded.NoListener, Logger: log.With("component", "nats-server")})
	if err != nil {
		return nil, err
	}
	c := &localCluster{srv: srv, log: log}
	for _, id := range demoPeers() {
		n, err := startDemoNode(srv, id, log)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("start node %s: %w", id, err)
		}
		c.nodes = append(c.nodes, n)
	}
	return c, nil
}

func startDemoNode(srv *embedded.Server, id string, log *slog.Logger) (*demoNode, error) {
	nc, err := srv.Connect(nats.Name("raftnode demo " + id))
	if err != nil {
		return nil, err
	}
	n := &demoNode{id: id, nc: nc, kv: statemachine.NewKV()}

	tcfg := natstransport.Config{Cluster: demoCluster, Node: id, Peers: demoPeers(), Logger: log}
	tr, err := natstransport.New(nc, tcfg)
	if err != nil {
		nc.Close()
		return nil, err
	}

	store := memory.NewStore()
	n.node, err = raft.NewNode(raft.Config{
		ID:                id,
		Cluster:           demoCluster,
		Peers:             demoPeers(),
		ElectionTimeout:   demoElectionTimeout,
		HeartbeatInterval: demoHeartbeat,
		Logger:            log,
	}, statemachine.WithSessions(n.kv, statemachine.SessionOptions{}), store.Log, store.Stable, store.Snapshots, tr)
	if err != nil {
		_ = tr.Close()
		nc.Close()
		return nil, err
	}

	n.server, err = natstransport.ServeNode(nc, tcfg, n.node)
	if err != nil {
		_ = n.node.Stop()
		nc.Close()
		return nil, err
	}
	return n, nil
}

// connect opens a client connection to the embedded server.
func (c *localCluster) connect(name string) (*nats.Conn, error) {
	return c.srv.Connect(nats.Name(name))
}

// stop stops the nodes, closes their connections and shuts the server down.
func (c *localCluster) stop() {
	for _, n := range c.nodes {
		if err := n.server.Close(); err != nil {
			c.log.Warn("close client server", "node", n.id, "error", err)
		}
		if err := n.node.Stop(); err != nil {
			c.log.Warn("stop node", "node", n.id, "error", err)
		}
		n.nc.Close()
	}
	c.srv.Shutdown()
}

// commitTarget returns the leader's commit index, or the highest commit
// index of any node when no node is leader.
func (c *localCluster) commitTarget() uint64 {
	var highest uint64
	for _, n := range c.nodes {
		st := n.node.Status()
		if st.Role == raft.RoleLeader {
			return st.CommitIndex
		}
		highest = max(highest, st.CommitIndex)
	}
	return highest
}

// waitApplied waits until every node has applied index.
func (c *localCluster) waitApplied(ctx context.Context, index uint64) error {
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		behind := c.behind(index)
		if len(behind) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nodes did not apply index %d in time: %v (%w)", index, errors.Join(behind...), ctx.Err())
		case <-ticker.C:
		}
	}
}

// behind returns one error for each node that has not applied index.
func (c *localCluster) behind(index uint64) []error {
	var errs []error
	for _, n := range c.nodes {
		if applied := n.node.Status().AppliedIndex; applied < index {
			errs = append(errs, fmt.Errorf("%s applied %d", n.id, applied))
		}
	}
	return errs
}
