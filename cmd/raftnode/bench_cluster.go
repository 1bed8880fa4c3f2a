package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/storage/boltlike"
	"github.com/natsraft/natsraft/storage/memory"
	"github.com/natsraft/natsraft/storage/wal"
	natstransport "github.com/natsraft/natsraft/transport/nats"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// benchClusterID is the cluster id of the benchmark cluster.
const benchClusterID = "bench"

// Store kinds of --store.
const (
	storeMemory = "memory"
	storeBolt   = "bolt"
	storeWAL    = "wal"
)

// benchCluster is a localCluster whose nodes use the stores that --store
// selects, with the stores' files in a temporary directory.
type benchCluster struct {
	*localCluster
	// closers close the durable stores after the nodes have stopped.
	closers []io.Closer
	// dir is the temporary directory of the durable stores, or "".
	dir string
	// appends counts the log store appends of all nodes.
	appends appendCounter
}

// appendCounter counts LogStore.Append calls, the entries they carry and
// the time they take.
type appendCounter struct {
	calls, entries atomic.Uint64
	nanoseconds    atomic.Int64
}

// countingLogStore is a raft.LogStore that counts its appends, to show how
// many entries the log writer groups into one store write.
type countingLogStore struct {
	raft.LogStore
	counter *appendCounter
}

func (s countingLogStore) Append(entries []wire.Entry) error {
	start := time.Now()
	err := s.LogStore.Append(entries)
	s.counter.nanoseconds.Add(int64(time.Since(start)))
	s.counter.calls.Add(1)
	s.counter.entries.Add(uint64(len(entries)))
	return err
}

// InlineWrites returns the wrapped store's InlineWrites result, so that
// counting does not change how the node writes.
func (s countingLogStore) InlineWrites() bool {
	w, ok := s.LogStore.(raft.InlineWriter)
	return ok && w.InlineWrites()
}

// benchPeers returns the node ids n1..nN.
func benchPeers(n int) []string {
	peers := make([]string, n)
	for i := range peers {
		peers[i] = fmt.Sprintf("n%d", i+1)
	}
	return peers
}

// benchClusterConfig is the shape of a benchmark cluster.
type benchClusterConfig struct {
	nodes int
	store string
	// dir is the parent directory of the temporary store directory.
	dir       string
	broadcast bool
}

// startBenchCluster starts an embedded NATS server without a TCP listener
// and cfg.nodes nodes connected to it in process, with the library's
// default settings apart from cfg.broadcast. For the bolt store, each node
// keeps its files in its own directory under a new temporary directory in
// cfg.dir, synced on every write. Call stop when done, also after an error.
func startBenchCluster(cfg benchClusterConfig, log *slog.Logger) (*benchCluster, error) {
	srv, err := embedded.Start(embedded.Options{Port: embedded.NoListener, Logger: log.With("component", "nats-server")})
	if err != nil {
		return nil, err
	}
	c := &benchCluster{localCluster: &localCluster{srv: srv, log: log}}
	if cfg.store != storeMemory {
		c.dir, err = os.MkdirTemp(cfg.dir, "raftnode-bench-")
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("create the store directory in %s: %w: set --dir to a writable directory", cfg.dir, err)
		}
	}
	peers := benchPeers(cfg.nodes)
	for _, id := range peers {
		n, err := c.startNode(id, peers, cfg)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("start node %s: %w", id, err)
		}
		c.nodes = append(c.nodes, n)
	}
	return c, nil
}

// openStores returns the log, stable and snapshot stores of node id.
func (c *benchCluster) openStores(id, store string) (raft.LogStore, raft.StableStore, raft.SnapshotStore, error) {
	if store == storeMemory {
		s := memory.NewStore()
		return s.Log, s.Stable, s.Snapshots, nil
	}
	dir := filepath.Join(c.dir, id)
	var logs interface {
		raft.LogStore
		raft.StableStore
		io.Closer
	}
	var err error
	if store == storeWAL {
		logs, err = wal.Open(filepath.Join(dir, "wal"), wal.Options{Cluster: benchClusterID, Node: id, Logger: c.log})
	} else {
		logs, err = boltlike.Open(filepath.Join(dir, "raft.db"), boltlike.Options{Cluster: benchClusterID, Node: id, Logger: c.log})
	}
	if err != nil {
		return nil, nil, nil, err
	}
	c.closers = append(c.closers, logs)
	snaps, err := boltlike.NewSnapshotStore(filepath.Join(dir, "snapshots"), boltlike.SnapshotOptions{Cluster: benchClusterID, Node: id, Logger: c.log})
	if err != nil {
		return nil, nil, nil, err
	}
	return logs, logs, snaps, nil
}

// startNode starts node id the way startDemoNode does, with the given
// peers, stores and broadcast setting.
func (c *benchCluster) startNode(id string, peers []string, cfg benchClusterConfig) (*demoNode, error) {
	logs, stable, snaps, err := c.openStores(id, cfg.store)
	if err != nil {
		return nil, err
	}
	nc, err := c.srv.Connect(nats.Name("raftnode bench " + id))
	if err != nil {
		return nil, err
	}
	n := &demoNode{id: id, nc: nc, kv: statemachine.NewKV()}

	tcfg := natstransport.Config{Cluster: benchClusterID, Node: id, Peers: peers, Logger: c.log}
	tr, err := natstransport.New(nc, tcfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	rcfg := raft.Config{ID: id, Cluster: benchClusterID, Peers: peers, Logger: c.log, Broadcast: cfg.broadcast}
	logs = countingLogStore{LogStore: logs, counter: &c.appends}
	n.node, err = raft.NewNode(rcfg, n.kv, logs, stable, snaps, tr)
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

// stop stops the nodes and the server, closes the stores and removes their
// directory.
func (c *benchCluster) stop() {
	c.localCluster.stop()
	for _, s := range c.closers {
		if err := s.Close(); err != nil {
			c.log.Warn("close store", "error", err)
		}
	}
	if c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			c.log.Warn("remove store directory", "dir", c.dir, "error", err)
		}
	}
}

// leader returns the node that is leader, or nil.
func (c *benchCluster) leader() *demoNode {
	for _, n := range c.nodes {
		if n.node.IsLeader() {
			return n
		}
	}
	return nil
}

// waitLeader waits until a node is leader and returns it.
func (c *benchCluster) waitLeader(ctx context.Context) (*demoNode, error) {
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		if n := c.leader(); n != nil {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no leader elected: %w", ctx.Err())
		case <-ticker.C:
		}
	}
}

// convergence is the cluster's state after the load: the index every node
// applied and each node's digest.
type convergence struct {
	applied uint64
	digests []string
}

// converge waits until every node has applied the leader's commit index and
// the highest index any node applied, and returns the nodes' digests. With
// no writes in flight, a node that applied more than the others can only
// have applied entries that the others will apply too, so it waits for them.
func (c *benchCluster) converge(ctx context.Context) (convergence, error) {
	target := c.commitTarget()
	for {
		if err := c.waitApplied(ctx, target); err != nil {
			return convergence{}, err
		}
		var highest uint64
		for _, n := range c.nodes {
			highest = max(highest, n.node.Status().AppliedIndex)
		}
		if highest == target {
			break
		}
		target = highest
	}
	res := convergence{applied: target}
	for _, n := range c.nodes {
		res.digests = append(res.digests, n.kv.Digest())
	}
	return res, nil
}

// digestsMatch reports whether all digests are equal, and returns an error
// naming the first node whose digest differs.
func digestsMatch(nodes []*demoNode, digests []string) error {
	for i := 1; i < len(digests); i++ {
		if digests[i] != digests[0] {
			return fmt.Errorf("digest of %s differs from digest of %s: %w", nodes[i].id, nodes[0].id, errDigestMismatch)
		}
	}
	return nil
}

// errDigestMismatch is wrapped when nodes hold different states.
var errDigestMismatch = errors.New("nodes applied the same index but hold different states")
