package natsraftprom_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	natsraftprom "github.com/natsraft/natsraft/metrics/prometheus"
	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/storage/memory"
	natstransport "github.com/natsraft/natsraft/transport/nats"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

const cluster = "c1"

// startCluster starts three nodes on an embedded NATS server, all reporting
// to metrics, with their transports' collectors registered on reg. It
// stops everything when the test ends.
func startCluster(t *testing.T, reg *prometheus.Registry, metrics *natsraftprom.Metrics) map[string]*raft.Node {
	t.Helper()
	srv, err := embedded.Start(embedded.Options{Port: embedded.NoListener})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	peers := []string{"n1", "n2", "n3"}
	nodes := map[string]*raft.Node{}
	for _, id := range peers {
		nc, err := srv.Connect()
		require.NoError(t, err)
		tr, err := natstransport.New(nc, natstransport.Config{Cluster: cluster, Node: id, Peers: peers})
		require.NoError(t, err)
		require.NoError(t, reg.Register(natsraftprom.NewTransportCollector(cluster, id, tr.Stats, prometheus.Labels{"env": "test"})))
		store := memory.NewStore()
		node, err := raft.NewNode(raft.Config{
			ID:                id,
			Cluster:           cluster,
			Peers:             peers,
			ElectionTimeout:   400 * time.Millisecond,
			HeartbeatInterval: 50 * time.Millisecond,
			Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
			Metrics:           metrics,
		}, statemachine.NewKV(), store.Log, store.Stable, store.Snapshots, tr)
		require.NoError(t, err)
		nodes[id] = node
		t.Cleanup(func() {
			_ = node.Stop()
			nc.Close()
		})
	}
	return nodes
}

func waitLeader(t *testing.T, nodes map[string]*raft.Node) string {
	t.Helper()
	var leader string
	require.Eventually(t, func() bool {
		for id, n := range nodes {
			if n.IsLeader() {
				leader = id
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no leader elected")
	return leader
}

// sample returns the value of the series name whose labels include
// labels: a counter's total, a gauge's value or a histogram's observation
// count. The boolean is false when no such series exists or gathering
// failed.
func sample(reg prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	families, err := reg.Gather()
	if err != nil {
		return 0, false
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(want)
}

// value returns the series' value, failing the test when it does not exist.
func value(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	_, err := reg.Gather()
	require.NoError(t, err)
	v, ok := sample(reg, name, labels)
	require.True(t, ok, "no series %s%v", name, labels)
	return v
}

func nodeLabels(id string, extra ...string) map[string]string {
	labels := map[string]string{"cluster": cluster, "node": id, "env": "test"}
	for i := 0; i+1 < len(extra); i += 2 {
		labels[extra[i]] = extra[i+1]
	}
	return labels
}

func TestClusterMetricsOnRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := natsraftprom.New(reg, prometheus.Labels{"env": "test"})
	nodes := startCluster(t, reg, metrics)
	require.NoError(t, metrics.Err())
	leader := waitLeader(t, nodes)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const proposals = 30
	for i := range proposals {
		_, err := nodes[leader].Propose(ctx, statemachine.EncodePut(fmt.Sprintf("k%d", i), []byte("v")))
		require.NoError(t, err)
	}
	_, _, err := nodes[leader].Read(ctx, statemachine.EncodeGet("k1"))
	require.NoError(t, err)
	want := nodes[leader].Status().CommitIndex
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if n.Status().AppliedIndex < want {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "nodes did not apply through %d", want)

	assert.Equal(t, float64(proposals), value(t, reg, "natsraft_proposals_total", nodeLabels(leader)))
	assert.Equal(t, float64(proposals), value(t, reg, "natsraft_proposal_duration_seconds", nodeLabels(leader)), "latency observations")
	assert.Zero(t, value(t, reg, "natsraft_proposals_failed_total", nodeLabels(leader, "class", "not_applied")))
	assert.Equal(t, 1.0, value(t, reg, "natsraft_reads_total", nodeLabels(leader, "mode", "linearizable")))
	assert.Equal(t, 1.0, value(t, reg, "natsraft_role", nodeLabels(leader, "role", "leader")))
	assert.GreaterOrEqual(t, value(t, reg, "natsraft_elections_total", nodeLabels(leader)), 1.0)
	assert.Positive(t, value(t, reg, "natsraft_messages_sent_total", nodeLabels(leader, "kind", "AppendEntriesRequest")))
	assert.Positive(t, value(t, reg, "natsraft_transport_messages_sent_total", nodeLabels(leader)))
	assert.Zero(t, value(t, reg, "natsraft_transport_messages_dropped_total", nodeLabels(leader, "reason", "wrong_cluster")))

	for id, n := range nodes {
		st := n.Status()
		// The node loop sets the gauges right after the status it
		// publishes, so they may lag by one iteration.
		require.Eventually(t, func() bool {
			commit, _ := sample(reg, "natsraft_commit_index", nodeLabels(id))
			applied, _ := sample(reg, "natsraft_applied_index", nodeLabels(id))
			return commit == float64(st.CommitIndex) && applied == float64(st.AppliedIndex)
		}, 5*time.Second, 10*time.Millisecond, "index gauges of %s", id)
		assert.Equal(t, float64(st.CommitIndex), value(t, reg, "natsraft_commit_index", nodeLabels(id)), "commit index of %s", id)
		assert.Equal(t, float64(st.AppliedIndex), value(t, reg, "natsraft_applied_index", nodeLabels(id)), "applied index of %s", id)
		assert.Equal(t, float64(st.Term), value(t, reg, "natsraft_term", nodeLabels(id)), "term of %s", id)
		assert.Positive(t, value(t, reg, "natsraft_log_writes_total", nodeLabels(id)), "log writes of %s", id)
		assert.Positive(t, value(t, reg, "natsraft_apply_batch_entries", nodeLabels(id)), "apply batches of %s", id)
		assert.Positive(t, value(t, reg, "natsraft_transport_messages_received_total", nodeLabels(id)), "transport receptions of %s", id)
	}

	count, err := testutil.GatherAndCount(reg, "natsraft_role")
	require.NoError(t, err)
	assert.Equal(t, 4*len(nodes), count, "one role series per role and node")
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems, "metric naming problems")
	assert.NoError(t, metrics.Err())
}

func TestMetricsShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	desc := raft.MetricDesc{Name: "natsraft_proposals_total", Help: "Calls to Propose.", Type: raft.MetricCounter, Labels: []string{"cluster", "node"}}
	first := natsraftprom.New(reg, nil)
	second := natsraftprom.New(reg, nil)
	first.Counter(desc, cluster, "n1").Add(2)
	second.Counter(desc, cluster, "n1").Add(3)
	require.NoError(t, first.Err())
	require.NoError(t, second.Err())
	assert.Equal(t, 5.0, value(t, reg, "natsraft_proposals_total", map[string]string{"node": "n1"}),
		"two adapters with the same constant labels update one series")
}

func TestMetricsReportClash(t *testing.T) {
	reg := prometheus.NewRegistry()
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "natsraft_term", Help: "Another term gauge."})
	require.NoError(t, reg.Register(other))
	metrics := natsraftprom.New(reg, nil)
	desc := raft.MetricDesc{Name: "natsraft_term", Help: "Current term.", Type: raft.MetricGauge, Labels: []string{"cluster", "node"}}
	g := metrics.Gauge(desc, cluster, "n1")
	require.NotNil(t, g, "a handle is returned even when registration fails")
	g.Set(7)
	assert.ErrorContains(t, metrics.Err(), "natsraft_term")

	bad := natsraftprom.New(prometheus.NewRegistry(), nil)
	bad.Counter(raft.MetricDesc{Name: "natsraft_x_total", Help: "x", Type: raft.MetricCounter, Labels: []string{"cluster", "node"}}, cluster)
	assert.ErrorContains(t, bad.Err(), "natsraft_x_total", "a missing label value is reported")
}

func TestTransportCollectorReportsStats(t *testing.T) {
	stats := natstransport.Stats{Sent: 5, SendErrors: 1, Received: 4, DroppedMalformed: 2, DroppedSlowConsumer: 3}
	collector := natsraftprom.NewTransportCollector(cluster, "n1", func() natstransport.Stats { return stats }, nil)
	assert.Equal(t, 9, testutil.CollectAndCount(collector), "three totals and six drop reasons")
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(collector))
	require.NoError(t, reg.Register(natsraftprom.NewTransportCollector(cluster, "n2", func() natstransport.Stats { return stats }, nil)),
		"collectors of two transports share a registry")
	labels := map[string]string{"cluster": cluster, "node": "n1"}
	assert.Equal(t, 5.0, value(t, reg, "natsraft_transport_messages_sent_total", labels))
	assert.Equal(t, 1.0, value(t, reg, "natsraft_transport_send_errors_total", labels))
	assert.Equal(t, 4.0, value(t, reg, "natsraft_transport_messages_received_total", labels))
	labels["reason"] = "malformed"
	assert.Equal(t, 2.0, value(t, reg, "natsraft_transport_messages_dropped_total", labels))
	labels["reason"] = "slow_consumer"
	assert.Equal(t, 3.0, value(t, reg, "natsraft_transport_messages_dropped_total", labels))
}

var _ raft.Metrics = (*natsraftprom.Metrics)(nil)
