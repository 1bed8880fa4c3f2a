package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestSummarizeValuesMedianAndRange(t *testing.T) {
	s := summarizeValues([]float64{3, 1, 2, 10})
	if s.n != 4 || s.median != 2.5 || s.min != 1 || s.max != 10 {
		t.Fatalf("summary of 3, 1, 2, 10 = %+v, want n 4, median 2.5, min 1, max 10", s)
	}
	if got := formatSummary(s); got != "2.50 (1.00–10.0)" {
		t.Errorf("formatSummary = %q, want %q", got, "2.50 (1.00–10.0)")
	}
	if got := formatSummary(summarizeValues(nil)); got != "failed" {
		t.Errorf("formatSummary of no runs = %q, want %q", got, "failed")
	}
}

func TestCellTellsSkippedFromFailed(t *testing.T) {
	p := &planResults{runs: map[string][]*runResult{"failed": {nil, nil}}}
	if got := p.cell("failed", opsPerSec); got != "failed" {
		t.Errorf("cell of a case whose runs failed = %q, want %q", got, "failed")
	}
	if got := p.cell("skipped", opsPerSec); got != "not run" {
		t.Errorf("cell of a case left out by --only = %q, want %q", got, "not run")
	}
}

func TestSameRunRatiosSkipFailedRuns(t *testing.T) {
	p := &planResults{runs: map[string][]*runResult{
		"ours": {{OpsPerSec: 300}, nil, {OpsPerSec: 200}},
		"peer": {{OpsPerSec: 100}, {OpsPerSec: 100}, {OpsPerSec: 100}},
	}}
	c := comparison{ours: "ours", peer: "peer", oursMetric: opsPerSec, peerMetric: opsPerSec}
	ratios := p.sameRunRatios(c)
	if len(ratios) != 2 || ratios[0] != 3 || ratios[1] != 2 {
		t.Fatalf("sameRunRatios = %v, want [3 2]", ratios)
	}
}

// runWorkerJSON runs the worker in process and parses its JSON line.
func runWorkerJSON(t *testing.T, args ...string) runResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(args, "--dir", t.TempDir())
	if err := runWorker(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("worker %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	var r runResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("worker output %q: %v", stdout.String(), err)
	}
	return r
}

func TestWorkerHashicorpInmem(t *testing.T) {
	r := runWorkerJSON(t, "--system", systemHashicorpInmem, "--clients", "4", "--duration", "500ms", "--warmup", "100ms", "--keys", "50")
	if r.Ops == 0 {
		t.Errorf("no write acknowledged: errors %d, sample %v", r.Errors, r.ErrorSample)
	}
	if r.DigestsMatch == nil || !*r.DigestsMatch {
		t.Errorf("digests_match = %v, want true", r.DigestsMatch)
	}
	if r.Nodes != 3 || r.Clients != 4 || r.Store != "inmem" {
		t.Errorf("nodes %d, clients %d, store %q; want 3, 4, inmem", r.Nodes, r.Clients, r.Store)
	}
}

func TestWorkerLimits(t *testing.T) {
	r := runWorkerJSON(t, "--system", systemLimits, "--duration", "300ms")
	if r.NATSRoundTripP50Ms <= 0 || r.NATSPublishPerSec <= 0 || r.FsyncP50Ms <= 0 {
		t.Errorf("limits not measured: round trip p50 %v ms, publish %v msgs/s, fsync p50 %v ms",
			r.NATSRoundTripP50Ms, r.NATSPublishPerSec, r.FsyncP50Ms)
	}
}

func TestWorkerRejectsUnknownSystem(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runWorker(t.Context(), []string{"--system", "etcd", "--dir", t.TempDir()}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `invalid --system "etcd"`) {
		t.Errorf("err = %v, want invalid --system", err)
	}
}
