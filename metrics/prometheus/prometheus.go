// Package natsraftprom reports the metrics of raft nodes to Prometheus.
// Metrics implements raft.Metrics on a prometheus.Registerer, and
// NewTransportCollector exports the counters of a NATS transport.
//
// The package raft itself does not import Prometheus: only this package
// does, so applications that use another monitoring system never link it.
package natsraftprom

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/natsraft/natsraft/raft"
)

// Metrics implements raft.Metrics on a Prometheus registerer. It creates
// one vector per metric name on first use, registers it and caches it, so
// one Metrics can serve every node of a process: the nodes' handles differ
// by their cluster and node labels. Its methods are safe for concurrent
// use.
//
// The raft.Metrics methods cannot return errors, so Err reports a failed
// registration, for example of a name that another collector already uses
// with other labels. The handle returned then still works, but its metric
// is not exported.
type Metrics struct {
	reg         prometheus.Registerer
	constLabels prometheus.Labels

	mu         sync.Mutex
	counters   map[string]*prometheus.CounterVec   // by name, guarded by mu
	gauges     map[string]*prometheus.GaugeVec     // by name, guarded by mu
	histograms map[string]*prometheus.HistogramVec // by name, guarded by mu
	errs       []error                             // guarded by mu
}

// New returns a Metrics that registers its vectors on reg, or on
// prometheus.DefaultRegisterer when reg is nil. Every metric carries
// constLabels (for example a region or an instance name) besides its own
// labels, which always include cluster and node.
func New(reg prometheus.Registerer, constLabels prometheus.Labels) *Metrics {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	return &Metrics{
		reg:         reg,
		constLabels: constLabels,
		counters:    make(map[string]*prometheus.CounterVec),
		gauges:      make(map[string]*prometheus.GaugeVec),
		histograms:  make(map[string]*prometheus.HistogramVec),
	}
}

// Counter returns the counter of desc with the given label values.
func (m *Metrics) Counter(desc raft.MetricDesc, labelValues ...string) raft.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	vec, ok := m.counters[desc.Name]
	if !ok {
		vec = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        desc.Name,
			Help:        desc.Help,
			ConstLabels: m.constLabels,
		}, desc.Labels)
		vec = register(m, desc.Name, vec)
		m.counters[desc.Name] = vec
	}
	c, err := vec.GetMetricWithLabelValues(labelValues...)
	if err != nil {
		m.errs = append(m.errs, fmt.Errorf("natsraftprom: counter %s: %w", desc.Name, err))
		return prometheus.NewCounter(prometheus.CounterOpts{Name: desc.Name, Help: desc.Help})
	}
	return c
}

// Gauge returns the gauge of desc with the given label values.
func (m *Metrics) Gauge(desc raft.MetricDesc, labelValues ...string) raft.Gauge {
	m.mu.Lock()
	defer m.mu.Unlock()
	vec, ok := m.gauges[desc.Name]
	if !ok {
		vec = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name:        desc.Name,
			Help:        desc.Help,
			ConstLabels: m.constLabels,
		}, desc.Labels)
		vec = register(m, desc.Name, vec)
		m.gauges[desc.Name] = vec
	}
	g, err := vec.GetMetricWithLabelValues(labelValues...)
	if err != nil {
		m.errs = append(m.errs, fmt.Errorf("natsraftprom: gauge %s: %w", desc.Name, err))
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: desc.Name, Help: desc.Help})
	}
	return g
}

// Histogram returns the histogram of desc with the given label values. Its
// buckets are desc.Buckets, or prometheus.DefBuckets when desc has none.
func (m *Metrics) Histogram(desc raft.MetricDesc, labelValues ...string) raft.Histogram {
	m.mu.Lock()
	defer m.mu.Unlock()
	vec, ok := m.histograms[desc.Name]
	if !ok {
		vec = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        desc.Name,
			Help:        desc.Help,
			ConstLabels: m.constLabels,
			Buckets:     desc.Buckets,
		}, desc.Labels)
		vec = register(m, desc.Name, vec)
		m.histograms[desc.Name] = vec
	}
	h, err := vec.GetMetricWithLabelValues(labelValues...)
	if err != nil {
		m.errs = append(m.errs, fmt.Errorf("natsraftprom: histogram %s: %w", desc.Name, err))
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: desc.Name, Help: desc.Help, Buckets: desc.Buckets})
	}
	return h
}

// Err returns the errors of the registrations and label lookups that
// failed, joined, or nil. Check it after NewNode.
func (m *Metrics) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.errs...)
}

// register registers vec on m's registerer and returns it, or returns the
// vector of the same description that is registered already, as when two
// Metrics with the same constant labels share a registry. The caller holds
// m.mu.
func register[V prometheus.Collector](m *Metrics, name string, vec V) V {
	err := m.reg.Register(vec)
	if err == nil {
		return vec
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(V); ok {
			return existing
		}
	}
	m.errs = append(m.errs, fmt.Errorf("natsraftprom: register %s: %w", name, err))
	return vec
}
