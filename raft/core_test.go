package raft

import (
	"slices"
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func leaders(net *coreNet) map[uint64][]string {
	out := map[uint64][]string{}
	for _, id := range net.ids {
		if c := net.cores[id]; c.Role() == RoleLeader {
			out[c.Term()] = append(out[c.Term()], id)
		}
	}
	return out
}

func TestElectionSingleLeader(t *testing.T) {
	for _, size := range []int{1, 3, 5} {
		net := newCoreNet(t, size)
		for tick := 0; tick < 200; tick++ {
			for _, id := range net.ids {
				net.tick(id)
			}
			net.deliverAll()
			for term, ids := range leaders(net) {
				require.Lenf(t, ids, 1, "size %d: term %d has leaders %v", size, term, ids)
			}
		}
		require.Len(t, leaders(net), 1, "size %d: expected one leader after 200 ticks", size)
	}
}

func TestReplicationCommitsOnAllNodes(t *testing.T) {
	net := newCoreNet(t, 3)
	net.elect("n1")
	for i := 0; i < 300; i++ {
		net.propose("n1", "x")
	}
	net.deliverAll()
	// One more heartbeat carries the final commit index to followers.
	net.tick("n1")
	net.deliverAll()
	want := net.stores["n1"].log
	require.Len(t, want, 301)
	for _, id := range net.ids {
		assert.Equal(t, want, net.stores[id].log, "log of %s", id)
		assert.Equal(t, uint64(301), net.commits[id], "commit index of %s", id)
	}
}

// The follower logs of figure 7 of the Raft paper (In Search of an
// Understandable Consensus Algorithm, Ongaro and Ousterhout, 2014): each is
// missing entries, has extra ones, or both, relative to the leader of
// term 8; after replication each must equal the leader's log.
func TestFollowerLogsConvergeToLeader(t *testing.T) {
	leaderLog := []uint64{1, 1, 1, 4, 4, 5, 5, 6, 6, 6}
	followers := map[string][]uint64{
		"missing-one":        {1, 1, 1, 4, 4, 5, 5, 6, 6},
		"missing-many":       {1, 1, 1, 4},
		"extra-same-term":    {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},
		"extra-newer-term":   {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},
		"conflicting":        {1, 1, 1, 4, 4, 4, 4},
		"conflicting-longer": {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},
	}
	for name, flog := range followers {
		t.Run(name, func(t *testing.T) {
			// n3 holds the leader's log and gives n1 its quorum.
			net := newCoreNet(t, 3)
			net.setLog("n1", 7, leaderLog...)
			net.setLog("n2", 7, flog...)
			net.setLog("n3", 7, leaderLog...)
			net.elect("n1")
			net.deliverAll()
			assert.Equal(t, net.logTerms("n1"), net.logTerms("n2"))
			assert.Equal(t, append(slices.Clone(leaderLog), 8), net.logTerms("n2"))
			assert.Equal(t, net.stores["n1"].log, net.stores["n2"].log)
		})
	}
}

// A leader must not commit an entry of an earlier term by counting replicas
// (figure 8 of the Raft paper): only its own term's entries commit that way.
func TestLeaderDoesNotCommitEarlierTermByCount(t *testing.T) {
	net := newCoreNet(t, 3)
	net.setLog("n1", 2, 1, 2)
	net.setLog("n2", 2, 1)
	net.setLog("n3", 2, 1)
	// Votes go through, appends do not: the test feeds the responses.
	net.drop = func(env Envelope) bool { _, ok := env.Msg.(*wire.AppendEntriesRequest); return ok }
	net.elect("n1") // term 3: n1 appends a no-op at index 3
	leader := net.cores["n1"]
	require.Equal(t, uint64(3), leader.Term())

	// n2 now holds index 2 (term 2): a quorum holds it, but it must not
	// commit because its term is not the leader's.
	leader.Step(&wire.AppendEntriesResponse{Cluster: "test", From: "n2", To: "n1", Term: 3, Success: true, MatchIndex: 2})
	net.process("n1")
	assert.Less(t, leader.CommitIndex(), uint64(2), "entry of term 2 committed by counting replicas")

	// Once the term-3 no-op is on a quorum, it commits, and index 2 with it.
	leader.Step(&wire.AppendEntriesResponse{Cluster: "test", From: "n2", To: "n1", Term: 3, Success: true, MatchIndex: 3})
	net.process("n1")
	assert.Equal(t, uint64(3), leader.CommitIndex())
}

func appendReq(term, prev, prevTerm, commit uint64, terms ...uint64) *wire.AppendEntriesRequest {
	m := &wire.AppendEntriesRequest{Cluster: "test", From: "n1", To: "n2", Term: term,
		PrevLogIndex: prev, PrevLogTerm: prevTerm, LeaderCommit: commit}
	for i, tm := range terms {
		m.Entries = append(m.Entries, wire.Entry{Index: prev + uint64(i) + 1, Term: tm})
	}
	return m
}

func lastResponse(t *testing.T, net *coreNet) *wire.AppendEntriesResponse {
	t.Helper()
	require.NotEmpty(t, net.queue)
	m, ok := net.queue[len(net.queue)-1].Msg.(*wire.AppendEntriesResponse)
	require.True(t, ok, "last message is %T", net.queue[len(net.queue)-1].Msg)
	return m
}

func TestAppendRejectsMissingPrev(t *testing.T) {
	net := newCoreNet(t, 2)
	net.setLog("n2", 2, 1, 1)
	net.cores["n2"].Step(appendReq(2, 5, 2, 0, 2))
	net.process("n2")
	resp := lastResponse(t, net)
	assert.False(t, resp.Success)
	assert.Equal(t, uint64(3), resp.ConflictIndex, "hint is the follower's last index plus one")
	assert.Equal(t, uint64(0), resp.ConflictTerm)
	assert.Equal(t, []uint64{1, 1}, net.logTerms("n2"))
}

func TestAppendRejectsConflictingPrevWithTermHint(t *testing.T) {
	net := newCoreNet(t, 2)
	net.setLog("n2", 3, 1, 2, 2, 2)
	net.cores["n2"].Step(appendReq(3, 4, 3, 0, 3))
	net.process("n2")
	resp := lastResponse(t, net)
	assert.False(t, resp.Success)
	assert.Equal(t, uint64(2), resp.ConflictTerm)
	assert.Equal(t, uint64(2), resp.ConflictIndex, "hint is the first index of the conflicting term")
}

func TestAppendTruncatesConflictingSuffix(t *testing.T) {
	net := newCoreNet(t, 2)
	net.setLog("n2", 3, 1, 2, 2, 2)
	net.cores["n2"].Step(appendReq(3, 2, 2, 0, 3))
	net.process("n2")
	resp := lastResponse(t, net)
	assert.True(t, resp.Success)
	assert.Equal(t, uint64(3), resp.MatchIndex)
	assert.Equal(t, []uint64{1, 2, 3}, net.logTerms("n2"))
}

// A delayed duplicate of an AppendEntries whose entries are all stored must
// not remove later entries the follower acknowledged.
func TestAppendDuplicateKeepsLaterEntries(t *testing.T) {
	net := newCoreNet(t, 2)
	net.setLog("n2", 2)
	n2 := net.cores["n2"]
	n2.Step(appendReq(2, 0, 0, 0, 2, 2, 2, 2))
	net.process("n2")
	require.Equal(t, []uint64{2, 2, 2, 2}, net.logTerms("n2"))
	n2.Step(appendReq(2, 0, 0, 0, 2, 2))
	net.process("n2")
	resp := lastResponse(t, net)
	assert.True(t, resp.Success)
	assert.Equal(t, uint64(2), resp.MatchIndex)
	assert.Equal(t, []uint64{2, 2, 2, 2}, net.logTerms("n2"), "duplicate append truncated the log")
}

func TestAppendFromOlderTermChangesNothing(t *testing.T) {
	net := newCoreNet(t, 3)
	net.elect("n1")
	leader := net.cores["n1"]
	term := leader.Term()
	leader.Step(&wire.AppendEntriesRequest{Cluster: "test", From: "n2", To: "n1", Term: term - 1})
	net.process("n1")
	assert.Equal(t, RoleLeader, leader.Role())
	assert.Equal(t, term, leader.Term())
	resp := lastResponse(t, net)
	assert.False(t, resp.Success)
	assert.Equal(t, term, resp.Term, "the rejection tells the stale sender the current term")
}

// Responses that arrive duplicated or out of order never move a follower's
// match index back, or its next index to or below the match index.
func TestLeaderProgressIgnoresStaleResponses(t *testing.T) {
	net := newCoreNet(t, 3)
	net.elect("n1")
	for i := 0; i < 12; i++ {
		net.propose("n1", "x")
	}
	net.queue = nil
	leader := net.cores["n1"]
	term := leader.Term()
	ok := func(match uint64) *wire.AppendEntriesResponse {
		return &wire.AppendEntriesResponse{Cluster: "test", From: "n2", To: "n1", Term: term, Success: true, MatchIndex: match}
	}
	steps := []*wire.AppendEntriesResponse{
		ok(13), ok(11),
		{Cluster: "test", From: "n2", To: "n1", Term: term, ConflictIndex: 2, ConflictTerm: 1},
		ok(13),
		{Cluster: "test", From: "n2", To: "n1", Term: term - 1, Success: true, MatchIndex: 13},
	}
	for i, m := range steps {
		leader.Step(m)
		net.process("n1")
		pr := leader.progress["n2"]
		assert.Equal(t, uint64(13), pr.match, "step %d: match index", i)
		assert.Greater(t, pr.next, pr.match, "step %d: next index", i)
	}
}

func TestResponseFromEarlierTermDoesNotCommit(t *testing.T) {
	net := newCoreNet(t, 3)
	net.elect("n1")
	net.queue = nil
	leader := net.cores["n1"]
	net.propose("n1", "x")
	commit := leader.CommitIndex()
	for _, peer := range []string{"n2", "n3"} {
		leader.Step(&wire.AppendEntriesResponse{Cluster: "test", From: peer, To: "n1", Term: leader.Term() - 1, Success: true, MatchIndex: leader.LastIndex()})
	}
	net.process("n1")
	assert.Equal(t, commit, leader.CommitIndex())
}

func TestVoteGrantWaitsForDurableVote(t *testing.T) {
	net := newCoreNet(t, 3)
	n2 := net.cores["n2"]
	n2.Step(&wire.VoteRequest{Cluster: "test", From: "n1", To: "n2", Term: 1, LastLogIndex: 0})
	rd := n2.TakeReady()
	require.NotNil(t, rd.HardState)
	assert.Equal(t, wire.HardState{Term: 1, Vote: "n1"}, *rd.HardState)
	assert.Empty(t, rd.Messages, "a grant sent before the vote is durable")
	require.Len(t, rd.PersistedMessages, 1)
	assert.True(t, rd.PersistedMessages[0].Msg.(*wire.VoteResponse).Granted)
}

func TestVoteSurvivesRestart(t *testing.T) {
	net := newCoreNet(t, 3)
	net.cores["n3"].Step(&wire.VoteRequest{Cluster: "test", From: "n1", To: "n3", Term: 1})
	net.process("n3")
	net.restart("n3", 99)
	net.queue = nil
	net.cores["n3"].Step(&wire.VoteRequest{Cluster: "test", From: "n2", To: "n3", Term: 1})
	net.process("n3")
	resp := net.queue[len(net.queue)-1].Msg.(*wire.VoteResponse)
	assert.False(t, resp.Granted, "node voted twice in term 1 after a restart")
}

func TestCandidateWithStaleLogLoses(t *testing.T) {
	net := newCoreNet(t, 3)
	net.setLog("n1", 2, 1)
	net.setLog("n2", 2, 1, 2)
	net.setLog("n3", 2, 1, 2)
	for i := 0; i < 100 && net.cores["n1"].Role() == RoleFollower; i++ {
		net.tick("n1")
	}
	net.deliverAll()
	assert.NotEqual(t, RoleLeader, net.cores["n1"].Role())
	assert.Equal(t, uint64(2), net.cores["n2"].Term(), "pre-vote must not raise the term")
}

func TestPreVoteIgnoredWhileLeaderAlive(t *testing.T) {
	net := newCoreNet(t, 3)
	net.elect("n1")
	term := net.cores["n1"].Term()
	net.isolate("n3")
	for i := 0; i < 100; i++ {
		net.tick("n3")
		net.deliverAll()
	}
	net.heal()
	for i := 0; i < 30; i++ {
		net.tick("n3")
		net.tick("n1")
		net.deliverAll()
	}
	assert.Equal(t, "n1", net.cores["n1"].Leader())
	assert.Equal(t, RoleLeader, net.cores["n1"].Role())
	assert.Equal(t, term, net.cores["n1"].Term(), "a returning node raised the term")
}

func TestPartitionedLeaderStepsDownAndRejoins(t *testing.T) {
	net := newCoreNet(t, 3)
	net.elect("n1")
	net.isolate("n1")
	net.propose("n1", "lost")
	var newLeader string
	for i := 0; i < 100 && newLeader == ""; i++ {
		for _, id := range net.ids {
			net.tick(id)
		}
		net.deliverAll()
		for _, id := range []string{"n2", "n3"} {
			if net.cores[id].Role() == RoleLeader {
				newLeader = id
			}
		}
	}
	require.NotEmpty(t, newLeader, "the majority side elected no leader")
	for i := 0; i < 20; i++ {
		net.tick("n1")
	}
	assert.NotEqual(t, RoleLeader, net.cores["n1"].Role(), "an isolated leader must step down (check quorum)")
	net.propose(newLeader, "kept")
	net.deliverAll()
	net.heal()
	for i := 0; i < 5; i++ {
		net.tick(newLeader)
		net.deliverAll()
	}
	assert.Equal(t, net.stores[newLeader].log, net.stores["n1"].log)
	for _, e := range net.stores["n1"].log {
		assert.NotEqual(t, "lost", string(e.Data), "uncommitted entry of the old leader survived")
	}
}

func TestReadIndexNeedsQuorumAck(t *testing.T) {
	net := newCoreNet(t, 3)
	net.elect("n1")
	leader := net.cores["n1"]
	require.NoError(t, leader.ReadIndex(1))
	rd := leader.TakeReady()
	assert.Empty(t, rd.ReadStates, "read released before any heartbeat answer")
	for _, env := range rd.Messages {
		net.queue = append(net.queue, env)
	}
	net.isolate("n1")
	net.deliverAll()
	assert.Empty(t, leader.TakeReady().ReadStates)
	net.heal()
	require.NoError(t, leader.ReadIndex(2))
	var states []ReadState
	rd = leader.TakeReady()
	net.handleReady("n1", rd)
	for len(net.queue) > 0 {
		env := net.queue[0]
		net.queue = net.queue[1:]
		net.cores[env.To].Step(env.Msg)
		r := net.cores[env.To].TakeReady()
		states = append(states, r.ReadStates...)
		net.handleReady(env.To, r)
	}
	require.Len(t, states, 2)
	assert.Equal(t, leader.CommitIndex(), states[1].Index)
	assert.ErrorIs(t, net.cores["n2"].ReadIndex(3), errNotLeader, "a follower serves no linearizable read")
}

// Envelopes lost in flight (a follower restarted, or the bus dropped them)
// must not stall replication to that follower for good.
func TestLeaderResendsAfterLostEnvelopes(t *testing.T) {
	net := newCoreNet(t, 3)
	net.elect("n1")
	net.cut[[2]string{"n1", "n3"}] = true
	for i := 0; i < 40; i++ {
		net.propose("n1", "x")
	}
	net.deliverAll()
	require.Less(t, len(net.stores["n3"].log), 41)
	net.heal()
	for i := 0; i < 20; i++ {
		net.tick("n1")
		net.deliverAll()
	}
	assert.Equal(t, net.stores["n1"].log, net.stores["n3"].log)
}

func TestBroadcastWhileFollowersInStep(t *testing.T) {
	net := newCoreNet(t, 3)
	for _, id := range net.ids {
		net.cores[id].cfg.Broadcast = true
	}
	net.elect("n1")
	net.tick("n1") // heartbeat answers move every follower to replicate
	net.deliverAll()
	before := net.broadcasts
	net.propose("n1", "a", "b")
	net.deliverAll()
	assert.Equal(t, before+1, net.broadcasts, "in-step followers share one envelope")

	// A follower that misses entries falls out of step and catches up on
	// its own envelopes while the other keeps in step.
	net.cut[[2]string{"n1", "n3"}] = true
	net.propose("n1", "c")
	net.deliverAll()
	net.heal()
	for i := 0; i < 20; i++ {
		net.tick("n1")
		net.deliverAll()
	}
	net.propose("n1", "d")
	net.deliverAll()
	for _, id := range []string{"n2", "n3"} {
		assert.Equal(t, net.stores["n1"].log, net.stores[id].log, "log of %s", id)
	}
}

func TestWindowBoundedByBytes(t *testing.T) {
	net := newCoreNet(t, 3)
	const limit = 1000
	for _, c := range net.cores {
		c.cfg.MaxInflightBytes = limit
	}
	net.elect("n1")
	net.deliverAll()

	leader := net.cores["n1"]
	data := string(make([]byte, 100))
	// One batch of 40 entries, which the bound on envelopes alone would
	// send at once.
	net.propose("n1", slices.Repeat([]string{data}, 40)...)
	entrySize := uint64((&wire.Entry{Index: 2, Term: leader.Term(), Type: wire.EntryTypeCommand, Data: []byte(data)}).Size())
	sent := map[string]uint64{}
	for _, env := range net.queue {
		if env.Hi > env.Lo {
			sent[env.To] += (env.Hi - env.Lo) * entrySize
		}
	}
	for _, id := range []string{"n2", "n3"} {
		require.Positive(t, sent[id], "no entries sent to %s", id)
		// The last envelope may pass the bound by less than one entry.
		assert.Less(t, sent[id], uint64(limit)+entrySize, "bytes in flight to %s", id)
		assert.Less(t, sent[id], 40*entrySize, "the whole backlog went to %s at once", id)
	}

	net.deliverAll()
	net.tick("n1")
	net.deliverAll()
	for _, id := range net.ids {
		assert.Equal(t, net.stores["n1"].log, net.stores[id].log, "log of %s", id)
	}
}
