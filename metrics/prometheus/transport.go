package natsraftprom

import (
	"github.com/prometheus/client_golang/prometheus"

	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// transportCollector exports the counters of one NATS transport, read once
// per scrape.
type transportCollector struct {
	stats func() natstransport.Stats

	sent, sendErrors, received, dropped *prometheus.Desc
}

// NewTransportCollector returns a collector of the counters that stats
// returns, usually the Stats method of the node's *natstransport.Transport:
//
//	natsraft_transport_messages_sent_total            messages handed to the NATS connection
//	natsraft_transport_send_errors_total              Send calls that failed
//	natsraft_transport_messages_received_total        messages passed to the node
//	natsraft_transport_messages_dropped_total{reason} received messages dropped, by reason
//
// The reasons are malformed, unknown_subject, wrong_cluster,
// wrong_recipient, unknown_sender and slow_consumer. Every metric carries
// the labels cluster and node, as the node's own metrics do, plus
// constLabels. The cluster and node are constant labels of the collector's
// descriptions, so the collectors of several transports can share one
// registry; register each once.
func NewTransportCollector(cluster, node string, stats func() natstransport.Stats, constLabels prometheus.Labels) prometheus.Collector {
	labels := prometheus.Labels{"cluster": cluster, "node": node}
	for k, v := range constLabels {
		labels[k] = v
	}
	return &transportCollector{
		stats: stats,
		sent: prometheus.NewDesc("natsraft_transport_messages_sent_total",
			"Peer messages the transport handed to the NATS connection.", nil, labels),
		sendErrors: prometheus.NewDesc("natsraft_transport_send_errors_total",
			"Send calls of the transport that failed.", nil, labels),
		received: prometheus.NewDesc("natsraft_transport_messages_received_total",
			"Peer messages the transport passed to the node.", nil, labels),
		dropped: prometheus.NewDesc("natsraft_transport_messages_dropped_total",
			"Received messages the transport dropped, by reason.", []string{"reason"}, labels),
	}
}

// Describe sends the descriptions of the transport's metrics.
func (c *transportCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sent
	ch <- c.sendErrors
	ch <- c.received
	ch <- c.dropped
}

// Collect reads the transport's counters and sends them as metrics.
func (c *transportCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	counter := func(desc *prometheus.Desc, v uint64, labelValues ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labelValues...)
	}
	counter(c.sent, s.Sent)
	counter(c.sendErrors, s.SendErrors)
	counter(c.received, s.Received)
	counter(c.dropped, s.DroppedMalformed, "malformed")
	counter(c.dropped, s.DroppedUnknownSubject, "unknown_subject")
	counter(c.dropped, s.DroppedWrongCluster, "wrong_cluster")
	counter(c.dropped, s.DroppedWrongRecipient, "wrong_recipient")
	counter(c.dropped, s.DroppedUnknownSender, "unknown_sender")
	counter(c.dropped, s.DroppedSlowConsumer, "slow_consumer")
}
