package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// Client kinds of --client.
const (
	clientLocal = "local"
	clientNATS  = "nats"
)

// Time limits of the phases around the measured load.
const (
	benchLeaderTimeout   = 30 * time.Second
	benchConvergeTimeout = time.Minute
)

// benchOptions are the flags of "raftnode bench".
type benchOptions struct {
	nodes      int
	clients    int
	duration   time.Duration
	warmup     time.Duration
	payload    int
	keys       int
	client     string
	store      string
	dir        string
	cpuProfile string
	broadcast  bool
	// noBatching turns off the batching of the NATS client's proposals.
	noBatching bool
	logLevel   *levelFlag
}

func setupBench(fs *flag.FlagSet) runFunc {
	o := &benchOptions{}
	fs.IntVar(&o.nodes, "nodes", 3, "`number` of nodes in the cluster")
	fs.IntVar(&o.clients, "clients", 64, "`number` of concurrent clients, each waiting for its write to be acknowledged before it sends the next")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "`duration` of the measured window")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "`duration` of load before the measured window, not counted")
	fs.IntVar(&o.payload, "payload", 128, "size of each written value in `bytes`")
	fs.IntVar(&o.keys, "keys", 100000, "`number` of distinct keys; each write picks one at random")
	fs.StringVar(&o.client, "client", clientLocal, "client `kind`: local calls Node.Propose on the leader in this process; nats sends requests over NATS from a connection of its own")
	fs.StringVar(&o.store, "store", storeMemory, "log store `kind`: memory; bolt for a bbolt file, or wal for segment files, both synced on every write")
	fs.StringVar(&o.dir, "dir", os.TempDir(), "parent `directory` of the temporary store directory of --store bolt and --store wal")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured window to `file`")
	fs.BoolVar(&o.broadcast, "broadcast", false, "let the leader publish new entries once for all followers while they are in step (sets raft.Config.Broadcast)")
	fs.BoolVar(&o.noBatching, "no-client-batching", false, "with --client nats, send every write as a request of its own instead of batching concurrent writes (sets natstransport.ClientConfig.DisableBatching)")
	o.logLevel = registerLogLevel(fs, slog.LevelWarn)
	return func(ctx context.Context, e *env, args []string) int {
		return runBench(ctx, e, o, args)
	}
}

func (o *benchOptions) validate() error {
	switch {
	case o.nodes < 1:
		return fmt.Errorf("invalid --nodes %d: use 1 or more", o.nodes)
	case o.clients < 1:
		return fmt.Errorf("invalid --clients %d: use 1 or more", o.clients)
	case o.duration <= 0:
		return fmt.Errorf("invalid --duration %v: use a positive duration, such as 10s", o.duration)
	case o.warmup < 0:
		return fmt.Errorf("invalid --warmup %v: use 0 or a positive duration", o.warmup)
	case o.payload < 0:
		return fmt.Errorf("invalid --payload %d: use 0 or more bytes", o.payload)
	case o.keys < 1:
		return fmt.Errorf("invalid --keys %d: use 1 or more", o.keys)
	case o.client != clientLocal && o.client != clientNATS:
		return fmt.Errorf("invalid --client %q: use %s or %s", o.client, clientLocal, clientNATS)
	case o.store != storeMemory && o.store != storeBolt && o.store != storeWAL:
		return fmt.Errorf("invalid --store %q: use %s, %s or %s", o.store, storeMemory, storeBolt, storeWAL)
	case o.noBatching && o.client != clientNATS:
		return fmt.Errorf("--no-client-batching applies to --client %s only, not to --client %s: drop the flag or add --client %s", clientNATS, o.client, clientNATS)
	}
	return nil
}

// benchResult is the JSON object that bench prints. Latencies are in
// milliseconds; ops and errors count operations started inside the measured
// window.
type benchResult struct {
	System      string   `json:"system"`
	OpsPerSec   float64  `json:"ops_per_sec"`
	Ops         uint64   `json:"ops"`
	P50Ms       float64  `json:"p50_ms"`
	P99Ms       float64  `json:"p99_ms"`
	MaxMs       float64  `json:"max_ms"`
	Errors      uint64   `json:"errors"`
	ErrorSample []string `json:"error_sample,omitempty"`
	CPUSeconds  float64  `json:"cpu_seconds"`
	PeakRSSMiB  float64  `json:"peak_rss_mib"`
	Nodes       int      `json:"nodes"`
	Clients     int      `json:"clients"`
	DurationS   float64  `json:"duration_s"`
	WarmupS     float64  `json:"warmup_s"`
	Payload     int      `json:"payload"`
	Keys        int      `json:"keys"`
	Store       string   `json:"store"`
	Client      string   `json:"client"`
	Broadcast   bool     `json:"broadcast"`
	// ClientBatching reports whether the NATS client batched concurrent
	// writes; always false for the local client.
	ClientBatching bool   `json:"client_batching"`
	GoVersion      string `json:"go_version"`
	Nproc          int    `json:"nproc"`
	AppliedIndex   uint64 `json:"applied_index"`
	// StoreAppends, EntriesPerAppend and AppendMeanMs describe the log
	// store writes of all nodes over the whole run, warm-up included. The
	// log writer groups the entries that queued while the previous write
	// ran into one write.
	StoreAppends     uint64  `json:"store_appends"`
	EntriesPerAppend float64 `json:"entries_per_append"`
	AppendMeanMs     float64 `json:"append_mean_ms"`
	DigestsMatch     bool    `json:"digests_match"`

	// mismatch names the node whose state differs when DigestsMatch is
	// false.
	mismatch error
}

// runBench starts the cluster, runs the load, checks that the nodes
// converged and prints the result.
func runBench(ctx context.Context, e *env, o *benchOptions, args []string) int {
	const name = "bench"
	if len(args) > 0 {
		return usageError(e, name, fmt.Errorf("unexpected arguments %q: bench takes flags only", args))
	}
	if err := o.validate(); err != nil {
		return usageError(e, name, err)
	}
	log := newLogger(e.stderr, o.logLevel.level)

	var profile *os.File
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return failure(e, name, exitFailure, fmt.Errorf("create --cpuprofile file: %w", err))
		}
		defer f.Close()
		profile = f
	}

	cluster, err := startBenchCluster(benchClusterConfig{nodes: o.nodes, store: o.store, dir: o.dir, broadcast: o.broadcast}, log)
	if err != nil {
		return failure(e, name, exitFailure, err)
	}
	defer cluster.stop()

	res, err := measureCluster(ctx, e, cluster, o, profile)
	if err != nil {
		return failure(e, name, exitFailure, err)
	}
	out, err := json.Marshal(res)
	if err != nil {
		return failure(e, name, exitFailure, err)
	}
	fmt.Fprintln(e.stdout, string(out))
	if !res.DigestsMatch {
		return failure(e, name, exitFailure, res.mismatch)
	}
	if res.Ops == 0 {
		return failure(e, name, exitFailure, errors.New("no write was acknowledged in the measured window; see error_sample"))
	}
	return exitOK
}

// measureCluster waits for a leader, runs the load and the convergence
// check, and returns the result.
func measureCluster(ctx context.Context, e *env, cluster *benchCluster, o *benchOptions, profile *os.File) (benchResult, error) {
	leaderCtx, cancel := context.WithTimeout(ctx, benchLeaderTimeout)
	leader, err := cluster.waitLeader(leaderCtx)
	cancel()
	if err != nil {
		return benchResult{}, err
	}
	newPut, closeClients, err := newBenchClients(cluster, o.client, !o.noBatching)
	if err != nil {
		return benchResult{}, err
	}
	defer closeClients()
	fmt.Fprintf(e.stderr, "bench: leader %s elected; %d %s clients, %s warm-up, %s measured\n",
		leader.id, o.clients, o.client, o.warmup, o.duration)

	cfg := loadConfig{clients: o.clients, keys: o.keys, payload: o.payload, warmup: o.warmup, duration: o.duration}
	if profile != nil {
		// A nil *os.File in the io.Writer would not compare equal to nil.
		cfg.cpuProfile = profile
	}
	load, err := runLoad(ctx, cfg, newPut)
	if err != nil {
		return benchResult{}, err
	}
	if load.profileErr != nil {
		return benchResult{}, load.profileErr
	}
	if load.usageErr != nil {
		fmt.Fprintf(e.stderr, "bench: cpu_seconds and peak_rss_mib are not measured: %v\n", load.usageErr)
	}

	convergeCtx, cancel := context.WithTimeout(ctx, benchConvergeTimeout)
	conv, err := cluster.converge(convergeCtx)
	cancel()
	if err != nil {
		return benchResult{}, err
	}
	res := newBenchResult(o, load)
	res.AppliedIndex = conv.applied
	res.StoreAppends = cluster.appends.calls.Load()
	if res.StoreAppends > 0 {
		res.EntriesPerAppend = float64(cluster.appends.entries.Load()) / float64(res.StoreAppends)
		res.AppendMeanMs = milliseconds(time.Duration(cluster.appends.nanoseconds.Load() / int64(res.StoreAppends)))
	}
	res.mismatch = digestsMatch(cluster.nodes, conv.digests)
	res.DigestsMatch = res.mismatch == nil
	return res, nil
}

// newBenchClients returns the constructor of each client's put function for
// kind, and a function that closes what the clients share.
func newBenchClients(cluster *benchCluster, kind string, batching bool) (func(int) putFunc, func(), error) {
	if kind == clientLocal {
		return func(int) putFunc { return localPut(cluster) }, func() {}, nil
	}
	nc, err := cluster.connect("raftnode bench client")
	if err != nil {
		return nil, nil, err
	}
	client, err := natstransport.NewClient(nc, natstransport.ClientConfig{Cluster: benchClusterID, Logger: cluster.log, DisableBatching: !batching})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	put := func(ctx context.Context, key string, value []byte) error {
		_, _, err := client.Propose(ctx, statemachine.EncodePut(key, value))
		return err
	}
	return func(int) putFunc { return put }, nc.Close, nil
}

// localPut returns a put function that proposes on the leader in this
// process, as an application embedding the node would. After a
// NotLeaderError it looks for the new leader before the next write.
func localPut(cluster *benchCluster) putFunc {
	leader := cluster.leader()
	return func(ctx context.Context, key string, value []byte) error {
		if leader == nil {
			if leader = cluster.leader(); leader == nil {
				return raft.NotApplied(raft.ErrNoLeader)
			}
		}
		_, err := leader.node.Propose(ctx, statemachine.EncodePut(key, value))
		if errors.Is(err, raft.ErrNotLeader) {
			leader = nil
		}
		return err
	}
}

// newBenchResult fills a result with the options and the load's figures.
func newBenchResult(o *benchOptions, load loadReport) benchResult {
	h := load.latency
	return benchResult{
		System:         "natsraft",
		OpsPerSec:      float64(h.total) / load.window.Seconds(),
		Ops:            h.total,
		P50Ms:          milliseconds(h.quantile(0.50)),
		P99Ms:          milliseconds(h.quantile(0.99)),
		MaxMs:          milliseconds(h.max),
		Errors:         load.errors,
		ErrorSample:    load.errorSample,
		CPUSeconds:     load.cpu.Seconds(),
		PeakRSSMiB:     float64(load.peakRSS) / (1 << 20),
		Nodes:          o.nodes,
		Clients:        o.clients,
		DurationS:      o.duration.Seconds(),
		WarmupS:        o.warmup.Seconds(),
		Payload:        o.payload,
		Keys:           o.keys,
		Store:          o.store,
		Client:         o.client,
		Broadcast:      o.broadcast,
		ClientBatching: o.client == clientNATS && !o.noBatching,
		GoVersion:      runtime.Version(),
		Nproc:          runtime.NumCPU(),
	}
}

func milliseconds(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
