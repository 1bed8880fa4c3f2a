package raft

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
)

// testStore is a node's durable state in a coreNet.
type testStore struct {
	hs  wire.HardState
	log []wire.Entry // log[i] has index i+1
}

// coreNet runs cores in lockstep with synchronous storage and a message
// queue that the test delivers, drops or holds explicitly.
type coreNet struct {
	t      *testing.T
	ids    []string
	cores  map[string]*Core
	stores map[string]*testStore
	queue  []Envelope
	cut    map[[2]string]bool // [from, to] pairs whose messages are dropped
	// drop, if set, drops the delivered messages for which it returns true.
	drop    func(Envelope) bool
	commits map[string]uint64
	// broadcasts counts envelopes addressed to every follower.
	broadcasts int
}

func testCoreConfig(id string, voters []string, seed uint64) CoreConfig {
	return CoreConfig{
		ID:                   id,
		Cluster:              "test",
		Voters:               voters,
		ElectionTicks:        10,
		HeartbeatTicks:       1,
		PreVote:              true,
		MaxEntriesPerMessage: 64,
		MaxInflight:          8,
		Rand:                 rand.New(rand.NewPCG(seed, 1)),
	}
}

func newCoreNet(t *testing.T, n int) *coreNet {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("n%d", i+1)
	}
	net := &coreNet{t: t, ids: ids, cores: map[string]*Core{}, stores: map[string]*testStore{},
		cut: map[[2]string]bool{}, commits: map[string]uint64{}}
	for i, id := range ids {
		net.stores[id] = &testStore{}
		c, err := NewCore(testCoreConfig(id, ids, uint64(i+1)), InitialState{})
		if err != nil {
			t.Fatal(err)
		}
		net.cores[id] = c
	}
	return net
}

// restart rebuilds a core from its durable state, as after a crash.
func (net *coreNet) restart(id string, seed uint64) {
	st := net.stores[id]
	init := InitialState{HardState: st.hs, LastIndex: uint64(len(st.log))}
	for _, e := range st.log {
		if len(init.Runs) == 0 || init.Runs[len(init.Runs)-1].Term != e.Term {
			init.Runs = append(init.Runs, TermRun{Start: e.Index, Term: e.Term})
		}
	}
	c, err := NewCore(testCoreConfig(id, net.ids, seed), init)
	if err != nil {
		net.t.Fatal(err)
	}
	net.cores[id] = c
	net.commits[id] = 0
}

// setLog gives a node a log with the given terms, before any message.
func (net *coreNet) setLog(id string, term uint64, terms ...uint64) {
	st := net.stores[id]
	st.hs = wire.HardState{Term: term}
	st.log = nil
	for i, tm := range terms {
		st.log = append(st.log, wire.Entry{Index: uint64(i + 1), Term: tm, Data: []byte(fmt.Sprintf("%d/%d", i+1, tm))})
	}
	net.restart(id, 7)
}

// process applies one core's Ready: storage first, then queue messages.
func (net *coreNet) process(id string) {
	for {
		rd := net.cores[id].TakeReady()
		if rd.empty() {
			return
		}
		net.handleReady(id, rd)
	}
}

func (net *coreNet) handleReady(id string, rd Ready) {
	c := net.cores[id]
	st := net.stores[id]
	if rd.HardState != nil {
		st.hs = *rd.HardState
	}
	if rd.TruncateFrom != 0 && rd.TruncateFrom <= uint64(len(st.log)) {
		st.log = st.log[:rd.TruncateFrom-1]
	}
	for _, e := range rd.Entries {
		if e.Index != uint64(len(st.log))+1 {
			net.t.Fatalf("%s: append of index %d to a log ending at %d", id, e.Index, len(st.log))
		}
		st.log = append(st.log, e)
	}
	if n := len(rd.Entries); n > 0 {
		c.Persisted(rd.Entries[n-1].Index, rd.Entries[n-1].Term)
	}
	if rd.CommitIndex != 0 {
		if rd.CommitIndex < net.commits[id] {
			net.t.Fatalf("%s: commit index went back from %d to %d", id, net.commits[id], rd.CommitIndex)
		}
		net.commits[id] = rd.CommitIndex
	}
	for _, env := range append(rd.Messages, rd.PersistedMessages...) {
		if env.Hi > env.Lo {
			m := *env.Msg.(*wire.AppendEntriesRequest)
			m.Entries = slices.Clone(st.log[env.Lo-1 : env.Hi-1])
			env.Msg = &m
		}
		if env.To == BroadcastTo {
			// Fan out as NATS does for the cluster's broadcast subject.
			for _, peer := range net.ids {
				if peer != id {
					copyEnv := env
					copyEnv.To = peer
					net.queue = append(net.queue, copyEnv)
				}
			}
			net.broadcasts++
			continue
		}
		net.queue = append(net.queue, env)
	}
}

func (net *coreNet) processAll() {
	for _, id := range net.ids {
		net.process(id)
	}
}

func from(m wire.Message) string {
	return m.(interface{ GetFrom() string }).GetFrom()
}

// deliverAll delivers queued messages until none are left.
func (net *coreNet) deliverAll() {
	net.processAll()
	for steps := 0; len(net.queue) > 0; steps++ {
		if steps > 100000 {
			net.t.Fatal("messages never stopped flowing")
		}
		env := net.queue[0]
		net.queue = net.queue[1:]
		if net.cut[[2]string{from(env.Msg), env.To}] || (net.drop != nil && net.drop(env)) {
			continue
		}
		net.cores[env.To].Step(env.Msg)
		net.process(env.To)
	}
}

func (net *coreNet) tick(id string) {
	net.cores[id].Tick()
	net.process(id)
}

// elect makes id campaign and delivers until the election ends.
func (net *coreNet) elect(id string) {
	c := net.cores[id]
	for i := 0; i < 100 && c.Role() != RolePreCandidate && c.Role() != RoleCandidate && c.Role() != RoleLeader; i++ {
		net.tick(id)
	}
	net.deliverAll()
	if c.Role() != RoleLeader {
		net.t.Fatalf("%s did not become leader: role %v term %d", id, c.Role(), c.Term())
	}
}

func (net *coreNet) propose(id string, data ...string) {
	ents := make([]wire.Entry, len(data))
	for i, d := range data {
		ents[i] = wire.Entry{Type: wire.EntryTypeCommand, Data: []byte(d)}
	}
	if _, _, err := net.cores[id].Propose(ents); err != nil {
		net.t.Fatalf("propose on %s: %v", id, err)
	}
	net.process(id)
}

func (net *coreNet) isolate(id string) {
	for _, other := range net.ids {
		if other != id {
			net.cut[[2]string{id, other}] = true
			net.cut[[2]string{other, id}] = true
		}
	}
}

func (net *coreNet) heal() { net.cut = map[[2]string]bool{} }

func (net *coreNet) logTerms(id string) []uint64 {
	var terms []uint64
	for _, e := range net.stores[id].log {
		terms = append(terms, e.Term)
	}
	return terms
}
