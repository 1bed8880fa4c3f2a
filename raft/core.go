package raft

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/natsraft/natsraft/raft/wire"
)

// CoreConfig configures a protocol core. Times are counted in ticks: the
// runtime calls Tick at a fixed interval.
type CoreConfig struct {
	ID      string
	Cluster string
	// Voters is the initial configuration when the log holds none.
	Voters []string
	// ElectionTicks is the minimum election timeout; each timeout is drawn
	// from [ElectionTicks, 2*ElectionTicks).
	ElectionTicks int
	// HeartbeatTicks is the interval between a leader's heartbeats.
	HeartbeatTicks int
	// PreVote makes a node poll its peers before it raises its term, so a
	// node that rejoins after a partition does not disrupt a working leader.
	PreVote bool
	// MaxEntriesPerMessage bounds the entries in one AppendEntries envelope.
	MaxEntriesPerMessage int
	// MaxInflight bounds the AppendEntries envelopes in flight to one peer.
	MaxInflight int
	// MaxInflightBytes bounds the encoded size of the entries in flight to
	// one peer; 0 means no bound. An envelope always carries at least one
	// entry, so one entry larger than the bound still goes out alone.
	MaxInflightBytes uint64
	// Broadcast lets the leader send new entries in one envelope addressed
	// to every follower (To is BroadcastTo) when all followers are in step.
	Broadcast bool
	// Rand draws the randomized election timeouts.
	Rand *rand.Rand
}

// InitialState is the state a core starts from: the durable hard state and
// the shape of the stored log.
type InitialState struct {
	HardState wire.HardState
	// SnapshotIndex and SnapshotTerm describe the last entry covered by the
	// newest snapshot (zero without one).
	SnapshotIndex, SnapshotTerm uint64
	// Runs are the terms of the stored entries after the snapshot.
	Runs []TermRun
	// LastIndex is the last stored index.
	LastIndex uint64
	// Voters is the latest configuration found in the log or snapshot; nil
	// means use CoreConfig.Voters.
	Voters []string
}

// TermRun records that the log entries from Start up to the next run's start
// have term Term.
type TermRun struct {
	Start, Term uint64
}

// Core is the deterministic Raft state of one node. It reacts to inputs
// (Step, Tick, Propose, ReadIndex, Persisted) and accumulates the resulting
// work in a Ready, taken with TakeReady. It does no I/O, starts no goroutine
// and reads no clock. It is not safe for concurrent use: one goroutine, the
// node loop, owns it.
type Core struct {
	cfg CoreConfig

	id     string
	term   uint64
	vote   string
	role   Role
	leader string
	voters []string
	log    termIndex
	// sizes holds the encoded sizes of the entries the leader may still
	// send, for the byte bound of the replication windows.
	sizes   entrySizes
	commit  uint64
	durable uint64 // entries up to durable are in the store

	electionElapsed   int
	heartbeatElapsed  int
	randomizedTimeout int

	votes map[string]bool // candidate and pre-candidate: grants received

	// Leader state.
	progress    map[string]*progress
	termStart   uint64 // index of the leader's no-op entry
	seq         uint64 // heartbeat round, for read confirmation
	readQueue   []pendingRead
	readsUnsent []pendingRead // reads waiting for an entry of this term to commit

	hardDirty bool
	ready     Ready
}

type pendingRead struct {
	id, index, seq uint64
}

// NewCore returns a core in the follower role.
func NewCore(cfg CoreConfig, st InitialState) (*Core, error) {
	if cfg.ID == "" {
		return nil, fmt.Errorf("raft: core config has an empty node id")
	}
	if cfg.ElectionTicks <= cfg.HeartbeatTicks || cfg.HeartbeatTicks <= 0 {
		return nil, fmt.Errorf("raft: election ticks (%d) must exceed heartbeat ticks (%d), which must be positive",
			cfg.ElectionTicks, cfg.HeartbeatTicks)
	}
	if cfg.MaxEntriesPerMessage <= 0 || cfg.MaxInflight <= 0 || cfg.Rand == nil {
		return nil, fmt.Errorf("raft: core config needs positive MaxEntriesPerMessage and MaxInflight and a Rand")
	}
	c := &Core{
		cfg:  cfg,
		id:   cfg.ID,
		term: st.HardState.Term,
		vote: st.HardState.Vote,
		log:  newTermIndex(st.SnapshotIndex, st.SnapshotTerm),
	}
	for _, r := range st.Runs {
		c.log.runs = append(c.log.runs, termRun{start: r.Start, term: r.Term})
	}
	c.log.last = max(st.LastIndex, st.SnapshotIndex)
	c.durable = c.log.last
	c.commit = st.SnapshotIndex
	c.voters = slices.Clone(cfg.Voters)
	if st.Voters != nil {
		c.voters = slices.Clone(st.Voters)
	}
	slices.Sort(c.voters)
	c.resetElectionTimer()
	return c, nil
}

// Role returns the node's current role.
func (c *Core) Role() Role { return c.role }

// Term returns the current term.
func (c *Core) Term() uint64 { return c.term }

// Leader returns the id of the leader this node follows, or "" if unknown.
func (c *Core) Leader() string { return c.leader }

// Vote returns the node voted for in the current term, or "".
func (c *Core) Vote() string { return c.vote }

// LastIndex returns the index of the last log entry.
func (c *Core) LastIndex() uint64 { return c.log.last }

// FirstIndex returns the first index held in the log.
func (c *Core) FirstIndex() uint64 { return c.log.first }

// CommitIndex returns the highest index known to be committed.
func (c *Core) CommitIndex() uint64 { return c.commit }

// DurableIndex returns the last index known to be in the store.
func (c *Core) DurableIndex() uint64 { return c.durable }

// Voters returns the current configuration, sorted.
func (c *Core) Voters() []string { return slices.Clone(c.voters) }

// TermAt returns the term of the entry at index, if the log holds it.
func (c *Core) TermAt(index uint64) (uint64, bool) { return c.log.term(index) }

// Match returns a peer's match index as the leader tracks it.
func (c *Core) Match(peer string) uint64 {
	if pr := c.progress[peer]; pr != nil {
		return pr.match
	}
	return 0
}

// TakeReady returns the accumulated work and starts a new Ready.
func (c *Core) TakeReady() Ready {
	if c.hardDirty {
		c.ready.HardState = &wire.HardState{Term: c.term, Vote: c.vote}
		c.hardDirty = false
	}
	r := c.ready
	c.ready = Ready{}
	return r
}

func (c *Core) quorum() int { return len(c.voters)/2 + 1 }

func (c *Core) isVoter(id string) bool {
	_, ok := slices.BinarySearch(c.voters, id)
	return ok
}

func (c *Core) peers() []string {
	out := make([]string, 0, len(c.voters))
	for _, v := range c.voters {
		if v != c.id {
			out = append(out, v)
		}
	}
	return out
}

func (c *Core) resetElectionTimer() {
	c.electionElapsed = 0
	c.randomizedTimeout = c.cfg.ElectionTicks + c.cfg.Rand.IntN(c.cfg.ElectionTicks)
}

func (c *Core) event(e Event) {
	e.Node = c.id
	e.Term = c.term
	c.ready.Events = append(c.ready.Events, e)
}

func (c *Core) setTerm(term uint64) {
	if term == c.term {
		return
	}
	c.term = term
	c.vote = ""
	c.hardDirty = true
	c.event(Event{Type: EventTermChanged})
}

func (c *Core) setLeader(id string) {
	if id == c.leader {
		return
	}
	c.leader = id
	c.event(Event{Type: EventLeaderChanged, Leader: id})
}

func (c *Core) setRole(r Role) {
	if r == c.role {
		return
	}
	wasLeader := c.role == RoleLeader
	c.role = r
	c.event(Event{Type: EventRoleChanged, Role: r})
	if wasLeader {
		c.ready.LostLeadership = true
		c.failReads()
		c.progress = nil
	}
}

// becomeFollower moves to term (which must not be lower than the current
// term) as a follower of leader, which may be "" if unknown.
func (c *Core) becomeFollower(term uint64, leader string) {
	c.setTerm(term)
	c.setRole(RoleFollower)
	c.setLeader(leader)
	c.votes = nil
	c.resetElectionTimer()
}

// Tick advances the core's clock by one tick.
func (c *Core) Tick() {
	c.electionElapsed++
	if c.role == RoleLeader {
		c.tickLeader()
		return
	}
	if c.electionElapsed >= c.randomizedTimeout && c.isVoter(c.id) {
		c.startElection(false)
	}
}

// Step processes one message from a peer.
func (c *Core) Step(msg wire.Message) {
	switch m := msg.(type) {
	case *wire.VoteRequest:
		c.handleVoteRequest(m)
	case *wire.VoteResponse:
		c.handleVoteResponse(m)
	case *wire.AppendEntriesRequest:
		c.handleAppendEntries(m)
	case *wire.AppendEntriesResponse:
		c.handleAppendResponse(m)
	case *wire.TimeoutNowRequest:
		c.handleTimeoutNow(m)
	case *wire.InstallSnapshotRequest, *wire.InstallSnapshotResponse:
		// NOTE: snapshot transfer is not implemented yet; logs are never
		// compacted, so no leader sends InstallSnapshot.
	}
}

func (c *Core) send(to string, m wire.Message) {
	c.ready.Messages = append(c.ready.Messages, Envelope{To: to, Msg: m})
}

func (c *Core) sendAfterPersist(to string, m wire.Message) {
	c.ready.PersistedMessages = append(c.ready.PersistedMessages, Envelope{To: to, Msg: m})
}

// Persisted reports that the log writer made the entries through index
// durable, the last of them having term term.
func (c *Core) Persisted(index, term uint64) {
	if t, ok := c.log.term(index); !ok || t != term || index <= c.durable {
		// The entry was replaced after the write was queued; a later
		// completion covers the replacement.
		return
	}
	c.durable = index
	if c.role == RoleLeader {
		c.maybeCommit()
	}
}
