package main

import (
	"fmt"
	"slices"
	"strings"
)

// metric reads one figure from a run.
type metric struct {
	name string
	unit string
	get  func(*runResult) float64
}

var (
	opsPerSec = metric{"throughput", "ops/s", func(r *runResult) float64 { return r.OpsPerSec }}
	p50       = metric{"p50", "ms", func(r *runResult) float64 { return r.P50Ms }}
	p99       = metric{"p99", "ms", func(r *runResult) float64 { return r.P99Ms }}
	rttP50    = metric{"NATS round trip p50", "ms", func(r *runResult) float64 { return r.NATSRoundTripP50Ms }}
)

// comparison is one row of the comparison table: natsraft's case against a
// peer's, with the target for natsraft's figure divided by the peer's.
type comparison struct {
	title      string
	ours, peer string
	oursMetric metric
	peerMetric metric
	// target is the bound on the ratio. atLeast is true when the ratio must
	// be at least target (throughput), false when at most (latency).
	target  float64
	atLeast bool
}

func comparisons() []comparison {
	return []comparison{
		{"Durable, 256 clients: natsraft bolt (local) vs hashicorp/raft + raft-boltdb", "ours-bolt-local-256", "hashicorp-boltdb-256", opsPerSec, opsPerSec, 3, true},
		{"Durable, 256 clients: natsraft wal (local) vs hashicorp/raft + raft-boltdb", "ours-wal-local-256", "hashicorp-boltdb-256", opsPerSec, opsPerSec, 3, true},
		{"Durable, 256 clients: natsraft bolt (NATS client) vs JetStream sync always", "ours-bolt-nats-256", "jetstream-always-256", opsPerSec, opsPerSec, 3, true},
		{"Durable, 256 clients: natsraft wal (NATS client) vs JetStream sync always", "ours-wal-nats-256", "jetstream-always-256", opsPerSec, opsPerSec, 3, true},
		{"Durable, 256 clients: natsraft wal (NATS client, batching off) vs JetStream sync always", "ours-wal-nats-unbatched-256", "jetstream-always-256", opsPerSec, opsPerSec, 3, true},
		{"Memory, 256 clients: natsraft memory (local) vs hashicorp/raft in-memory", "ours-memory-local-256", "hashicorp-inmem-256", opsPerSec, opsPerSec, 1.5, true},
		{"Memory, 256 clients: natsraft memory (NATS client) vs JetStream default sync", "ours-memory-nats-256", "jetstream-default-256", opsPerSec, opsPerSec, 1, true},
		{"Memory, 256 clients: natsraft memory (NATS client, batching off) vs JetStream default sync", "ours-memory-nats-unbatched-256", "jetstream-default-256", opsPerSec, opsPerSec, 1, true},
		{"One client: natsraft memory (local) p50 vs one NATS round trip p50", "ours-memory-local-1", systemLimits, p50, rttP50, 2, false},
		{"One client: natsraft bolt (local) p50 vs hashicorp/raft + raft-boltdb p50", "ours-bolt-local-1", "hashicorp-boltdb-1", p50, p50, 0.6, false},
		{"One client: natsraft wal (local) p50 vs hashicorp/raft + raft-boltdb p50", "ours-wal-local-1", "hashicorp-boltdb-1", p50, p50, 0.6, false},
	}
}

// summary is the median and range of one figure over the repeats.
type summary struct {
	n                int
	median, min, max float64
}

func summarizeValues(values []float64) summary {
	if len(values) == 0 {
		return summary{}
	}
	s := slices.Clone(values)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{n: len(s), median: med, min: s[0], max: s[len(s)-1]}
}

func (p *planResults) values(id string, m metric) []float64 {
	var values []float64
	for _, r := range p.runs[id] {
		if r != nil {
			values = append(values, m.get(r))
		}
	}
	return values
}

// totalErrors returns the errors of all runs of case id.
func (p *planResults) totalErrors(id string) uint64 {
	var n uint64
	for _, r := range p.runs[id] {
		if r != nil {
			n += r.Errors
		}
	}
	return n
}

// sameRunRatios returns ours divided by peer for every repeat in which both
// runs succeeded.
func (p *planResults) sameRunRatios(c comparison) []float64 {
	var ratios []float64
	ours, peer := p.runs[c.ours], p.runs[c.peer]
	for i := range ours {
		if ours[i] != nil && peer[i] != nil && c.peerMetric.get(peer[i]) > 0 {
			ratios = append(ratios, c.oursMetric.get(ours[i])/c.peerMetric.get(peer[i]))
		}
	}
	return ratios
}

// formatNumber prints v with about three significant digits.
func formatNumber(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// cell formats case id's figure m over the repeats, or "not run" when
// --only left the case out.
func (p *planResults) cell(id string, m metric) string {
	if _, ok := p.runs[id]; !ok {
		return "not run"
	}
	return formatSummary(summarizeValues(p.values(id, m)))
}

// formatSummary prints "median (min–max)", or "failed" with no values.
func formatSummary(s summary) string {
	switch s.n {
	case 0:
		return "failed"
	case 1:
		return formatNumber(s.median)
	}
	return fmt.Sprintf("%s (%s–%s)", formatNumber(s.median), formatNumber(s.min), formatNumber(s.max))
}

func formatRatio(v float64) string { return fmt.Sprintf("%.2fx", v) }

// renderReport returns the markdown report.
func renderReport(o *compareOptions, m machineInfo, p *planResults) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: `nproc` %d, %s, %s of memory, Linux %s, %s. Load average (1, 5, 15 min) %s before the runs and %s after.\n\n",
		m.nproc, m.cpu, m.memory, m.kernel, m.goVersion, m.loadBefore, m.loadAfter)
	fmt.Fprintf(&b, "natsraft: %s. Peers: %s.\n\n", m.natsraft, strings.Join(m.modules, ", "))
	if o.oursFlags != "" {
		fmt.Fprintf(&b, "Every natsraft run had the extra flags `%s`.\n\n", o.oursFlags)
	}
	fmt.Fprintf(&b, "Each run: %s measured after %s of warm-up, %d-byte values, %d keys. The sequence of runs below ran %d time(s); "+
		"figures are medians over the repeats with (min–max).\n\n",
		o.duration, o.warmup, o.payload, o.keys, o.repeats)
	if o.settle > 0 {
		fmt.Fprintf(&b, "Before each run the file system's dirty data was flushed (sync) and the machine left idle for %s.\n\n", o.settle)
	}

	renderLimits(&b, p)
	renderComparisons(&b, p)
	renderTail(&b, p)
	renderScaling(&b, p)
	renderRuns(&b, p)
	if len(p.failures) > 0 {
		b.WriteString("Failed runs:\n\n")
		for _, f := range p.failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func renderLimits(b *strings.Builder, p *planResults) {
	b.WriteString("| Limit | Value |\n|---|---:|\n")
	rows := []struct {
		name string
		m    metric
	}{
		{"NATS request/reply round trip p50, one client, in process (ms)", rttP50},
		{"NATS request/reply round trip p99 (ms)", metric{get: func(r *runResult) float64 { return r.NATSRoundTripP99Ms }}},
		{"NATS core publish rate, one publisher, one subscriber (msgs/s)", metric{get: func(r *runResult) float64 { return r.NATSPublishPerSec }}},
		{"fsync of one 4 KiB write p50 (ms)", metric{get: func(r *runResult) float64 { return r.FsyncP50Ms }}},
		{"fsync of one 4 KiB write p99 (ms)", metric{get: func(r *runResult) float64 { return r.FsyncP99Ms }}},
	}
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s |\n", row.name, p.cell(systemLimits, row.m))
	}
	b.WriteString("\n")
}

func renderComparisons(b *strings.Builder, p *planResults) {
	b.WriteString("| Comparison | Metric | natsraft | Peer | Ratio of medians | Same-run ratios | Target | Met |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, c := range comparisons() {
		ours := summarizeValues(p.values(c.ours, c.oursMetric))
		peer := summarizeValues(p.values(c.peer, c.peerMetric))
		ratio, met := "n/a", "n/a"
		if ours.n > 0 && peer.n > 0 && peer.median > 0 {
			r := ours.median / peer.median
			ratio = formatRatio(r)
			met = "no"
			if (c.atLeast && r >= c.target) || (!c.atLeast && r <= c.target) {
				met = "yes"
			}
		}
		runs := summarizeValues(p.sameRunRatios(c))
		same := "n/a"
		if runs.n > 0 {
			same = fmt.Sprintf("%s–%s", formatRatio(runs.min), formatRatio(runs.max))
		}
		op := "≤"
		if c.atLeast {
			op = "≥"
		}
		fmt.Fprintf(b, "| %s | %s (%s) | %s | %s | %s | %s | %s %.1fx | %s |\n",
			c.title, c.oursMetric.name, c.oursMetric.unit, p.cell(c.ours, c.oursMetric), p.cell(c.peer, c.peerMetric),
			ratio, same, op, c.target, met)
	}
	b.WriteString("\n")
}

// maxTailRatio is the bound on p99 divided by p50 at 256 clients.
const maxTailRatio = 10

func renderTail(b *strings.Builder, p *planResults) {
	b.WriteString("| natsraft at 256 clients | p50 (ms) | p99 (ms) | p99/p50, worst repeat | Target | Met |\n")
	b.WriteString("|---|---:|---:|---:|---:|---|\n")
	for _, c := range p.cases {
		if !c.ours || c.clients != 256 {
			continue
		}
		worst, met := 0.0, "n/a"
		for _, r := range p.runs[c.id] {
			if r != nil && r.P50Ms > 0 {
				worst = max(worst, r.P99Ms/r.P50Ms)
				met = "yes"
			}
		}
		if worst > maxTailRatio {
			met = "no"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %.1f | ≤ %d | %s |\n", c.label,
			p.cell(c.id, p50),
			p.cell(c.id, p99), worst, maxTailRatio, met)
	}
	b.WriteString("\n")
}

func renderScaling(b *strings.Builder, p *planResults) {
	b.WriteString("| natsraft clients | memory, local: ops/s | p50 (ms) | p99 (ms) | bolt, local: ops/s | p50 (ms) | p99 (ms) | wal, local: ops/s | p50 (ms) | p99 (ms) |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, clients := range []int{1, 16, 64, 256} {
		fmt.Fprintf(b, "| %d", clients)
		for _, store := range []string{"memory", "bolt", "wal"} {
			id := fmt.Sprintf("ours-%s-local-%d", store, clients)
			for _, m := range []metric{opsPerSec, p50, p99} {
				fmt.Fprintf(b, " | %s", p.cell(id, m))
			}
		}
		b.WriteString(" |\n")
	}
	b.WriteString("\n")
}

func renderRuns(b *strings.Builder, p *planResults) {
	b.WriteString("| Run (in order) | Clients | ops/s | p50 (ms) | p99 (ms) | max (ms) | errors | CPU s | CPU µs/op | peak RSS (MiB) | entries/append |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	cpuPerOp := metric{get: func(r *runResult) float64 {
		if r.Ops == 0 {
			return 0
		}
		return r.CPUSeconds / float64(r.Ops) * 1e6
	}}
	entries := metric{get: func(r *runResult) float64 { return r.EntriesPerAppend }}
	maxMs := metric{get: func(r *runResult) float64 { return r.MaxMs }}
	cpu := metric{get: func(r *runResult) float64 { return r.CPUSeconds }}
	rss := metric{get: func(r *runResult) float64 { return r.PeakRSSMiB }}
	for _, c := range p.cases {
		if c.id == systemLimits {
			continue
		}
		fmt.Fprintf(b, "| %s | %d", c.label, c.clients)
		for _, m := range []metric{opsPerSec, p50, p99, maxMs} {
			fmt.Fprintf(b, " | %s", p.cell(c.id, m))
		}
		fmt.Fprintf(b, " | %d", p.totalErrors(c.id))
		for _, m := range []metric{cpu, cpuPerOp, rss} {
			fmt.Fprintf(b, " | %s", p.cell(c.id, m))
		}
		if c.ours {
			fmt.Fprintf(b, " | %s |\n", p.cell(c.id, entries))
		} else {
			b.WriteString(" | – |\n")
		}
	}
	b.WriteString("\n")
}
