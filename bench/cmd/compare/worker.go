package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

// Peer systems that the worker runs.
const (
	systemHashicorpBolt  = "hashicorp-boltdb"
	systemHashicorpInmem = "hashicorp-inmem"
	systemJetStream      = "jetstream"
	systemLimits         = "limits"
)

// runResult is one run's JSON object. Its fields are those that raftnode
// bench prints, so the harness parses both with one type. The limits run
// fills only the fields named after a limit.
type runResult struct {
	System       string   `json:"system"`
	OpsPerSec    float64  `json:"ops_per_sec"`
	Ops          uint64   `json:"ops"`
	P50Ms        float64  `json:"p50_ms"`
	P99Ms        float64  `json:"p99_ms"`
	MaxMs        float64  `json:"max_ms"`
	Errors       uint64   `json:"errors"`
	ErrorSample  []string `json:"error_sample,omitempty"`
	CPUSeconds   float64  `json:"cpu_seconds"`
	PeakRSSMiB   float64  `json:"peak_rss_mib"`
	Nodes        int      `json:"nodes"`
	Clients      int      `json:"clients"`
	DurationS    float64  `json:"duration_s"`
	WarmupS      float64  `json:"warmup_s"`
	Payload      int      `json:"payload"`
	Keys         int      `json:"keys"`
	Store        string   `json:"store"`
	Client       string   `json:"client"`
	GoVersion    string   `json:"go_version"`
	Nproc        int      `json:"nproc"`
	AppliedIndex uint64   `json:"applied_index,omitempty"`
	DigestsMatch *bool    `json:"digests_match,omitempty"`
	// EntriesPerAppend is the mean number of entries per log store write,
	// which raftnode bench reports.
	EntriesPerAppend float64 `json:"entries_per_append,omitempty"`

	// Limits of the machine, set by the limits run only.
	NATSRoundTripP50Ms float64 `json:"nats_rtt_p50_ms,omitempty"`
	NATSRoundTripP99Ms float64 `json:"nats_rtt_p99_ms,omitempty"`
	NATSPublishPerSec  float64 `json:"nats_publish_per_sec,omitempty"`
	FsyncP50Ms         float64 `json:"fsync_4k_p50_ms,omitempty"`
	FsyncP99Ms         float64 `json:"fsync_4k_p99_ms,omitempty"`
}

// workerOptions are the flags of "compare worker".
type workerOptions struct {
	system   string
	sync     string
	clients  int
	duration time.Duration
	warmup   time.Duration
	payload  int
	keys     int
	dir      string
}

func (o *workerOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.system, "system", "", "`system` to run: hashicorp-boltdb, hashicorp-inmem, jetstream or limits")
	fs.StringVar(&o.sync, "sync", "default", "JetStream `sync` setting: default (the server's periodic sync) or always (sync on every write)")
	fs.IntVar(&o.clients, "clients", 64, "`number` of concurrent clients")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "`duration` of the measured window")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "`duration` of load before the measured window")
	fs.IntVar(&o.payload, "payload", 128, "size of each written value in `bytes`")
	fs.IntVar(&o.keys, "keys", 100000, "`number` of distinct keys")
	fs.StringVar(&o.dir, "dir", os.TempDir(), "parent `directory` of the temporary store directories")
}

// runWorker runs one system in this process and prints its runResult as
// one JSON line on stdout.
func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &workerOptions{}
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.dir, "compare-"+o.system+"-")
	if err != nil {
		return fmt.Errorf("create a temporary directory in %s: %w", o.dir, err)
	}
	defer os.RemoveAll(dir)

	cfg := loadConfig{clients: o.clients, keys: o.keys, payload: o.payload, warmup: o.warmup, duration: o.duration}
	var res runResult
	switch o.system {
	case systemHashicorpBolt, systemHashicorpInmem:
		res, err = benchHashicorp(ctx, o.system, dir, cfg, stderr)
	case systemJetStream:
		if o.sync != "default" && o.sync != "always" {
			return fmt.Errorf("invalid --sync %q: use default or always", o.sync)
		}
		res, err = benchJetStream(ctx, o.sync == "always", dir, cfg, stderr)
	case systemLimits:
		res, err = measureLimits(ctx, dir, o.payload, o.duration)
	default:
		return fmt.Errorf("invalid --system %q: use %s, %s, %s or %s", o.system,
			systemHashicorpBolt, systemHashicorpInmem, systemJetStream, systemLimits)
	}
	if err != nil {
		return err
	}
	res.GoVersion = runtime.Version()
	res.Nproc = runtime.NumCPU()
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(out))
	return err
}

// newRunResult fills a result with the workload's shape and the load's
// figures.
func newRunResult(system, store, client string, nodes int, cfg loadConfig, load loadReport) runResult {
	h := load.latency
	return runResult{
		System:      system,
		OpsPerSec:   float64(h.total) / load.window.Seconds(),
		Ops:         h.total,
		P50Ms:       milliseconds(h.quantile(0.50)),
		P99Ms:       milliseconds(h.quantile(0.99)),
		MaxMs:       milliseconds(h.max),
		Errors:      load.errors,
		ErrorSample: load.errorSample,
		CPUSeconds:  load.cpu.Seconds(),
		PeakRSSMiB:  float64(load.peakRSS) / (1 << 20),
		Nodes:       nodes,
		Clients:     cfg.clients,
		DurationS:   cfg.duration.Seconds(),
		WarmupS:     cfg.warmup.Seconds(),
		Payload:     cfg.payload,
		Keys:        cfg.keys,
		Store:       store,
		Client:      client,
	}
}

func milliseconds(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
