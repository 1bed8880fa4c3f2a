package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runTimeout is how long a run may take beyond its warm-up and measured
// window: cluster start, leader election and the convergence check.
const runTimeout = 3 * time.Minute

// benchCase is one configuration that every repeat runs once.
type benchCase struct {
	id    string
	label string
	// ours is true for a raftnode bench run; args are then raftnode bench
	// flags, and otherwise compare worker flags.
	ours    bool
	args    []string
	clients int
}

// cases returns the runs of one repeat, in the order they run: each of our
// runs is followed by the peer run it is compared with, so the two see the
// same load from the rest of the machine.
func cases() []benchCase {
	ours := func(store, client string, clients int) benchCase {
		return benchCase{
			id:      fmt.Sprintf("ours-%s-%s-%d", store, client, clients),
			label:   fmt.Sprintf("natsraft, %s store, %s client", store, client),
			ours:    true,
			args:    []string{"bench", "--store", store, "--client", client},
			clients: clients,
		}
	}
	// unbatched is ours with the NATS client's batching turned off.
	unbatched := func(store string, clients int) benchCase {
		c := ours(store, "nats", clients)
		c.id = fmt.Sprintf("ours-%s-nats-unbatched-%d", store, clients)
		c.label += ", batching off"
		c.args = append(c.args, "--no-client-batching")
		return c
	}
	peer := func(system, sync, label string, clients int) benchCase {
		id := fmt.Sprintf("%s-%d", system, clients)
		args := []string{"worker", "--system", system}
		if sync != "" {
			id = fmt.Sprintf("%s-%s-%d", system, sync, clients)
			args = append(args, "--sync", sync)
		}
		return benchCase{id: id, label: label, args: args, clients: clients}
	}
	return []benchCase{
		ours("bolt", "local", 256),
		peer(systemHashicorpBolt, "", "hashicorp/raft, TCP transport, raft-boltdb (synced)", 256),
		ours("wal", "local", 256),
		ours("bolt", "nats", 256),
		peer(systemJetStream, "always", "JetStream KV, R3, sync always", 256),
		ours("wal", "nats", 256),
		unbatched("wal", 256),
		ours("memory", "local", 256),
		peer(systemHashicorpInmem, "", "hashicorp/raft, in-memory transport and store", 256),
		ours("memory", "nats", 256),
		peer(systemJetStream, "default", "JetStream KV, R3, default sync", 256),
		unbatched("memory", 256),
		ours("memory", "local", 1),
		{id: systemLimits, label: "limits: NATS round trip, publish rate, fsync", args: []string{"worker", "--system", systemLimits}},
		ours("bolt", "local", 1),
		peer(systemHashicorpBolt, "", "hashicorp/raft, TCP transport, raft-boltdb (synced)", 1),
		ours("wal", "local", 1),
		ours("memory", "local", 16),
		ours("memory", "local", 64),
		ours("bolt", "local", 16),
		ours("bolt", "local", 64),
		ours("wal", "local", 16),
		ours("wal", "local", 64),
	}
}

// settle flushes the file system's dirty data and waits d, so that the
// next run starts without the writeback of the runs before it. d 0 does
// neither.
func settle(ctx context.Context, d time.Duration) {
	if d == 0 {
		return
	}
	syscall.Sync()
	sleepContext(ctx, d)
}

// planResults holds each case's result per repeat; a failed run is nil.
type planResults struct {
	cases []benchCase
	runs  map[string][]*runResult
	// failures lists one message per failed run.
	failures []string
}

// runPlan runs every case o.repeats times, the whole sequence once per
// repeat, and writes each result as a JSON line to jsonLog.
func runPlan(ctx context.Context, o *compareOptions, self, raftnode string, jsonLog, stderr io.Writer) *planResults {
	res := &planResults{runs: make(map[string][]*runResult)}
	for _, c := range cases() {
		if o.only == nil || o.only.MatchString(c.id) {
			res.cases = append(res.cases, c)
		}
	}
	for _, c := range res.cases {
		res.runs[c.id] = make([]*runResult, o.repeats)
	}
	for rep := range o.repeats {
		for _, c := range res.cases {
			if ctx.Err() != nil {
				return res
			}
			fmt.Fprintf(stderr, "compare: repeat %d/%d: %s, %d clients\n", rep+1, o.repeats, c.id, c.clients)
			settle(ctx, o.settle)
			r, raw, err := runCase(ctx, o, c, self, raftnode)
			if err != nil {
				msg := fmt.Sprintf("repeat %d, %s: %v", rep+1, c.id, err)
				fmt.Fprintf(stderr, "compare: %s\n", msg)
				res.failures = append(res.failures, msg)
				continue
			}
			fmt.Fprintf(stderr, "compare:   %s\n", summarize(r))
			fmt.Fprintf(jsonLog, "{\"repeat\":%d,\"case\":%q,\"result\":%s}\n", rep+1, c.id, bytes.TrimSpace(raw))
			res.runs[c.id][rep] = r
		}
	}
	return res
}

// runCase runs one case as a child process and parses its JSON line.
func runCase(ctx context.Context, o *compareOptions, c benchCase, self, raftnode string) (*runResult, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, o.warmup+o.duration+runTimeout)
	defer cancel()
	args := append([]string(nil), c.args...)
	args = append(args,
		"--duration", o.duration.String(), "--warmup", o.warmup.String(),
		"--payload", strconv.Itoa(o.payload), "--keys", strconv.Itoa(o.keys), "--dir", o.dir)
	if c.clients > 0 {
		args = append(args, "--clients", strconv.Itoa(c.clients))
	}
	if c.ours {
		args = append(args, strings.Fields(o.oursFlags)...)
	}

	bin := self
	if c.ours {
		bin = raftnode
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	line := lastLine(stdout.Bytes())
	var r runResult
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, nil, fmt.Errorf("%s %s: %v; no JSON result (%v); stderr: %s",
			bin, strings.Join(args, " "), runErr, err, tail(stderr.String(), 400))
	}
	if runErr != nil {
		// raftnode bench prints its result and then fails when the nodes'
		// states differ or no write was acknowledged.
		return nil, nil, fmt.Errorf("%v: %s; stderr: %s", runErr, line, tail(stderr.String(), 400))
	}
	if r.DigestsMatch != nil && !*r.DigestsMatch {
		return nil, nil, fmt.Errorf("nodes hold different states: %s", line)
	}
	return &r, line, nil
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func summarize(r *runResult) string {
	if r.System == systemLimits {
		return fmt.Sprintf("NATS round trip p50 %.3f ms, publish %.0f msgs/s, fsync 4 KiB p50 %.3f ms",
			r.NATSRoundTripP50Ms, r.NATSPublishPerSec, r.FsyncP50Ms)
	}
	return fmt.Sprintf("%.0f ops/s, p50 %.3f ms, p99 %.3f ms, max %.1f ms, %d errors, %.2f CPU s, %.0f MiB peak",
		r.OpsPerSec, r.P50Ms, r.P99Ms, r.MaxMs, r.Errors, r.CPUSeconds, r.PeakRSSMiB)
}
