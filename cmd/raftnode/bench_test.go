package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runBenchCommand runs raftnode bench for one second with 4 clients and
// returns the parsed result.
func runBenchCommand(t *testing.T, extra ...string) benchResult {
	t.Helper()
	args := append([]string{"bench", "--duration", "1s", "--warmup", "200ms", "--clients", "4", "--keys", "50"}, extra...)
	r := runCommand(t.Context(), args...)
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)

	var res benchResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), "stdout:\n%s", r.stdout)
	return res
}

func TestBenchMemoryLocal(t *testing.T) {
	res := runBenchCommand(t)
	assert.True(t, res.DigestsMatch)
	assert.Equal(t, "natsraft", res.System)
	assert.Equal(t, "memory", res.Store)
	assert.Equal(t, "local", res.Client)
	assert.Equal(t, 3, res.Nodes)
	assert.Equal(t, 4, res.Clients)
	assert.Equal(t, 128, res.Payload)
	assert.Equal(t, 1.0, res.DurationS)
	assert.Positive(t, res.Ops)
	assert.InDelta(t, float64(res.Ops), res.OpsPerSec, 1e-6*float64(res.Ops), "ops_per_sec over a 1s window")
	assert.Zero(t, res.Errors, "error sample: %v", res.ErrorSample)
	assert.LessOrEqual(t, res.P50Ms, res.P99Ms)
	assert.LessOrEqual(t, res.P99Ms, res.MaxMs)
	// Every acknowledged write is an entry, after the leader's first entry.
	assert.Greater(t, res.AppliedIndex, res.Ops)
	assert.NotEmpty(t, res.GoVersion)
	assert.Positive(t, res.Nproc)
}

func TestBenchBoltNATSClient(t *testing.T) {
	dir := t.TempDir()
	res := runBenchCommand(t, "--store", "bolt", "--client", "nats", "--nodes", "5", "--dir", dir)
	assert.True(t, res.DigestsMatch)
	assert.Equal(t, "bolt", res.Store)
	assert.Equal(t, "nats", res.Client)
	assert.True(t, res.ClientBatching)
	assert.Equal(t, 5, res.Nodes)
	assert.Positive(t, res.Ops)
	assert.Zero(t, res.Errors, "error sample: %v", res.ErrorSample)

	// The temporary store directory is removed when the bench ends.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestBenchNATSClientWithoutBatching(t *testing.T) {
	res := runBenchCommand(t, "--client", "nats", "--no-client-batching")
	assert.True(t, res.DigestsMatch)
	assert.False(t, res.ClientBatching)
	assert.Positive(t, res.Ops)
	assert.Zero(t, res.Errors, "error sample: %v", res.ErrorSample)
}

func TestBenchWALStore(t *testing.T) {
	dir := t.TempDir()
	res := runBenchCommand(t, "--store", "wal", "--dir", dir)
	assert.True(t, res.DigestsMatch)
	assert.Equal(t, "wal", res.Store)
	assert.Positive(t, res.Ops)
	assert.Positive(t, res.StoreAppends)
	assert.Zero(t, res.Errors, "error sample: %v", res.ErrorSample)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestBenchWritesCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	runBenchCommand(t, "--cpuprofile", path)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Positive(t, info.Size())
}

func TestBenchRejectsInvalidFlags(t *testing.T) {
	tests := []struct {
		args  []string
		error string
	}{
		{[]string{"--store", "disk"}, `invalid --store "disk"`},
		{[]string{"--client", "http"}, `invalid --client "http"`},
		{[]string{"--clients", "0"}, "invalid --clients 0"},
		{[]string{"--nodes", "0"}, "invalid --nodes 0"},
		{[]string{"--duration", "0s"}, "invalid --duration 0s"},
		{[]string{"--keys", "0"}, "invalid --keys 0"},
		{[]string{"--no-client-batching"}, "--no-client-batching applies to --client nats only"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		t.Run(tt.error, func(t *testing.T) {
			r := runCommand(t.Context(), append([]string{"bench"}, tt.args...)...)
			assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stderr, tt.error)
		})
	}
}

func TestLatencyHistogramQuantiles(t *testing.T) {
	var h latencyHistogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	// Each quantile is reported at most 1/64 above the true value.
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.quantile(tc.q)
		assert.GreaterOrEqual(t, got, tc.want, "quantile %v", tc.q)
		assert.LessOrEqual(t, got, tc.want+tc.want/64, "quantile %v", tc.q)
	}
	assert.Equal(t, time.Millisecond, h.max)
	assert.Equal(t, uint64(1000), h.total)

	var merged latencyHistogram
	merged.merge(&h)
	merged.merge(&h)
	assert.Equal(t, uint64(2000), merged.total)
	assert.Equal(t, h.quantile(0.5), merged.quantile(0.5))
}

func TestHistogramBucketBounds(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 123456789, 1 << 40, 1<<63 + 12345} {
		i := histBucket(v)
		assert.LessOrEqual(t, v, histUpperBound(i), "value %d", v)
		if i > 0 {
			assert.Greater(t, v, histUpperBound(i-1), "value %d", v)
		}
	}
}
