package rafttest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// testLog builds a hashed log with entries of the given terms; data gives
// the entries' data, "" where it is shorter.
func testLog(t *testing.T, terms []uint64, data ...string) *hashedLog {
	t.Helper()
	var l hashedLog
	for i, term := range terms {
		e := wire.Entry{Index: uint64(i + 1), Term: term}
		if i < len(data) {
			e.Data = []byte(data[i])
		}
		require.NoError(t, l.append([]wire.Entry{e}))
	}
	return &l
}

func requireViolation(t *testing.T, c *checker, property string) {
	t.Helper()
	require.NotNil(t, c.violation, "no violation found, expected %s", property)
	assert.Equal(t, property, c.violation.Property, "violation: %v", c.violation)
}

func TestCheckerElectionSafety(t *testing.T) {
	c := newChecker()
	c.newLeader("n1", 2, testLog(t, nil))
	c.newLeader("n1", 3, testLog(t, nil))
	assert.Nil(t, c.violation)
	c.newLeader("n2", 3, testLog(t, nil))
	requireViolation(t, &c, "Election Safety")
}

func TestCheckerLogMatching(t *testing.T) {
	c := newChecker()
	c.logChanged("n1", "log", testLog(t, []uint64{1, 1, 2}, "a", "b"), 1)
	c.logChanged("n2", "log", testLog(t, []uint64{1, 1}, "a", "b"), 1)
	assert.Nil(t, c.violation, "a prefix of the same log matches")
	// Index 2 differs in term, so only entry 3@2, the same in both, shows
	// that the logs before it differ.
	c.logChanged("n3", "log", testLog(t, []uint64{1, 2, 2}, "a", "x"), 1)
	requireViolation(t, &c, "Log Matching")
	assert.Contains(t, c.violation.Detail, "entry 3@2 in n3's log")

	c = newChecker()
	c.logChanged("n1", "log", testLog(t, []uint64{1, 1}, "a", "b"), 1)
	c.logChanged("n2", "durable log", testLog(t, []uint64{1, 1}, "a", "x"), 1)
	requireViolation(t, &c, "Log Matching")
	assert.Contains(t, c.violation.Detail, "entry 2@1 in n2's durable log")
}

func TestCheckerLeaderCompleteness(t *testing.T) {
	c := newChecker()
	committed := testLog(t, []uint64{1, 1}, "a", "b")
	c.committed("n1", committed.entries)
	c.newLeader("n2", 2, testLog(t, []uint64{1, 1, 2}, "a", "b"))
	assert.Nil(t, c.violation)
	c.newLeader("n3", 3, testLog(t, []uint64{1}, "a"))
	requireViolation(t, &c, "Leader Completeness")
}

func TestCheckerStateMachineSafety(t *testing.T) {
	c := newChecker()
	c.committed("n1", testLog(t, []uint64{1, 1}, "a", "b").entries)
	c.committed("n2", testLog(t, []uint64{1, 2}, "a", "c").entries)
	requireViolation(t, &c, "State Machine Safety")

	c = newChecker()
	entries := testLog(t, []uint64{1, 1}, "a", "b").entries
	c.applied("n1", 0, entries[0])
	c.applied("n1", 1, entries[1])
	c.applied("n2", 0, wire.Entry{Index: 1, Term: 1, Data: []byte("x")})
	requireViolation(t, &c, "State Machine Safety")
}

func TestCheckerApplyExactlyOnce(t *testing.T) {
	entries := testLog(t, []uint64{1, 1, 1}).entries
	c := newChecker()
	c.applied("n1", 0, entries[0])
	c.applied("n1", 1, entries[0])
	requireViolation(t, &c, "Apply Exactly Once")

	c = newChecker()
	c.applied("n1", 0, entries[0])
	c.applied("n1", 1, entries[2])
	requireViolation(t, &c, "Apply Exactly Once")
	assert.Contains(t, c.violation.Detail, "skipping")
}

func TestCheckerDurability(t *testing.T) {
	c := newChecker()
	c.committed("n1", testLog(t, []uint64{1, 1}, "a", "b").entries)
	c.acknowledged(&proposal{data: "b", node: "n1", term: 1, index: 2})
	c.checkAcknowledged()
	assert.Nil(t, c.violation)
	c.acknowledged(&proposal{data: "c", node: "n1", term: 1, index: 3})
	c.checkAcknowledged()
	requireViolation(t, &c, "Durability")
}

// electedSim returns a 3-node Sim in which n1 leads with every log in step.
func electedSim(t *testing.T) (*Sim, *node) {
	t.Helper()
	if raft.Mutation != "" {
		t.Skipf("mutation build (%s): a planted bug could be the first violation", raft.Mutation)
	}
	r := &scriptRunner{}
	for _, cmd := range []string{"init nodes=3", "campaign n1", "stabilize"} {
		_, err := r.run(cmd)
		require.NoError(t, err)
	}
	n := r.sim.byID["n1"]
	require.Equal(t, raft.RoleLeader, n.core.Role())
	return r.sim, n
}

func TestCheckerLeaderAppendOnly(t *testing.T) {
	s, n := electedSim(t)
	s.checkLeaderWrite(n, raft.Ready{TruncateFrom: 1})
	require.NotNil(t, s.Violation())
	assert.Equal(t, "Leader Append-Only", s.Violation().Property)

	s, n = electedSim(t)
	n.st.view.truncate(1)
	s.checkNode(n)
	require.NotNil(t, s.Violation())
	assert.Equal(t, "Leader Append-Only", s.Violation().Property)
}

func TestCheckerLinearizableRead(t *testing.T) {
	s, n := electedSim(t)
	require.NoError(t, s.Do(Action{Kind: ActRead, Node: "n1"}))
	require.Len(t, n.reads, 1)
	n.reads[0].minIndex = 5
	s.confirmRead(n, raft.ReadState{ID: n.reads[0].id, Index: 1})
	require.NotNil(t, s.Violation())
	assert.Equal(t, "Linearizable Read", s.Violation().Property)
}

func TestCheckerLeaderProgress(t *testing.T) {
	s, n := electedSim(t)
	require.Equal(t, uint64(1), n.core.Match("n2"))
	s.checkEnvelope(n, raft.Envelope{To: "n2", Lo: 1, Hi: 2}, "n2")
	require.NotNil(t, s.Violation())
	assert.Equal(t, "Leader Progress", s.Violation().Property)
}

func TestCheckerMonotonicCommit(t *testing.T) {
	s, n := electedSim(t)
	s.advanceCommit(n, n.commit)
	require.NotNil(t, s.Violation())
	assert.Equal(t, "Monotonic Commit", s.Violation().Property)
}
