package rafttest

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"slices"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// ClusterID is the cluster id of every simulated node.
const ClusterID = "sim"

// Config describes a simulated cluster. Zero fields take the defaults noted.
type Config struct {
	// Nodes is the cluster size; the nodes are named n1, n2, ... Default 3.
	Nodes int
	// Seed derives every core's election timeout randomness.
	Seed uint64
	// ElectionTicks and HeartbeatTicks are the core's timeouts in ticks.
	// Defaults 10 and 1.
	ElectionTicks, HeartbeatTicks int
	// PreVote turns on the pre-vote poll.
	PreVote bool
	// MaxEntriesPerMessage and MaxInflight bound AppendEntries envelopes.
	// Defaults 64 and 8.
	MaxEntriesPerMessage, MaxInflight int
	// MaxInflightBytes bounds the entry bytes in flight to one follower;
	// 0, the default, means no bound.
	MaxInflightBytes uint64
	// Broadcast lets a leader address one envelope to every follower; the
	// network then queues a copy on each of its links.
	Broadcast bool
}

func (c Config) withDefaults() Config {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.MaxEntriesPerMessage == 0 {
		c.MaxEntriesPerMessage = 64
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 8
	}
	return c
}

// String returns the config as the arguments of a script's init command.
func (c Config) String() string {
	c = c.withDefaults()
	s := fmt.Sprintf("nodes=%d seed=%d election=%d heartbeat=%d prevote=%t max-entries=%d inflight=%d broadcast=%t",
		c.Nodes, c.Seed, c.ElectionTicks, c.HeartbeatTicks, c.PreVote, c.MaxEntriesPerMessage, c.MaxInflight, c.Broadcast)
	if c.MaxInflightBytes > 0 {
		s += fmt.Sprintf(" inflight-bytes=%d", c.MaxInflightBytes)
	}
	return s
}

// Stats counts what a Sim did.
type Stats struct {
	// Steps is the number of actions taken.
	Steps int
	// Faults is the number of injected faults: dropped, duplicated and
	// reordered messages, cut links and crashes.
	Faults int
	// Proposals is the number of proposals whose outcome was checked:
	// acknowledged, unknown or not applied.
	Proposals int
	// Reads is the number of linearizable reads whose index was checked.
	Reads int
}

// node is one simulated member: a core while up, and its storage always.
type node struct {
	id          string
	idx         int
	core        *raft.Core // nil while crashed
	incarnation int
	st          storage

	// commit and applied are this lifetime's commit and apply indexes.
	commit, applied uint64
	// leaderTerm is the term this node leads in, or 0. leaderLast and
	// leaderHash fix its log as it was last seen in that term.
	leaderTerm, leaderLast, leaderHash uint64
	// matches are the match indexes this leader last reported per peer.
	matches map[string]uint64
	// batchMatches are the match indexes before a batch of inputs: an
	// envelope made in the batch may predate a later input's ack, so it is
	// checked against these.
	batchMatches map[string]uint64

	proposals []*proposal // appended here in this lifetime, outcome pending
	reads     []*readOp   // started here in this lifetime, not yet served
}

// proposal is a command proposed on a leader.
type proposal struct {
	data        string
	node        string
	term, index uint64
}

// readOp is a linearizable read started on a leader.
type readOp struct {
	id   uint64
	node string
	// minIndex is the highest index known committed when the read began:
	// a linearizable read must see at least that.
	minIndex uint64
	index    uint64
	released bool
}

// Sim is a deterministic simulated cluster. It is not safe for concurrent
// use.
type Sim struct {
	cfg   Config
	ids   []string
	nodes []*node
	byID  map[string]*node
	net   network
	check checker
	stats Stats

	hash  hash.Hash
	trace *tracer

	proposalCount int
	readCount     uint64
}

// NewSim returns a cluster of cfg.Nodes followers with empty storage.
func NewSim(cfg Config) (*Sim, error) {
	cfg = cfg.withDefaults()
	if cfg.Nodes < 1 || cfg.Nodes > 9 {
		return nil, fmt.Errorf("rafttest: invalid cluster size %d: use 1 to 9 nodes", cfg.Nodes)
	}
	s := &Sim{cfg: cfg, byID: map[string]*node{}, net: newNetwork(), check: newChecker(), hash: sha256.New()}
	for i := 0; i < cfg.Nodes; i++ {
		id := fmt.Sprintf("n%d", i+1)
		s.ids = append(s.ids, id)
		n := &node{id: id, idx: i}
		s.nodes = append(s.nodes, n)
		s.byID[id] = n
	}
	for _, n := range s.nodes {
		if err := s.startCore(n); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Config returns the cluster's configuration with defaults filled in.
func (s *Sim) Config() Config { return s.cfg }

// IDs returns the node ids.
func (s *Sim) IDs() []string { return slices.Clone(s.ids) }

// Stats returns the counters so far.
func (s *Sim) Stats() Stats { return s.stats }

// Violation returns the first invariant violation, or nil.
func (s *Sim) Violation() *Violation { return s.check.violation }

// Hash returns a digest of the history so far: every action, every message
// sent and every commit. Two runs with equal hashes had the same history.
func (s *Sim) Hash() [sha256.Size]byte {
	var out [sha256.Size]byte
	copy(out[:], s.hash.Sum(nil))
	return out
}

// Core returns the core of node id, or nil if it is down or unknown.
func (s *Sim) Core(id string) *raft.Core {
	if n := s.byID[id]; n != nil {
		return n.core
	}
	return nil
}

func (s *Sim) startCore(n *node) error {
	rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(n.idx)<<32|uint64(n.incarnation)))
	c, err := raft.NewCore(raft.CoreConfig{
		ID:                   n.id,
		Cluster:              ClusterID,
		Voters:               s.ids,
		ElectionTicks:        s.cfg.ElectionTicks,
		HeartbeatTicks:       s.cfg.HeartbeatTicks,
		PreVote:              s.cfg.PreVote,
		MaxEntriesPerMessage: s.cfg.MaxEntriesPerMessage,
		MaxInflight:          s.cfg.MaxInflight,
		MaxInflightBytes:     s.cfg.MaxInflightBytes,
		Broadcast:            s.cfg.Broadcast,
		Rand:                 rng,
	}, n.st.initialState())
	if err != nil {
		return fmt.Errorf("rafttest: start %s: %w", n.id, err)
	}
	n.core = c
	n.commit, n.applied = 0, 0
	n.leaderTerm = 0
	return nil
}

// errUnknownNode is wrapped by Do for an action naming a node that does not
// exist.
var errUnknownNode = errors.New("unknown node")

func (s *Sim) node(id string) (*node, error) {
	n := s.byID[id]
	if n == nil {
		return nil, fmt.Errorf("rafttest: %w %q: the nodes are %v", errUnknownNode, id, s.ids)
	}
	return n, nil
}

// Do takes one action and checks the invariants. An action that does not
// apply (a message that is not queued, a tick of a crashed node) changes
// nothing. It returns an error only for an invalid action, such as one
// naming an unknown node; invariant violations are kept for Violation.
func (s *Sim) Do(a Action) error {
	if err := s.validate(a); err != nil {
		return err
	}
	s.stats.Steps++
	if a.isFault() {
		s.stats.Faults++
	}
	s.check.step = s.stats.Steps
	s.hashAction(a)
	switch a.Kind {
	case ActDeliver, ActDuplicate:
		s.deliver(link{a.From, a.To}, a.Pos, a.Kind == ActDuplicate)
	case ActDrop:
		if f, ok := s.net.take(link{a.From, a.To}, a.Pos); ok {
			s.tracef(traceMessage, "dropped %s", formatMessage(f.from, f.to, f.msg))
		}
	case ActTick:
		if n := s.byID[a.Node]; n.core != nil {
			n.core.Tick()
			s.process(n)
		}
	case ActSync:
		s.sync(s.byID[a.Node])
	case ActCut:
		s.cut(a)
	case ActHeal:
		s.net.cut = map[link]bool{}
	case ActCrash:
		s.crash(s.byID[a.Node])
	case ActRestart:
		return s.restart(s.byID[a.Node])
	case ActPropose:
		s.propose(s.byID[a.Node], a.Data)
	case ActRead:
		s.read(s.byID[a.Node])
	case ActReceive:
		s.receive(s.byID[a.Node], a.Pos)
	default:
		return fmt.Errorf("rafttest: unknown action kind %d", a.Kind)
	}
	return nil
}

func (s *Sim) validate(a Action) error {
	for _, id := range []string{a.Node, a.From, a.To} {
		if id != "" {
			if _, err := s.node(id); err != nil {
				return err
			}
		}
	}
	switch a.Kind {
	case ActTick, ActSync, ActCrash, ActRestart, ActPropose, ActRead, ActReceive:
		if a.Node == "" {
			return fmt.Errorf("rafttest: action %v needs a node", a)
		}
	case ActDeliver, ActDrop, ActDuplicate:
		if a.From == "" || a.To == "" {
			return fmt.Errorf("rafttest: action %v needs a link FROM->TO", a)
		}
	}
	return nil
}

func (s *Sim) cut(a Action) {
	if a.Node != "" {
		for _, other := range s.ids {
			if other != a.Node {
				s.net.cut[link{a.Node, other}] = true
				s.net.cut[link{other, a.Node}] = true
			}
		}
		return
	}
	s.net.cut[link{a.From, a.To}] = true
	if a.Both {
		s.net.cut[link{a.To, a.From}] = true
	}
}

// deliver hands the pos-th message on l to its recipient; with dup, a copy
// is delivered and the message stays queued.
func (s *Sim) deliver(l link, pos int, dup bool) {
	var f flight
	var ok bool
	if dup {
		f, ok = s.net.peek(l, pos)
	} else {
		f, ok = s.net.take(l, pos)
	}
	if !ok {
		return
	}
	n := s.byID[f.to]
	switch {
	case s.net.cut[l]:
		s.tracef(traceMessage, "lost on cut link: %s", formatMessage(f.from, f.to, f.msg))
		return
	case n.core == nil:
		s.tracef(traceMessage, "lost, %s is down: %s", f.to, formatMessage(f.from, f.to, f.msg))
		return
	}
	if dup {
		s.tracef(traceMessage, "duplicate %s", formatMessage(f.from, f.to, f.msg))
	} else {
		s.tracef(traceMessage, "%s", formatMessage(f.from, f.to, f.msg))
	}
	n.core.Step(cloneMessage(f.msg))
	s.process(n)
}

// receive hands n its count oldest queued messages and then handles one
// Ready for all of them.
func (s *Sim) receive(n *node, count int) {
	if n.core != nil {
		n.batchMatches = map[string]uint64{}
		for _, id := range s.ids {
			n.batchMatches[id] = n.core.Match(id)
		}
		defer func() { n.batchMatches = nil }()
	}
	stepped := false
	for i := 0; i < count; i++ {
		j := slices.IndexFunc(s.net.queue, func(f flight) bool { return f.to == n.id })
		if j < 0 {
			break
		}
		f := s.net.queue[j]
		s.net.queue = slices.Delete(s.net.queue, j, j+1)
		switch {
		case s.net.cut[link{f.from, f.to}]:
			s.tracef(traceMessage, "lost on cut link: %s", formatMessage(f.from, f.to, f.msg))
		case n.core == nil:
			s.tracef(traceMessage, "lost, %s is down: %s", f.to, formatMessage(f.from, f.to, f.msg))
		default:
			s.tracef(traceMessage, "%s", formatMessage(f.from, f.to, f.msg))
			n.core.Step(cloneMessage(f.msg))
			stepped = true
		}
	}
	if stepped {
		s.process(n)
	}
}

// process carries out the node's Ready, as the runtime's node loop does,
// then checks the invariants.
func (s *Sim) process(n *node) {
	for n.core != nil {
		rd := n.core.TakeReady()
		if readyEmpty(&rd) {
			break
		}
		s.handleReady(n, rd)
	}
	s.checkNode(n)
}

func readyEmpty(rd *raft.Ready) bool {
	return rd.HardState == nil && rd.TruncateFrom == 0 && len(rd.Entries) == 0 && len(rd.Messages) == 0 &&
		len(rd.PersistedMessages) == 0 && rd.CommitIndex == 0 && len(rd.ReadStates) == 0 &&
		len(rd.ReadsFailed) == 0 && !rd.LostLeadership && len(rd.Events) == 0
}

// handleReady follows the order of the runtime's processReady: the log view
// first, then lost leadership and failed reads, messages, the write, the
// commit index, confirmed reads and events.
func (s *Sim) handleReady(n *node, rd raft.Ready) {
	if rd.HardState != nil || rd.TruncateFrom != 0 || len(rd.Entries) > 0 || len(rd.PersistedMessages) > 0 {
		s.checkLeaderWrite(n, rd)
		before := n.st.view.last()
		w := pendingWrite{hardState: rd.HardState, truncateFrom: rd.TruncateFrom, entries: rd.Entries, messages: rd.PersistedMessages}
		if err := n.st.write(w); err != nil {
			s.check.fail("Runtime Contract", "%s: Ready.Entries do not continue the log: %v", n.id, err)
			return
		}
		from := min(before+1, n.st.view.last()+1)
		if rd.TruncateFrom != 0 {
			from = min(from, rd.TruncateFrom)
		}
		s.check.logChanged(n.id, "log", &n.st.view, from)
	}
	if rd.LostLeadership {
		s.resolveProposals(n, "outcome unknown: "+n.id+" lost leadership")
	}
	for _, id := range rd.ReadsFailed {
		s.failRead(n, id, "leadership lost")
	}
	for _, env := range rd.Messages {
		s.send(n, env)
	}
	if rd.CommitIndex != 0 {
		s.advanceCommit(n, rd.CommitIndex)
	}
	for _, rs := range rd.ReadStates {
		s.confirmRead(n, rs)
	}
	for _, e := range rd.Events {
		s.event(n, e)
	}
}

// send puts env on the network, filling an AppendEntries with the entries
// [Lo, Hi) of the node's log. The envelope is dropped, as the runtime drops
// it, when the log no longer holds the entry at Hi-1 with term HiTerm. An
// envelope to raft.BroadcastTo is queued on the link to every peer.
func (s *Sim) send(n *node, env raft.Envelope) {
	msg := env.Msg
	recipients := []string{env.To}
	if env.To == raft.BroadcastTo {
		recipients = slices.DeleteFunc(slices.Clone(s.ids), func(id string) bool { return id == n.id })
	}
	if env.Hi > env.Lo {
		ents, ok := n.st.entries(env.Lo, env.Hi)
		if !ok || ents[len(ents)-1].Term != env.HiTerm {
			s.tracef(traceMessage, "%s dropped a stale AppendEntries envelope [%d, %d)", n.id, env.Lo, env.Hi)
			return
		}
		m := *env.Msg.(*wire.AppendEntriesRequest)
		m.Entries = ents
		msg = &m
		for _, to := range recipients {
			s.checkEnvelope(n, env, to)
		}
	}
	for _, to := range recipients {
		s.hashMessage(n.id, to, msg)
		s.net.send(n.id, to, msg)
	}
}

// checkEnvelope fails if a leader sends a follower entries at or below its
// match index.
func (s *Sim) checkEnvelope(n *node, env raft.Envelope, to string) {
	match := n.core.Match(to)
	if n.batchMatches != nil {
		match = n.batchMatches[to]
	}
	if env.Lo <= match {
		s.check.fail("Leader Progress", "%s sent entries [%d, %d) to %s, whose match index is %d: next must stay above match",
			n.id, env.Lo, env.Hi, to, match)
	}
}

// sync makes the node's pending writes durable, releases the messages that
// waited for them and reports the durable log's end to the core.
func (s *Sim) sync(n *node) {
	if n.core == nil || len(n.st.pending) == 0 {
		return
	}
	before := n.st.durable.last()
	synced, err := n.st.sync()
	if err != nil {
		s.check.fail("Runtime Contract", "%s: synced writes do not continue the durable log: %v", n.id, err)
		return
	}
	from := min(before+1, n.st.durable.last()+1)
	for _, w := range synced {
		if w.truncateFrom != 0 {
			from = min(from, w.truncateFrom)
		}
	}
	s.check.logChanged(n.id, "durable log", &n.st.durable, from)
	for _, w := range synced {
		for _, env := range w.messages {
			s.send(n, env)
		}
	}
	if last := n.st.durable.last(); last > 0 {
		n.core.Persisted(last, n.st.durable.lastTerm())
	}
	s.process(n)
}

func (s *Sim) crash(n *node) {
	if n.core == nil {
		return
	}
	s.tracef(traceEvent, "%s crashed, %d unsynced writes lost", n.id, len(n.st.pending))
	s.resolveProposals(n, "outcome unknown: "+n.id+" crashed")
	for _, r := range n.reads {
		s.tracef(traceEvent, "read %d on %s failed: node crashed", r.id, n.id)
	}
	n.reads = nil
	n.core = nil
	n.st.crash()
	n.leaderTerm = 0
}

func (s *Sim) restart(n *node) error {
	if n.core != nil {
		return nil
	}
	n.incarnation++
	if err := s.startCore(n); err != nil {
		return err
	}
	s.tracef(traceEvent, "%s restarted: term=%d vote=%s last=%d", n.id, n.st.hardState.Term, orNone(n.st.hardState.Vote), n.st.durable.last())
	s.process(n)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (s *Sim) hashAction(a Action) {
	var b []byte
	b = append(b, 'A', byte(a.Kind))
	b = append(b, a.Node...)
	b = append(b, 0)
	b = append(b, a.From...)
	b = append(b, 0)
	b = append(b, a.To...)
	b = append(b, 0)
	b = binary.AppendUvarint(b, uint64(a.Pos))
	b = append(b, a.Data...)
	s.hash.Write(b)
}

func (s *Sim) hashMessage(from, to string, m wire.Message) {
	b := []byte{'M'}
	b = append(b, from...)
	b = append(b, 0)
	b = append(b, to...)
	b = append(b, 0)
	b = binary.AppendUvarint(b, uint64(m.Kind()))
	b = m.MarshalAppend(b)
	s.hash.Write(b)
}
