package raft

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/natsraft/natsraft/raft/wire"
)

// Node is one member of a Raft cluster: the protocol core and the goroutines
// that drive it (the node loop, the log writer, the applier and one
// replication stream per peer). Create it with NewNode; its methods are safe
// for concurrent use.
type Node struct {
	cfg    Config
	log    *slog.Logger
	sm     StateMachine
	logs   LogStore
	stable StableStore
	snaps  SnapshotStore
	tr     Transport

	// core is owned by the node loop goroutine.
	core *Core

	cache   *logCache
	writer  *logWriter
	applier *applier
	streams map[string]*stream // by peer id, BroadcastTo for all; fixed after NewNode
	// broadcaster is the transport's Broadcaster, or nil when broadcasting
	// is off.
	broadcaster Broadcaster

	inbox     chan wire.Message
	proposals *proposalQueue
	reads     chan *readRequest

	// backlog tracks appended but unapplied proposals; only the node loop
	// uses it.
	backlog backlog
	// batches bounds the proposal batches appended and not yet committed;
	// only the node loop uses it.
	batches batchGate

	// readWaiters maps read ids to requests; only the node loop uses it.
	readWaiters map[uint64]*readRequest
	nextReadID  uint64

	// durableHint is the core's durable index, published by the loop for
	// the applier's cache trimming.
	durableHint atomic.Uint64
	// leaderTerm is the term this node leads in, or 0; the loop stores it
	// before it applies a Ready, so before any truncation.
	leaderTerm atomic.Uint64

	status statusCell
	events eventHub
	// metrics holds the metric handles, or nil when Config.Metrics is nil.
	metrics *nodeMetrics

	stopOnce sync.Once
	stopped  chan struct{} // closed when the node stops
	loopDone chan struct{}
	wg       sync.WaitGroup
	errMu    sync.Mutex
	err      error // the error that stopped the node, guarded by errMu
}

// NewNode validates cfg, loads the node's state from the stores and starts
// it. The node joins the cluster described by its log, or by cfg.Peers when
// the log is empty.
func NewNode(cfg Config, sm StateMachine, logs LogStore, stable StableStore, snaps SnapshotStore, tr Transport) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if sm == nil || logs == nil || stable == nil || tr == nil {
		return nil, errors.New("raft: NewNode needs a state machine, a log store, a stable store and a transport")
	}
	n := &Node{
		cfg:         cfg,
		log:         cfg.Logger.With("node", cfg.ID, "cluster", cfg.Cluster),
		sm:          sm,
		logs:        logs,
		stable:      stable,
		snaps:       snaps,
		tr:          tr,
		cache:       &logCache{},
		inbox:       make(chan wire.Message, 4096),
		proposals:   newProposalQueue(cfg.MaxPendingProposals),
		reads:       make(chan *readRequest, 1024),
		readWaiters: make(map[uint64]*readRequest),
		streams:     make(map[string]*stream),
		stopped:     make(chan struct{}),
		loopDone:    make(chan struct{}),
	}
	st, err := loadInitialState(logs, stable, snaps)
	if err != nil {
		return nil, err
	}
	if st.Voters != nil && !sameMembers(st.Voters, cfg.Peers) {
		return nil, fmt.Errorf("%w: the log records voters %v, but Peers lists %v: start the node with the peers it was first started with",
			ErrPeersMismatch, st.Voters, cfg.Peers)
	}
	broadcaster, _ := tr.(Broadcaster)
	if !cfg.Broadcast {
		broadcaster = nil
	}
	core, err := newNodeCore(cfg, st, broadcaster != nil)
	if err != nil {
		return nil, err
	}
	n.core = core
	n.durableHint.Store(core.DurableIndex())
	n.writer = newLogWriter(n, 4096)
	n.applier = newApplier(n, st.SnapshotIndex)
	n.batches = batchGate{max: cfg.MaxInflightBatches}
	n.backlog = backlog{maxEntries: uint64(cfg.MaxUnappliedEntries), maxBytes: cfg.MaxUnappliedBytes, applied: &n.applier.applied}
	n.events.init()
	streamPeers := core.peers()
	if broadcaster != nil {
		streamPeers = append(streamPeers, BroadcastTo)
	}
	n.metrics = newNodeMetrics(cfg.Metrics, cfg.Cluster, cfg.ID, streamPeers, st)
	for _, p := range streamPeers {
		n.streams[p] = newStream(n, p)
	}
	n.broadcaster = broadcaster
	n.publishStatus()
	n.metrics.observeLoop(n)
	if err := tr.Start(inboxHandler{n}); err != nil {
		return nil, fmt.Errorf("raft: start transport: %w", err)
	}
	n.wg.Add(2 + len(n.streams))
	go n.writer.run()
	go n.applier.run()
	for _, s := range n.streams {
		go s.run()
	}
	go n.loop()
	n.log.Info("node started", "term", st.HardState.Term, "last_index", st.LastIndex, "voters", cfg.Peers)
	return n, nil
}

// newNodeCore returns the protocol core for cfg, with the timeouts in
// ticks and the election jitter seeded from cfg.RandSeed or, when it is 0,
// from crypto/rand.
func newNodeCore(cfg Config, st InitialState, broadcast bool) (*Core, error) {
	seed := cfg.RandSeed
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	return NewCore(CoreConfig{
		ID:                   cfg.ID,
		Cluster:              cfg.Cluster,
		Voters:               cfg.Peers,
		ElectionTicks:        ticks(cfg.ElectionTimeout, cfg.TickInterval, 2),
		HeartbeatTicks:       ticks(cfg.HeartbeatInterval, cfg.TickInterval, 1),
		PreVote:              !cfg.DisablePreVote,
		MaxEntriesPerMessage: cfg.MaxEntriesPerMessage,
		MaxInflight:          cfg.MaxInflightMessages,
		MaxInflightBytes:     uint64(cfg.MaxInflightBytes),
		Broadcast:            broadcast,
		Rand:                 rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}, st)
}

// loadInitialState reads the hard state and the terms of the stored log.
func loadInitialState(logs LogStore, stable StableStore, snaps SnapshotStore) (InitialState, error) {
	var st InitialState
	hs, err := stable.HardState()
	if err != nil {
		return st, fmt.Errorf("raft: load term and vote: %w", err)
	}
	st.HardState = hs
	first, err := logs.FirstIndex()
	if err != nil {
		return st, fmt.Errorf("raft: load first log index: %w", err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return st, fmt.Errorf("raft: load last log index: %w", err)
	}
	if snaps != nil {
		meta, ok, err := snaps.Latest()
		if err != nil {
			return st, fmt.Errorf("raft: load latest snapshot: %w", err)
		}
		if ok {
			st.SnapshotIndex, st.SnapshotTerm = meta.Index, meta.Term
			st.Voters = meta.Configuration.Voters
		}
	}
	if first > st.SnapshotIndex+1 {
		return st, fmt.Errorf("raft: log store starts at index %d but no snapshot covers index %d: the store was compacted without a snapshot", first, first-1)
	}
	if first <= st.SnapshotIndex {
		first = st.SnapshotIndex + 1
	}
	st.LastIndex = last
	for lo := first; lo != 0 && lo <= last; {
		ents, err := logs.Entries(lo, last+1, 4<<20)
		if err != nil {
			return st, fmt.Errorf("raft: scan log from %d: %w", lo, err)
		}
		for _, e := range ents {
			if len(st.Runs) == 0 || st.Runs[len(st.Runs)-1].Term != e.Term {
				st.Runs = append(st.Runs, TermRun{Start: e.Index, Term: e.Term})
			}
			if e.Type == wire.EntryTypeConfig {
				var c wire.Configuration
				if err := c.Unmarshal(e.Data); err != nil {
					return st, fmt.Errorf("raft: decode configuration entry %d: %w", e.Index, err)
				}
				st.Voters = c.Voters
			}
		}
		lo = ents[len(ents)-1].Index + 1
	}
	return st, nil
}

// inboxHandler hands messages from the transport to the node loop.
type inboxHandler struct{ n *Node }

func (h inboxHandler) deliver(m wire.Message) {
	select {
	case h.n.inbox <- m:
		h.n.metrics.messageReceived(m.Kind())
	case <-h.n.stopped:
	}
}

func (h inboxHandler) HandleRequestVote(m *wire.VoteRequest)                     { h.deliver(m) }
func (h inboxHandler) HandleRequestVoteResponse(m *wire.VoteResponse)            { h.deliver(m) }
func (h inboxHandler) HandleAppendEntries(m *wire.AppendEntriesRequest)          { h.deliver(m) }
func (h inboxHandler) HandleAppendEntriesResponse(m *wire.AppendEntriesResponse) { h.deliver(m) }
func (h inboxHandler) HandleInstallSnapshot(m *wire.InstallSnapshotRequest)      { h.deliver(m) }
func (h inboxHandler) HandleInstallSnapshotResponse(m *wire.InstallSnapshotResponse) {
	h.deliver(m)
}
func (h inboxHandler) HandleTimeoutNow(m *wire.TimeoutNowRequest) { h.deliver(m) }

// fail stops the node because background work failed with err.
func (n *Node) fail(err error) {
	n.errMu.Lock()
	if n.err == nil {
		n.err = err
	}
	n.errMu.Unlock()
	n.log.Error("node stopping after failure", "err", err)
	n.events.publish(Event{Type: EventError, Node: n.cfg.ID, Err: err})
	n.stopOnce.Do(func() { close(n.stopped) })
}

// Err returns the error that stopped the node, or nil.
func (n *Node) Err() error {
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.err
}

// Stop stops the node's goroutines and its transport. Waiting proposals
// fail: with ErrOutcomeUnknown if they were appended, ErrNotApplied if not.
// It returns the error that stopped the node earlier, if any.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() { close(n.stopped) })
	<-n.loopDone
	n.wg.Wait()
	if err := n.tr.Close(); err != nil {
		n.log.Warn("close transport", "err", err)
	}
	n.applier.failWaiters(OutcomeUnknown(ErrShutdown))
	n.failQueued()
	n.events.close()
	n.log.Info("node stopped")
	return n.Err()
}

// failQueued fails the proposals and reads that never reached the core.
func (n *Node) failQueued() {
	for _, p := range n.proposals.drain() {
		p.finish(proposalResult{err: NotApplied(ErrShutdown)})
	}
	for {
		select {
		case r := <-n.reads:
			r.finish(readResult{err: ErrShutdown})
		default:
			for _, r := range n.readWaiters {
				r.finish(readResult{err: ErrShutdown})
			}
			n.readWaiters = nil
			return
		}
	}
}

// ID returns the node's id.
func (n *Node) ID() string { return n.cfg.ID }

// loop is the node loop: it owns the core, feeds it inputs in batches and
// hands the resulting Ready to the other goroutines.
func (n *Node) loop() {
	defer close(n.loopDone)
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	for {
		proposals := n.proposals.ready
		if !n.batches.open(n.core.Role(), n.core.Term(), n.core.CommitIndex()) {
			// Group commit: proposals queue until a batch in flight
			// commits, which wakes the loop with its acknowledgements.
			proposals = nil
		}
		if n.backlog.full(n.core.LastIndex()) {
			// Backpressure: leave proposals queued until the applier
			// catches up; it wakes the loop through applier.progress.
			proposals = nil
		}
		select {
		case <-n.stopped:
			return
		case <-ticker.C:
			n.core.Tick()
		case m := <-n.inbox:
			n.core.Step(m)
			n.drainInbox()
		case <-proposals:
			n.handleProposals()
		case r := <-n.reads:
			n.handleRead(r)
		case <-n.writer.signal:
			n.core.Persisted(n.writer.takePersisted())
		case <-n.applier.progress:
		}
		n.processReady()
		n.metrics.observeLoop(n)
	}
}

func (n *Node) drainInbox() {
	for i := 0; i < 256; i++ {
		select {
		case m := <-n.inbox:
			n.core.Step(m)
		default:
			return
		}
	}
}

// sameMembers reports whether a and b hold the same ids in any order.
func sameMembers(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
