package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/natsraft/natsraft/raft"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// demoOptions are the flags of "raftnode demo".
type demoOptions struct {
	keys     int
	clients  int
	reads    int
	timeout  time.Duration
	logLevel *levelFlag
}

func setupDemo(fs *flag.FlagSet) runFunc {
	o := &demoOptions{}
	fs.IntVar(&o.keys, "keys", 5000, "`number` of keys to write")
	fs.IntVar(&o.clients, "clients", 32, "`number` of concurrent writers (and readers)")
	fs.IntVar(&o.reads, "reads", 500, "`number` of written keys to read back and check, spread over all keys; 0 reads none, and --keys or more reads all")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "`duration` the whole demo may take before it gives up")
	o.logLevel = registerLogLevel(fs, slog.LevelWarn)
	return func(ctx context.Context, e *env, args []string) int {
		return runDemo(ctx, e, o, args)
	}
}

func (o *demoOptions) validate() error {
	switch {
	case o.keys < 1:
		return fmt.Errorf("invalid --keys %d: use 1 or more", o.keys)
	case o.clients < 1:
		return fmt.Errorf("invalid --clients %d: use 1 or more", o.clients)
	case o.reads < 0:
		return fmt.Errorf("invalid --reads %d: use 0 or more", o.reads)
	case o.timeout <= 0:
		return fmt.Errorf("invalid --timeout %v: use a positive duration, such as 1m", o.timeout)
	}
	return nil
}

// demoResult is the set of the demo's measurements, for the report.
type demoResult struct {
	keys    int
	writes  writeReport
	reads   readReport
	elapsed time.Duration
	// statuses and digests are per node, in the cluster's node order.
	statuses []raft.Status
	digests  []string
	sizes    []int
}

// runDemo starts the cluster, runs the workload and prints the report.
func runDemo(ctx context.Context, e *env, o *demoOptions, args []string) int {
	const name = "demo"
	if len(args) > 0 {
		return usageError(e, name, fmt.Errorf("unexpected arguments %q: demo takes flags only", args))
	}
	if err := o.validate(); err != nil {
		return usageError(e, name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	log := newLogger(e.stderr, o.logLevel.level)

	start := time.Now()
	cluster, err := startLocalCluster(log)
	if err != nil {
		return failure(e, name, exitFailure, err)
	}
	defer cluster.stop()
	res, err := runWorkload(ctx, e, cluster, o)
	if err != nil {
		return failure(e, name, exitFailure, err)
	}
	res.elapsed = time.Since(start)
	return printDemoReport(e.stdout, res)
}

// runWorkload writes and reads the keys through a client over NATS, then
// waits until every node has applied the leader's commit index.
func runWorkload(ctx context.Context, e *env, cluster *localCluster, o *demoOptions) (demoResult, error) {
	nc, err := cluster.connect("raftnode demo client")
	if err != nil {
		return demoResult{}, err
	}
	defer nc.Close()
	client, err := natstransport.NewClient(nc, natstransport.ClientConfig{Cluster: demoCluster, Logger: cluster.log, Sessions: true})
	if err != nil {
		return demoResult{}, err
	}
	leader, err := client.Leader(ctx)
	if err != nil {
		return demoResult{}, fmt.Errorf("wait for a leader: %w", err)
	}
	fmt.Fprintf(e.stderr, "cluster %q: leader %s elected; writing %d keys with %d clients\n", demoCluster, leader, o.keys, o.clients)

	bar := startProgress(e.stderr, e.stderrTerminal, "writing", o.keys)
	res := demoResult{keys: o.keys}
	res.writes = writeKeys(ctx, client, o.keys, o.clients, bar)
	bar.finish()
	res.reads = readBack(ctx, client, res.writes.acked, o.reads, o.clients)

	target := cluster.commitTarget()
	if err := cluster.waitApplied(ctx, target); err != nil {
		return demoResult{}, err
	}
	for _, n := range cluster.nodes {
		res.statuses = append(res.statuses, n.node.Status())
		res.digests = append(res.digests, n.kv.Digest())
		res.sizes = append(res.sizes, n.kv.Len())
	}
	return res, nil
}

// printDemoReport prints the status table, the digests and the summary, and
// returns exitOK only if the digests match, every write was acknowledged and
// every key read back held its value.
func printDemoReport(w io.Writer, r demoResult) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tTERM\tLAST\tCOMMIT\tAPPLIED\tKEYS\tDIGEST (SHA-256 of keys, values and revisions)")
	for i, st := range r.statuses {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", st.ID, st.Role, st.Term,
			st.LastIndex, st.CommitIndex, st.AppliedIndex, r.sizes[i], r.digests[i])
	}
	_ = tw.Flush()
	fmt.Fprintln(w)

	writeRate := float64(r.writes.count) / r.writes.elapsed.Seconds()
	fmt.Fprintf(w, "writes acknowledged: %d/%d in %s (%.0f ops/s)\n", r.writes.count, r.keys, r.writes.elapsed.Round(time.Millisecond), writeRate)
	fmt.Fprintf(w, "reads checked:       %d, %d failed\n", r.reads.checked, r.reads.errors.count)
	fmt.Fprintf(w, "elapsed:             %s (cluster start to last apply)\n", r.elapsed.Round(time.Millisecond))

	problems := demoProblems(r)
	if len(problems) == 0 {
		fmt.Fprintf(w, "OK: all %d nodes applied the same commands and hold identical state\n", len(r.statuses))
		return exitOK
	}
	fmt.Fprintln(w, "FAILED:")
	for _, p := range problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	return exitFailure
}

// demoProblems lists what went wrong: differing digests, unacknowledged
// writes and failed reads, each followed by example errors.
func demoProblems(r demoResult) []string {
	var problems []string
	for i := 1; i < len(r.digests); i++ {
		if r.digests[i] != r.digests[0] {
			problems = append(problems, fmt.Sprintf("digest of %s (%d keys) differs from digest of %s (%d keys)",
				r.statuses[i].ID, r.sizes[i], r.statuses[0].ID, r.sizes[0]))
		}
	}
	if r.writes.count != r.keys {
		problems = append(problems, fmt.Sprintf("%d of %d writes were not acknowledged", r.keys-r.writes.count, r.keys))
		problems = append(problems, errorExamples(r.writes.errors, r.keys-r.writes.count)...)
	}
	if r.reads.errors.count > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d reads failed", r.reads.errors.count, r.reads.checked))
		problems = append(problems, errorExamples(r.reads.errors, r.reads.errors.count)...)
	}
	return problems
}

// errorExamples returns the first errors of l as indented lines. Operations
// that failed without an error were never attempted because the demo ran
// out of time.
func errorExamples(l *errorList, failed int) []string {
	var lines []string
	for _, err := range l.first {
		lines = append(lines, "  "+err.Error())
	}
	if skipped := failed - l.count; skipped > 0 {
		lines = append(lines, fmt.Sprintf("  %d were not attempted: the demo reached --timeout", skipped))
	}
	return lines
}
