package tests

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/storage/memory"
	natstransport "github.com/natsraft/natsraft/transport/nats"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// Timing of the clusters under fault injection: short enough that a few
// seconds of faults see several elections.
const (
	faultClusterID        = "lin"
	faultElectionTimeout  = 300 * time.Millisecond
	faultHeartbeat        = 30 * time.Millisecond
	faultLeaderBound      = 20 * time.Second // how long a test waits for a leader
	faultConvergenceBound = 30 * time.Second // how long it waits for nodes to apply
)

// faultRates are the chances, from 0 to 1, that a peer message is dropped,
// duplicated or delayed (by up to maxDelay, which reorders it).
type faultRates struct {
	drop, duplicate, delay float64
	maxDelay               time.Duration
}

// faultCounts are what a faultNet did, for the test's summary.
type faultCounts struct {
	sent, dropped, cutDropped, duplicated, delayed atomic.Int64
}

// faultNet decides the fate of every peer message between the nodes of one
// cluster: it loses messages on cut links and drops, duplicates and delays
// the others at the configured rates. It is safe for concurrent use.
type faultNet struct {
	mu    sync.Mutex
	rng   *rand.Rand
	rates faultRates
	cut   map[[2]string]bool // [from, to] links that lose every message

	counts faultCounts
	timers sync.WaitGroup // delayed sends in flight
}

func newFaultNet(seed uint64) *faultNet {
	return &faultNet{rng: rand.New(rand.NewPCG(seed, 0xfa017)), cut: map[[2]string]bool{}}
}

func (f *faultNet) setRates(r faultRates) {
	f.mu.Lock()
	f.rates = r
	f.mu.Unlock()
}

// isolate cuts every link of node id, both ways.
func (f *faultNet) isolate(id string, ids []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, other := range ids {
		if other != id {
			f.cut[[2]string{id, other}] = true
			f.cut[[2]string{other, id}] = true
		}
	}
}

// cutLink cuts the link from->to, one way.
func (f *faultNet) cutLink(from, to string) {
	f.mu.Lock()
	f.cut[[2]string{from, to}] = true
	f.mu.Unlock()
}

func (f *faultNet) heal() {
	f.mu.Lock()
	f.cut = map[[2]string]bool{}
	f.mu.Unlock()
}

// messageFate is what happens to one message.
type messageFate struct {
	lost   bool
	copies int
	delay  time.Duration
}

func (f *faultNet) fate(from, to string) messageFate {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts.sent.Add(1)
	if f.cut[[2]string{from, to}] {
		f.counts.cutDropped.Add(1)
		return messageFate{lost: true}
	}
	r := f.rates
	if f.rng.Float64() < r.drop {
		f.counts.dropped.Add(1)
		return messageFate{lost: true}
	}
	fate := messageFate{copies: 1}
	if f.rng.Float64() < r.duplicate {
		f.counts.duplicated.Add(1)
		fate.copies = 2
	}
	if r.maxDelay > 0 && f.rng.Float64() < r.delay {
		f.counts.delayed.Add(1)
		fate.delay = time.Duration(f.rng.Int64N(int64(r.maxDelay))) + time.Millisecond
	}
	return fate
}

// faultTransport is a raft.Transport that passes each message through a
// faultNet before the real transport sends it.
type faultTransport struct {
	inner raft.Transport
	id    string
	net   *faultNet
}

var _ raft.Transport = (*faultTransport)(nil)

func (t *faultTransport) Start(h wire.PeerHandler) error { return t.inner.Start(h) }

func (t *faultTransport) Send(to string, msg wire.Message) error {
	fate := t.net.fate(t.id, to)
	if fate.lost {
		return nil // lost in the network: the sender cannot tell
	}
	if fate.delay > 0 {
		// The caller may reuse msg once Send returns, so the delayed send
		// takes a copy made through the message's encoding.
		clone := wire.NewMessage(msg.Kind())
		if err := clone.Unmarshal(msg.MarshalAppend(nil)); err != nil {
			return fmt.Errorf("copy %v for a delayed send: %w", msg.Kind(), err)
		}
		t.net.timers.Add(1)
		time.AfterFunc(fate.delay, func() {
			defer t.net.timers.Done()
			for i := 0; i < fate.copies; i++ {
				_ = t.inner.Send(to, clone) // fails with ErrClosed once the node stopped
			}
		})
		return nil
	}
	for i := 0; i < fate.copies; i++ {
		if err := t.inner.Send(to, msg); err != nil {
			return err
		}
	}
	return nil
}

func (t *faultTransport) Flush() error { return t.inner.Flush() }
func (t *faultTransport) Close() error { return t.inner.Close() }

// faultNode is one running member of a faultCluster.
type faultNode struct {
	id     string
	nc     *nats.Conn
	node   *raft.Node
	kv     *statemachine.KV
	server *natstransport.ClientServer
}

// faultCluster runs nodes in this process on an embedded NATS server, each
// behind a faultTransport. Stores outlive a stop, so a restarted node
// resumes from what it persisted (the memory stores persist every write at
// once).
type faultCluster struct {
	t      *testing.T
	srv    *embedded.Server
	ids    []string
	net    *faultNet
	stores map[string]*memory.Store

	mu      sync.Mutex
	nodes   map[string]*faultNode      // running nodes
	leaders map[uint64]map[string]bool // per term, the nodes that announced they lead
	stopped map[string]bool            // nodes stopped by the test
}

func newFaultCluster(t *testing.T, size int, seed uint64) *faultCluster {
	t.Helper()
	srv, err := embedded.Start(embedded.Options{Port: embedded.NoListener})
	require.NoError(t, err)
	c := &faultCluster{t: t, srv: srv, net: newFaultNet(seed), stores: map[string]*memory.Store{},
		nodes: map[string]*faultNode{}, leaders: map[uint64]map[string]bool{}, stopped: map[string]bool{}}
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
		c.net.timers.Wait()
		srv.Shutdown()
	})
	return c
}

func (c *faultCluster) logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(&testWriter{t: c.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start starts node id on its stores with a new state machine, which the
// node rebuilds by applying its log.
func (c *faultCluster) start(id string) {
	c.t.Helper()
	nc, err := c.srv.Connect()
	require.NoError(c.t, err)
	log := c.logger()
	tcfg := natstransport.Config{Cluster: faultClusterID, Node: id, Peers: c.ids, Logger: log}
	inner, err := natstransport.New(nc, tcfg)
	require.NoError(c.t, err)
	kv := statemachine.NewKV()
	st := c.stores[id]
	node, err := raft.NewNode(raft.Config{
		ID:                id,
		Cluster:           faultClusterID,
		Peers:             c.ids,
		ElectionTimeout:   faultElectionTimeout,
		HeartbeatInterval: faultHeartbeat,
		Logger:            log,
	}, kv, st.Log, st.Stable, st.Snapshots, &faultTransport{inner: inner, id: id, net: c.net})
	require.NoError(c.t, err)
	events, _ := node.Subscribe(1024)
	go c.recordLeaders(events)
	server, err := natstransport.ServeNode(nc, tcfg, node)
	require.NoError(c.t, err)
	c.mu.Lock()
	c.nodes[id] = &faultNode{id: id, nc: nc, node: node, kv: kv, server: server}
	delete(c.stopped, id)
	c.mu.Unlock()
}

func (c *faultCluster) recordLeaders(events <-chan raft.Event) {
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
func (c *faultCluster) stop(id string) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.stopped[id] = true
	c.mu.Unlock()
	if n == nil {
		return
	}
	_ = n.server.Close()
	_ = n.node.Stop()
	n.nc.Close()
}

func (c *faultCluster) node(id string) *faultNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *faultCluster) running() []string {
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

func (c *faultCluster) stoppedNodes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for _, id := range c.ids {
		if c.stopped[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// leader returns a running node that believes it leads, or "".
func (c *faultCluster) leader() string {
	for _, id := range c.running() {
		if n := c.node(id); n != nil && n.node.IsLeader() {
			return id
		}
	}
	return ""
}

// waitLeader waits until one running node leads and every running node
// follows it, and returns its id.
func (c *faultCluster) waitLeader() string {
	c.t.Helper()
	var leader string
	require.Eventuallyf(c.t, func() bool {
		leader = c.leader()
		if leader == "" {
			return false
		}
		for _, id := range c.running() {
			if n := c.node(id); n == nil || n.node.Status().Leader != leader {
				return false
			}
		}
		return true
	}, faultLeaderBound, 10*time.Millisecond, "no leader agreed on within %v", faultLeaderBound)
	return leader
}

// waitApplied waits until every running node has applied the leader's
// commit index.
func (c *faultCluster) waitApplied() {
	c.t.Helper()
	leader := c.waitLeader()
	want := c.node(leader).node.Status().CommitIndex
	require.Eventuallyf(c.t, func() bool {
		for _, id := range c.running() {
			if n := c.node(id); n == nil || n.node.Status().AppliedIndex < want {
				return false
			}
		}
		return true
	}, faultConvergenceBound, 10*time.Millisecond, "nodes did not apply through %d", want)
}

// checkOneLeaderPerTerm fails the test if two nodes led in one term.
func (c *faultCluster) checkOneLeaderPerTerm() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for term, ids := range c.leaders {
		require.LessOrEqualf(c.t, len(ids), 1, "term %d had leaders %v", term, ids)
	}
}

// terms returns how many terms had a leader.
func (c *faultCluster) terms() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.leaders)
}

// client returns a client on a connection of its own.
func (c *faultCluster) client(timeout time.Duration) *natstransport.Client {
	c.t.Helper()
	nc, err := c.srv.Connect()
	require.NoError(c.t, err)
	c.t.Cleanup(nc.Close)
	cl, err := natstransport.NewClient(nc, natstransport.ClientConfig{Cluster: faultClusterID, Timeout: timeout, Logger: c.logger()})
	require.NoError(c.t, err)
	return cl
}

// faultPlan injects faults into a cluster until ctx ends. Each round it
// picks one action at random; actions needing a leader skip a round
// without one.
type faultPlan struct {
	every    time.Duration
	isolate  bool // isolate the leader or a random node, or cut one link one way
	crash    bool // stop a running node (the leader half the time) and restart stopped ones
	maxDown  int  // most nodes stopped at once
	injected atomic.Int64
}

func (p *faultPlan) run(ctx context.Context, c *faultCluster, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x9e1a))
	ticker := time.NewTicker(p.every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		p.step(c, rng)
	}
}

func (p *faultPlan) step(c *faultCluster, rng *rand.Rand) {
	pick := func(ids []string) string { return ids[rng.IntN(len(ids))] }
	if p.crash {
		if down := c.stoppedNodes(); len(down) > 0 && (len(down) >= p.maxDown || rng.IntN(2) == 0) {
			c.start(pick(down))
			return
		}
		target := c.leader()
		if target == "" || rng.IntN(2) == 0 {
			target = pick(c.running())
		}
		c.stop(target)
		p.injected.Add(1)
		return
	}
	if p.isolate {
		// One partition at a time: each round heals the last one first.
		c.net.heal()
		switch rng.IntN(4) {
		case 0:
			// A round without a partition.
		case 1:
			if leader := c.leader(); leader != "" {
				c.net.isolate(leader, c.ids)
				p.injected.Add(1)
			}
		case 2:
			c.net.isolate(pick(c.ids), c.ids)
			p.injected.Add(1)
		default:
			from, to := pick(c.ids), pick(c.ids)
			if from != to {
				c.net.cutLink(from, to)
				p.injected.Add(1)
			}
		}
	}
}
