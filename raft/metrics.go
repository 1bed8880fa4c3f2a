package raft

import (
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/natsraft/natsraft/raft/wire"
)

// Metrics creates the handles through which a node reports its metrics.
// Any monitoring system can implement it, and the package
// metrics/prometheus implements it on a Prometheus registry. Set
// Config.Metrics to use one.
//
// NewNode calls these methods once per metric and label set and never
// afterwards, so an implementation may lock and allocate in them. The
// handles are then updated from several goroutines, so they must be safe
// for concurrent use, and cheap: the node updates some of them for every
// proposal and every message. One Metrics may serve several nodes, because
// every handle's first two label values are the cluster id and the node id.
//
// The metrics, with their extra labels (MetricDescs returns them all with
// their help text and histogram buckets):
//
//	natsraft_role{role}                          gauge: 1 for the current role, 0 for the others
//	natsraft_term                                gauge: current term
//	natsraft_leader_changes_total                counter: times this node learned of a new leader
//	natsraft_elections_total                     counter: elections this node started as candidate
//	natsraft_pre_vote_polls_total                counter: pre-vote polls this node sent to its peers
//	natsraft_last_index                          gauge: index of the last log entry
//	natsraft_commit_index                        gauge: commit index
//	natsraft_applied_index                       gauge: index of the last entry applied
//	natsraft_unapplied_entries                   gauge: last index minus applied index
//	natsraft_unapplied_bytes                     gauge: command bytes appended as leader, not yet applied
//	natsraft_proposals_queued                    gauge: proposals waiting for the node loop
//	natsraft_proposals_total                     counter: calls to Propose
//	natsraft_proposals_failed_total{class}       counter: failed proposals, class not_applied or outcome_unknown
//	natsraft_proposal_duration_seconds           histogram: Propose call to successful return
//	natsraft_reads_total{mode}                   counter: calls to Read (linearizable) and ReadStale (stale)
//	natsraft_reads_failed_total{mode}            counter: reads that returned an error
//	natsraft_read_duration_seconds{mode}         histogram: read call to successful return
//	natsraft_log_writes_total                    counter: batches written to the log and stable stores
//	natsraft_log_write_duration_seconds          histogram: time to write one batch
//	natsraft_log_write_entries                   histogram: entries written per batch
//	natsraft_apply_duration_seconds              histogram: time to apply one batch of committed entries
//	natsraft_apply_batch_entries                 histogram: entries per applied batch
//	natsraft_messages_sent_total{kind}           counter: peer messages handed to the transport
//	natsraft_message_send_failures_total{kind}   counter: peer messages the transport failed to take
//	natsraft_messages_received_total{kind}       counter: peer messages the transport delivered to the node
//	natsraft_replication_dropped_total{peer}     counter: AppendEntries dropped on a full replication queue
type Metrics interface {
	// Counter returns the counter desc describes, with one label value per
	// name in desc.Labels.
	Counter(desc MetricDesc, labelValues ...string) Counter
	// Gauge returns the gauge desc describes, with one label value per name
	// in desc.Labels.
	Gauge(desc MetricDesc, labelValues ...string) Gauge
	// Histogram returns the histogram desc describes, with one label value
	// per name in desc.Labels.
	Histogram(desc MetricDesc, labelValues ...string) Histogram
}

// Counter is a value that only goes up.
type Counter interface {
	// Add adds delta, which is never negative.
	Add(delta float64)
}

// Gauge is a value that goes up and down.
type Gauge interface {
	Set(value float64)
}

// Histogram is a distribution of observed values.
type Histogram interface {
	Observe(value float64)
}

// MetricType is the kind of a metric: counter, gauge or histogram.
type MetricType uint8

// Metric types.
const (
	MetricCounter MetricType = iota + 1
	MetricGauge
	MetricHistogram
)

func (t MetricType) String() string {
	switch t {
	case MetricCounter:
		return "counter"
	case MetricGauge:
		return "gauge"
	case MetricHistogram:
		return "histogram"
	}
	return "MetricType(" + strconv.Itoa(int(t)) + ")"
}

// MetricDesc describes one metric.
type MetricDesc struct {
	// Name is the metric's name in Prometheus style: the unit is its
	// suffix, and a counter's name ends in "_total".
	Name string
	// Help is a one-sentence description.
	Help string
	Type MetricType
	// Labels are the label names, "cluster" and "node" first. A handle is
	// created with one value per name, in this order.
	Labels []string
	// Buckets are the suggested upper bounds of a histogram's buckets, in
	// the metric's unit. They are nil for counters and gauges.
	Buckets []float64
}

// readMode is the mode label of the read metrics.
type readMode uint8

const (
	readLinearizable readMode = iota // Read
	readStale                        // ReadStale
	readModes                        // number of modes
)

// String returns the mode's label value.
func (m readMode) String() string {
	if m == readStale {
		return "stale"
	}
	return "linearizable"
}

// Label values of the other metrics with extra labels.
const (
	proposalClassNotApplied     = "not_applied"
	proposalClassOutcomeUnknown = "outcome_unknown"

	// broadcastPeerLabel is the peer label of the broadcast replication
	// stream; "all" is reserved, so no node has it as id.
	broadcastPeerLabel = "all"
)

// MetricDescs returns the description of every metric a node reports, in a
// new slice.
func MetricDescs() []MetricDesc {
	labels := func(extra ...string) []string {
		return append([]string{"cluster", "node"}, extra...)
	}
	// Latencies from 100µs to 10s, and batch sizes from 1 to 4096 entries.
	seconds := []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	entries := []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}
	counter := func(name, help string, extra ...string) MetricDesc {
		return MetricDesc{Name: name, Help: help, Type: MetricCounter, Labels: labels(extra...)}
	}
	gauge := func(name, help string, extra ...string) MetricDesc {
		return MetricDesc{Name: name, Help: help, Type: MetricGauge, Labels: labels(extra...)}
	}
	histogram := func(name, help string, buckets []float64, extra ...string) MetricDesc {
		return MetricDesc{Name: name, Help: help, Type: MetricHistogram, Labels: labels(extra...), Buckets: slices.Clone(buckets)}
	}
	return []MetricDesc{
		gauge("natsraft_role", "1 for the node's current role, 0 for the other roles.", "role"),
		gauge("natsraft_term", "Current term of the node."),
		counter("natsraft_leader_changes_total", "Times the node learned of a new leader, itself included."),
		counter("natsraft_elections_total", "Elections the node started as candidate, raising its term and voting for itself."),
		counter("natsraft_pre_vote_polls_total", "Pre-vote polls the node sent to its peers."),
		gauge("natsraft_last_index", "Index of the last entry in the node's log."),
		gauge("natsraft_commit_index", "Highest log index the node knows to be committed."),
		gauge("natsraft_applied_index", "Index of the last entry applied to the state machine."),
		gauge("natsraft_unapplied_entries", "Log entries not yet applied: last index minus applied index."),
		gauge("natsraft_unapplied_bytes", "Command bytes of proposals the node appended as leader and has not applied yet."),
		gauge("natsraft_proposals_queued", "Proposals waiting for the node loop to append them."),
		counter("natsraft_proposals_total", "Calls to Propose."),
		counter("natsraft_proposals_failed_total", "Proposals that returned an error, by class: not_applied (certainly not applied) or outcome_unknown (may be applied).", "class"),
		histogram("natsraft_proposal_duration_seconds", "Time from a call to Propose to its successful return.", seconds),
		counter("natsraft_reads_total", "Calls to Read (mode linearizable) and ReadStale (mode stale).", "mode"),
		counter("natsraft_reads_failed_total", "Reads that returned an error.", "mode"),
		histogram("natsraft_read_duration_seconds", "Time from a call to Read or ReadStale to its successful return.", seconds, "mode"),
		counter("natsraft_log_writes_total", "Batches the log writer wrote to the log and stable stores."),
		histogram("natsraft_log_write_duration_seconds", "Time to write one batch to the log and stable stores, sync included.", seconds),
		histogram("natsraft_log_write_entries", "Log entries written per batch.", entries),
		histogram("natsraft_apply_duration_seconds", "Time to apply one batch of committed entries and resolve its proposals.", seconds),
		histogram("natsraft_apply_batch_entries", "Committed entries per batch passed to the state machine.", entries),
		counter("natsraft_messages_sent_total", "Peer messages handed to the transport, by message kind. A broadcast counts once.", "kind"),
		counter("natsraft_message_send_failures_total", "Peer messages the transport failed to take, by message kind.", "kind"),
		counter("natsraft_messages_received_total", "Peer messages the transport delivered to the node, by message kind.", "kind"),
		counter("natsraft_replication_dropped_total", "AppendEntries dropped because the replication queue to a peer was full. The peer \"all\" is the broadcast stream.", "peer"),
	}
}

// nodeMetrics holds a node's metric handles, resolved once by NewNode. A
// nil *nodeMetrics, used when Config.Metrics is nil, makes every method a
// no-op, so the runtime calls them without checking.
type nodeMetrics struct {
	id string

	roles                                    [RoleLeader + 1]Gauge
	term                                     Gauge
	leaderChanges, elections, preVotePolls   Counter
	lastIndex, commitIndex, appliedIndex     Gauge
	unappliedEntries, unappliedBytes, queued Gauge

	proposals, proposalsNotApplied, proposalsOutcomeUnknown Counter
	proposalSeconds                                         Histogram

	reads, readsFailed [readModes]Counter
	readSeconds        [readModes]Histogram

	logWrites                        Counter
	logWriteSeconds, logWriteEntries Histogram
	applySeconds, applyEntries       Histogram

	// sent, sendFailures and received are indexed by wire.Kind; entries of
	// kinds that are not peer messages are nil.
	sent, sendFailures, received []Counter
	// dropped is by stream key: a peer id, or BroadcastTo.
	dropped map[string]Counter

	// Only the node loop uses the fields below.
	role         Role   // role the role gauges show
	electionTerm uint64 // term of the last election counted
}

// newNodeMetrics resolves every handle of the node id in cluster, whose
// replication streams go to peers (BroadcastTo included when broadcasting
// is on). It returns nil when m is nil.
func newNodeMetrics(m Metrics, cluster, id string, peers []string, st InitialState) *nodeMetrics {
	if m == nil {
		return nil
	}
	descs := make(map[string]MetricDesc)
	for _, d := range MetricDescs() {
		descs[d.Name] = d
	}
	values := func(extra ...string) []string { return append([]string{cluster, id}, extra...) }
	counter := func(name string, extra ...string) Counter { return m.Counter(descs[name], values(extra...)...) }
	gauge := func(name string, extra ...string) Gauge { return m.Gauge(descs[name], values(extra...)...) }
	histogram := func(name string, extra ...string) Histogram { return m.Histogram(descs[name], values(extra...)...) }

	nm := &nodeMetrics{
		id:                      id,
		term:                    gauge("natsraft_term"),
		leaderChanges:           counter("natsraft_leader_changes_total"),
		elections:               counter("natsraft_elections_total"),
		preVotePolls:            counter("natsraft_pre_vote_polls_total"),
		lastIndex:               gauge("natsraft_last_index"),
		commitIndex:             gauge("natsraft_commit_index"),
		appliedIndex:            gauge("natsraft_applied_index"),
		unappliedEntries:        gauge("natsraft_unapplied_entries"),
		unappliedBytes:          gauge("natsraft_unapplied_bytes"),
		queued:                  gauge("natsraft_proposals_queued"),
		proposals:               counter("natsraft_proposals_total"),
		proposalsNotApplied:     counter("natsraft_proposals_failed_total", proposalClassNotApplied),
		proposalsOutcomeUnknown: counter("natsraft_proposals_failed_total", proposalClassOutcomeUnknown),
		proposalSeconds:         histogram("natsraft_proposal_duration_seconds"),
		logWrites:               counter("natsraft_log_writes_total"),
		logWriteSeconds:         histogram("natsraft_log_write_duration_seconds"),
		logWriteEntries:         histogram("natsraft_log_write_entries"),
		applySeconds:            histogram("natsraft_apply_duration_seconds"),
		applyEntries:            histogram("natsraft_apply_batch_entries"),
		dropped:                 make(map[string]Counter),
		role:                    RoleFollower,
		electionTerm:            st.HardState.Term,
	}
	// A node starts as follower. Every role gauge is set, because a node
	// restarted in the same process may get the handles of its previous run.
	for r := range nm.roles {
		nm.roles[r] = gauge("natsraft_role", Role(r).String())
		nm.roles[r].Set(0)
	}
	nm.roles[RoleFollower].Set(1)
	for mode := range readModes {
		nm.reads[mode] = counter("natsraft_reads_total", mode.String())
		nm.readsFailed[mode] = counter("natsraft_reads_failed_total", mode.String())
		nm.readSeconds[mode] = histogram("natsraft_read_duration_seconds", mode.String())
	}
	lastKind := wire.Kind(0)
	for wire.NewMessage(lastKind+1) != nil {
		lastKind++
	}
	nm.sent = make([]Counter, lastKind+1)
	nm.sendFailures = make([]Counter, lastKind+1)
	nm.received = make([]Counter, lastKind+1)
	for k := wire.Kind(1); k <= lastKind; k++ {
		if _, ok := wire.PeerSubject(k); !ok {
			continue
		}
		nm.sent[k] = counter("natsraft_messages_sent_total", k.String())
		nm.sendFailures[k] = counter("natsraft_message_send_failures_total", k.String())
		nm.received[k] = counter("natsraft_messages_received_total", k.String())
	}
	for _, p := range peers {
		label := p
		if p == BroadcastTo {
			label = broadcastPeerLabel
		}
		nm.dropped[p] = counter("natsraft_replication_dropped_total", label)
	}
	return nm
}

// now returns the current time, or the zero time when metrics are off, so
// that an unmeasured path never reads the clock.
func (m *nodeMetrics) now() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}

// observeReady counts the elections, pre-vote polls and leader changes in
// rd. The node loop calls it with the core's role at the time it took rd.
func (m *nodeMetrics) observeReady(rd *Ready, role Role) {
	if m == nil {
		return
	}
	// A node votes for itself only when it campaigns as candidate, and
	// does so once per term.
	if hs := rd.HardState; hs != nil && hs.Vote == m.id && hs.Term > m.electionTerm {
		m.electionTerm = hs.Term
		m.elections.Add(1)
	}
	// A poll starts on a tick, and each tick gets a Ready of its own, so a
	// Ready holds the requests of at most one poll. Only a pre-candidate
	// sends pre-vote requests.
	if role == RolePreCandidate {
		for _, env := range rd.Messages {
			if v, ok := env.Msg.(*wire.VoteRequest); ok && v.PreVote {
				m.preVotePolls.Add(1)
				break
			}
		}
	}
	for _, e := range rd.Events {
		if e.Type == EventLeaderChanged && e.Leader != "" {
			m.leaderChanges.Add(1)
		}
	}
}

// observeLoop sets the gauges from the node's current state. It runs on the
// node loop after each iteration, and in NewNode before the loop starts.
func (m *nodeMetrics) observeLoop(n *Node) {
	if m == nil {
		return
	}
	c := n.core
	if role := c.Role(); role != m.role {
		m.roles[m.role].Set(0)
		m.roles[role].Set(1)
		m.role = role
	}
	m.term.Set(float64(c.Term()))
	last, applied := c.LastIndex(), n.applier.applied.Load()
	m.lastIndex.Set(float64(last))
	m.commitIndex.Set(float64(c.CommitIndex()))
	m.appliedIndex.Set(float64(applied))
	// min keeps the subtraction from wrapping if applied ever passed last.
	m.unappliedEntries.Set(float64(last - min(applied, last)))
	n.backlog.release()
	m.unappliedBytes.Set(float64(n.backlog.bytes))
	m.queued.Set(float64(n.proposals.len()))
}

// proposalStarted counts a call to Propose and returns its start time.
func (m *nodeMetrics) proposalStarted() time.Time {
	if m == nil {
		return time.Time{}
	}
	m.proposals.Add(1)
	return time.Now()
}

// proposalDone records the outcome of a Propose call that began at start.
func (m *nodeMetrics) proposalDone(start time.Time, err error) {
	if m == nil {
		return
	}
	switch {
	case err == nil:
		m.proposalSeconds.Observe(time.Since(start).Seconds())
	case errors.Is(err, ErrNotApplied):
		m.proposalsNotApplied.Add(1)
	default:
		// Every error that does not promise the command was not applied
		// leaves the caller with an unknown outcome.
		m.proposalsOutcomeUnknown.Add(1)
	}
}

// readStarted counts a read in mode and returns its start time.
func (m *nodeMetrics) readStarted(mode readMode) time.Time {
	if m == nil {
		return time.Time{}
	}
	m.reads[mode].Add(1)
	return time.Now()
}

// readDone records the outcome of a read in mode that began at start.
func (m *nodeMetrics) readDone(mode readMode, start time.Time, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.readsFailed[mode].Add(1)
		return
	}
	m.readSeconds[mode].Observe(time.Since(start).Seconds())
}

// logWritten records a log writer batch whose store writes began at start.
// A batch that carried only messages wrote nothing and is not counted.
func (m *nodeMetrics) logWritten(start time.Time, batch []writeJob) {
	if m == nil {
		return
	}
	entries, wrote := 0, false
	for i := range batch {
		j := &batch[i]
		entries += len(j.entries)
		wrote = wrote || j.hardState != nil || j.truncateFrom != 0 || len(j.entries) > 0
	}
	if !wrote {
		return
	}
	m.logWrites.Add(1)
	m.logWriteSeconds.Observe(time.Since(start).Seconds())
	m.logWriteEntries.Observe(float64(entries))
}

// applied records a batch of entries applied, which began at start.
func (m *nodeMetrics) applied(start time.Time, entries int) {
	if m == nil {
		return
	}
	m.applySeconds.Observe(time.Since(start).Seconds())
	m.applyEntries.Observe(float64(entries))
}

// messageSent records a Send or Broadcast of a message of kind k that
// returned err.
func (m *nodeMetrics) messageSent(k wire.Kind, err error) {
	if m == nil || int(k) >= len(m.sent) || m.sent[k] == nil {
		return
	}
	if err != nil {
		m.sendFailures[k].Add(1)
		return
	}
	m.sent[k].Add(1)
}

// messageReceived records a message of kind k handed to the node loop.
func (m *nodeMetrics) messageReceived(k wire.Kind) {
	if m == nil || int(k) >= len(m.received) || m.received[k] == nil {
		return
	}
	m.received[k].Add(1)
}

// droppedCounter returns the counter of envelopes dropped on the
// replication stream to peer, or nil when metrics are off.
func (m *nodeMetrics) droppedCounter(peer string) Counter {
	if m == nil {
		return nil
	}
	return m.dropped[peer]
}
