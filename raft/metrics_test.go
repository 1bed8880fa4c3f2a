package raft_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a raft.Metrics that keeps every value in memory. It checks
// that each handle is created once, with the type and the number of label
// values its description declares.
type recorder struct {
	mu      sync.Mutex
	handles map[string]*recordedMetric // by name and label values
	errs    []string
}

// recordedMetric is a counter's total, a gauge's value, or a histogram's
// observation count and sum.
type recordedMetric struct {
	mu    sync.Mutex
	value float64
	count int
	sum   float64
}

func (h *recordedMetric) Add(delta float64) {
	h.mu.Lock()
	h.value += delta
	h.mu.Unlock()
}

func (h *recordedMetric) Set(value float64) {
	h.mu.Lock()
	h.value = value
	h.mu.Unlock()
}

func (h *recordedMetric) Observe(value float64) {
	h.mu.Lock()
	h.count++
	h.sum += value
	h.mu.Unlock()
}

// current returns a counter's total or a gauge's value.
func (h *recordedMetric) current() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.value
}

func newRecorder() *recorder { return &recorder{handles: map[string]*recordedMetric{}} }

func metricKey(name string, labelValues []string) string {
	return name + "{" + strings.Join(labelValues, ",") + "}"
}

func (r *recorder) create(desc raft.MetricDesc, typ raft.MetricType, labelValues []string) *recordedMetric {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := metricKey(desc.Name, labelValues)
	if desc.Type != typ {
		r.errs = append(r.errs, fmt.Sprintf("%s created as %v, described as %v", key, typ, desc.Type))
	}
	if len(labelValues) != len(desc.Labels) {
		r.errs = append(r.errs, fmt.Sprintf("%s has %d label values for labels %v", key, len(labelValues), desc.Labels))
	}
	if r.handles[key] != nil {
		r.errs = append(r.errs, fmt.Sprintf("%s created twice", key))
	}
	h := &recordedMetric{}
	r.handles[key] = h
	return h
}

func (r *recorder) Counter(desc raft.MetricDesc, labelValues ...string) raft.Counter {
	return r.create(desc, raft.MetricCounter, labelValues)
}

func (r *recorder) Gauge(desc raft.MetricDesc, labelValues ...string) raft.Gauge {
	return r.create(desc, raft.MetricGauge, labelValues)
}

func (r *recorder) Histogram(desc raft.MetricDesc, labelValues ...string) raft.Histogram {
	return r.create(desc, raft.MetricHistogram, labelValues)
}

// handle returns the handle of name for node in cluster c1 with the extra
// label values, failing the test if the node never created it.
func (r *recorder) handle(t *testing.T, name, node string, extra ...string) *recordedMetric {
	t.Helper()
	key := metricKey(name, append([]string{"c1", node}, extra...))
	r.mu.Lock()
	h := r.handles[key]
	r.mu.Unlock()
	require.NotNil(t, h, "metric %s was never created", key)
	return h
}

// value returns a counter's total or a gauge's value.
func (r *recorder) value(t *testing.T, name, node string, extra ...string) float64 {
	t.Helper()
	return r.handle(t, name, node, extra...).current()
}

// observations returns a histogram's observation count and sum.
func (r *recorder) observations(t *testing.T, name, node string, extra ...string) (int, float64) {
	t.Helper()
	h := r.handle(t, name, node, extra...)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count, h.sum
}

func (r *recorder) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs)
}

// startMeteredCluster starts nodes a, b and c on an in-process network, all
// reporting to rec, and stops them when the test ends.
func startMeteredCluster(t *testing.T, rec *recorder) (*chanNetwork, map[string]*raft.Node) {
	t.Helper()
	net := &chanNetwork{handlers: map[string]wire.PeerHandler{}, down: map[string]bool{}}
	peers := []string{"a", "b", "c"}
	nodes := map[string]*raft.Node{}
	for _, id := range peers {
		store := memory.NewStore()
		n, err := raft.NewNode(raft.Config{
			ID:                id,
			Cluster:           "c1",
			Peers:             peers,
			ElectionTimeout:   150 * time.Millisecond,
			HeartbeatInterval: 30 * time.Millisecond,
			Metrics:           rec,
		}, statemachine.NewKV(), store.Log, store.Stable, store.Snapshots, &chanTransport{net: net, id: id})
		require.NoError(t, err)
		nodes[id] = n
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = n.Stop()
		}
	})
	return net, nodes
}

func waitLeaderNode(t *testing.T, nodes map[string]*raft.Node) string {
	t.Helper()
	wrapped := map[string]*testNode{}
	for id, n := range nodes {
		wrapped[id] = &testNode{node: n}
	}
	return waitLeader(t, wrapped)
}

func TestMetricsFollowCluster(t *testing.T) {
	rec := newRecorder()
	_, nodes := startMeteredCluster(t, rec)
	leader := waitLeaderNode(t, nodes)
	var follower string
	for id := range nodes {
		if id != leader {
			follower = id
			break
		}
	}
	require.Empty(t, rec.errors(), "handle creation")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const proposals = 50
	for i := range proposals {
		_, err := nodes[leader].Propose(ctx, statemachine.EncodePut(fmt.Sprintf("k%d", i), []byte("v")))
		require.NoError(t, err)
	}
	_, err := nodes[follower].Propose(ctx, statemachine.EncodePut("x", nil))
	require.ErrorIs(t, err, raft.ErrNotApplied, "propose on a follower")
	_, _, err = nodes[leader].Read(ctx, statemachine.EncodeGet("k1"))
	require.NoError(t, err)
	_, _, err = nodes[follower].Read(ctx, statemachine.EncodeGet("k1"))
	require.ErrorIs(t, err, raft.ErrNotLeader, "linearizable read on a follower")
	_, _, err = nodes[follower].ReadStale(ctx, statemachine.EncodeGet("k1"))
	require.NoError(t, err)

	t.Run("elections", func(t *testing.T) {
		assert.GreaterOrEqual(t, rec.value(t, "natsraft_elections_total", leader), 1.0)
		assert.GreaterOrEqual(t, rec.value(t, "natsraft_pre_vote_polls_total", leader), 1.0, "pre-vote is on by default")
		for id := range nodes {
			assert.GreaterOrEqual(t, rec.value(t, "natsraft_leader_changes_total", id), 1.0, "leader changes on %s", id)
		}
	})

	t.Run("proposals", func(t *testing.T) {
		assert.Equal(t, float64(proposals), rec.value(t, "natsraft_proposals_total", leader))
		count, _ := rec.observations(t, "natsraft_proposal_duration_seconds", leader)
		assert.Equal(t, proposals, count, "latency observations on the leader")
		assert.Zero(t, rec.value(t, "natsraft_proposals_failed_total", leader, "not_applied"))
		assert.Equal(t, 1.0, rec.value(t, "natsraft_proposals_total", follower))
		assert.Equal(t, 1.0, rec.value(t, "natsraft_proposals_failed_total", follower, "not_applied"))
		assert.Zero(t, rec.value(t, "natsraft_proposals_failed_total", follower, "outcome_unknown"))
	})

	t.Run("reads", func(t *testing.T) {
		assert.Equal(t, 1.0, rec.value(t, "natsraft_reads_total", leader, "linearizable"))
		assert.Zero(t, rec.value(t, "natsraft_reads_failed_total", leader, "linearizable"))
		count, _ := rec.observations(t, "natsraft_read_duration_seconds", leader, "linearizable")
		assert.Equal(t, 1, count, "read latency observations on the leader")
		assert.Equal(t, 1.0, rec.value(t, "natsraft_reads_failed_total", follower, "linearizable"))
		assert.Equal(t, 1.0, rec.value(t, "natsraft_reads_total", follower, "stale"))
		assert.Zero(t, rec.value(t, "natsraft_reads_failed_total", follower, "stale"))
	})

	want := nodes[leader].Status().CommitIndex
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if n.Status().AppliedIndex < want {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "nodes did not apply through %d", want)

	t.Run("gauges", func(t *testing.T) {
		for id, n := range nodes {
			st := n.Status()
			// The loop sets the gauges after the status, so they may lag
			// by one iteration.
			commit, applied := rec.handle(t, "natsraft_commit_index", id), rec.handle(t, "natsraft_applied_index", id)
			last, term := rec.handle(t, "natsraft_last_index", id), rec.handle(t, "natsraft_term", id)
			assert.Eventually(t, func() bool {
				return commit.current() == float64(st.CommitIndex) && applied.current() == float64(st.AppliedIndex) &&
					last.current() == float64(st.LastIndex) && term.current() == float64(st.Term)
			}, 5*time.Second, 10*time.Millisecond, "index and term gauges on %s", id)
			assert.Equal(t, float64(st.CommitIndex), rec.value(t, "natsraft_commit_index", id), "commit index on %s", id)
			assert.Equal(t, float64(st.AppliedIndex), rec.value(t, "natsraft_applied_index", id), "applied index on %s", id)
			assert.Equal(t, float64(st.LastIndex), rec.value(t, "natsraft_last_index", id), "last index on %s", id)
			assert.Equal(t, float64(st.Term), rec.value(t, "natsraft_term", id), "term on %s", id)
			assert.Zero(t, rec.value(t, "natsraft_unapplied_entries", id), "unapplied entries on %s", id)
			assert.Zero(t, rec.value(t, "natsraft_unapplied_bytes", id), "unapplied bytes on %s", id)
			assert.Zero(t, rec.value(t, "natsraft_proposals_queued", id), "queued proposals on %s", id)
			for _, role := range []raft.Role{raft.RoleFollower, raft.RolePreCandidate, raft.RoleCandidate, raft.RoleLeader} {
				want := 0.0
				if role == st.Role {
					want = 1
				}
				assert.Equal(t, want, rec.value(t, "natsraft_role", id, role.String()), "role %v gauge on %s", role, id)
			}
		}
	})

	t.Run("storage", func(t *testing.T) {
		for id, n := range nodes {
			st := n.Status()
			assert.GreaterOrEqual(t, rec.value(t, "natsraft_log_writes_total", id), 1.0, "log writes on %s", id)
			count, entries := rec.observations(t, "natsraft_log_write_entries", id)
			assert.Equal(t, float64(count), rec.value(t, "natsraft_log_writes_total", id), "one entries observation per write on %s", id)
			assert.GreaterOrEqual(t, entries, float64(st.LastIndex), "entries written on %s", id)
			writes, _ := rec.observations(t, "natsraft_log_write_duration_seconds", id)
			assert.Equal(t, count, writes, "one duration observation per write on %s", id)
			// Every node started empty, so its apply batches add up to
			// its applied index.
			batches, applied := rec.observations(t, "natsraft_apply_batch_entries", id)
			assert.Equal(t, float64(st.AppliedIndex), applied, "entries applied on %s", id)
			durations, _ := rec.observations(t, "natsraft_apply_duration_seconds", id)
			assert.Equal(t, batches, durations, "one duration observation per apply batch on %s", id)
		}
	})

	t.Run("messages", func(t *testing.T) {
		appendReq, appendResp := wire.KindAppendEntriesRequest.String(), wire.KindAppendEntriesResponse.String()
		assert.Positive(t, rec.value(t, "natsraft_messages_sent_total", leader, appendReq), "appends sent by the leader")
		assert.Positive(t, rec.value(t, "natsraft_messages_received_total", leader, appendResp), "append responses received by the leader")
		assert.Positive(t, rec.value(t, "natsraft_messages_sent_total", leader, wire.KindVoteRequest.String()), "vote requests sent by the leader")
		for id := range nodes {
			assert.Zero(t, rec.value(t, "natsraft_message_send_failures_total", id, appendReq), "send failures on %s", id)
			assert.Zero(t, rec.value(t, "natsraft_replication_dropped_total", id, peerOtherThan(id)), "dropped appends on %s", id)
			if id == leader {
				continue
			}
			assert.Positive(t, rec.value(t, "natsraft_messages_received_total", id, appendReq), "appends received by %s", id)
			assert.Positive(t, rec.value(t, "natsraft_messages_sent_total", id, appendResp), "append responses sent by %s", id)
		}
	})
	assert.Empty(t, rec.errors(), "handle creation")
}

// peerOtherThan returns a member of the cluster a, b, c other than id.
func peerOtherThan(id string) string {
	if id == "a" {
		return "b"
	}
	return "a"
}

func TestMetricsCountOutcomeUnknown(t *testing.T) {
	rec := newRecorder()
	net, nodes := startMeteredCluster(t, rec)
	leader := waitLeaderNode(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := nodes[leader].Propose(ctx, statemachine.EncodePut("k", []byte("v")))
	require.NoError(t, err)

	// Cut the leader off: the next proposal is appended but cannot commit.
	net.mu.Lock()
	net.down[leader] = true
	net.mu.Unlock()
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	_, err = nodes[leader].Propose(short, statemachine.EncodePut("k", []byte("lost")))
	require.ErrorIs(t, err, raft.ErrOutcomeUnknown, "proposal on an isolated leader")

	assert.Equal(t, 2.0, rec.value(t, "natsraft_proposals_total", leader))
	assert.Equal(t, 1.0, rec.value(t, "natsraft_proposals_failed_total", leader, "outcome_unknown"))
	assert.Zero(t, rec.value(t, "natsraft_proposals_failed_total", leader, "not_applied"))
	count, _ := rec.observations(t, "natsraft_proposal_duration_seconds", leader)
	assert.Equal(t, 1, count, "only the successful proposal has a latency")
	assert.Empty(t, rec.errors(), "handle creation")
}

func TestMetricDescsDocumented(t *testing.T) {
	metricsSource, err := os.ReadFile("metrics.go")
	require.NoError(t, err)
	docs, err := os.ReadFile("../docs/metrics.md")
	require.NoError(t, err)
	namePattern := regexp.MustCompile(`^natsraft_[a-z][a-z0-9_]*[a-z]$`)
	seen := map[string]bool{}
	for _, d := range raft.MetricDescs() {
		assert.False(t, seen[d.Name], "%s is described twice", d.Name)
		seen[d.Name] = true
		assert.Regexp(t, namePattern, d.Name)
		assert.NotEmpty(t, d.Help, "help of %s", d.Name)
		assert.Equal(t, []string{"cluster", "node"}, d.Labels[:2], "first labels of %s", d.Name)
		assert.Equal(t, d.Type == raft.MetricCounter, strings.HasSuffix(d.Name, "_total"), "%s is a %v: only counters end in _total", d.Name, d.Type)
		if d.Type == raft.MetricHistogram {
			assert.NotEmpty(t, d.Buckets, "buckets of %s", d.Name)
			assert.True(t, slices.IsSorted(d.Buckets), "buckets of %s are not ascending", d.Name)
		} else {
			assert.Empty(t, d.Buckets, "buckets of %s", d.Name)
		}
		assert.Contains(t, string(metricsSource), "//\t"+d.Name, "the Metrics interface comment lists %s", d.Name)
		assert.Contains(t, string(docs), "`"+d.Name+"`", "docs/metrics.md lists %s", d.Name)
	}
}
