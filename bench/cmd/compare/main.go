// Command compare runs the cluster benchmark of natsraft (raftnode bench)
// and the same workload on hashicorp/raft and NATS JetStream, alternating
// the systems in one invocation, and writes a markdown report of medians,
// spreads and same-run ratios.
//
// Usage, from the bench directory:
//
//	go run ./cmd/compare [--duration 10s] [--repeats 3] [--out report.md]
//
// Every run is a separate process: raftnode bench for natsraft, and
// "compare worker" (this program) for the peers, so no run inherits
// another's heap, goroutines or peak memory. The harness runs on Unix only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		err = runWorker(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else {
		err = runCompare(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: %v\n", err)
		os.Exit(1)
	}
}

// compareOptions are the flags of compare.
type compareOptions struct {
	duration time.Duration
	warmup   time.Duration
	repeats  int
	payload  int
	keys     int
	raftnode string
	// oursFlags are extra raftnode bench flags for every natsraft run.
	oursFlags string
	dir       string
	out       string
	jsonOut   string
	// only, when set, keeps the cases whose id it matches.
	only *regexp.Regexp
	// settle is the pause before each run, after the file system's dirty
	// data is flushed.
	settle time.Duration
}

func (o *compareOptions) register(fs *flag.FlagSet) {
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured `duration` of each run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "`duration` of load before each run's measured window")
	fs.IntVar(&o.repeats, "repeats", 3, "`number` of times the whole sequence of runs is repeated")
	fs.IntVar(&o.payload, "payload", 128, "size of each written value in `bytes`")
	fs.IntVar(&o.keys, "keys", 100000, "`number` of distinct keys")
	fs.StringVar(&o.raftnode, "raftnode", "", "raftnode `binary` to run; empty builds github.com/natsraft/natsraft/cmd/raftnode from this module's replace target")
	fs.StringVar(&o.oursFlags, "ours-flags", "", "extra raftnode bench `flags` for every natsraft run, separated by spaces, such as --broadcast=false")
	fs.StringVar(&o.dir, "dir", os.TempDir(), "parent `directory` of the stores' temporary directories; it sets the disk that synced writes go to")
	fs.StringVar(&o.out, "out", "", "write the markdown report to `file` as well as to stdout")
	fs.StringVar(&o.jsonOut, "json", "", "write every run's JSON object, one per line, to `file`")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "pause before each run, after flushing the file system's dirty data, so that a run does not pay for the writes of the one before; 0 disables both")
	fs.Func("only", "run only the cases whose id matches `regexp`, such as 'memory-local-256|inmem' (ids are printed as each run starts)", func(v string) error {
		re, err := regexp.Compile(v)
		if err != nil {
			return fmt.Errorf("invalid --only %q: %w; use a Go regular expression", v, err)
		}
		o.only = re
		return nil
	})
}

func (o *compareOptions) validate() error {
	switch {
	case o.duration <= 0:
		return fmt.Errorf("invalid --duration %v: use a positive duration, such as 10s", o.duration)
	case o.warmup < 0:
		return fmt.Errorf("invalid --warmup %v: use 0 or a positive duration", o.warmup)
	case o.repeats < 1:
		return fmt.Errorf("invalid --repeats %d: use 1 or more", o.repeats)
	case o.payload < 0:
		return fmt.Errorf("invalid --payload %d: use 0 or more bytes", o.payload)
	case o.keys < 1:
		return fmt.Errorf("invalid --keys %d: use 1 or more", o.keys)
	case o.settle < 0:
		return fmt.Errorf("invalid --settle %v: use 0 or a positive duration, such as 2s", o.settle)
	}
	return nil
}

// runCompare runs every case o.repeats times and writes the report.
func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &compareOptions{}
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: compare takes flags only, or \"worker\" as its first argument", fs.Args())
	}
	if err := o.validate(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program's path: %w", err)
	}
	machine := describeMachine()
	machine.natsraft = "prebuilt binary " + o.raftnode
	raftnode := o.raftnode
	if raftnode == "" {
		tmp, err := os.MkdirTemp("", "compare-raftnode-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		raftnode = filepath.Join(tmp, "raftnode")
		if err := buildRaftnode(ctx, raftnode, stderr); err != nil {
			return err
		}
		machine.natsraft = "built from " + describeCheckout()
	}

	var jsonLog io.Writer = io.Discard
	if o.jsonOut != "" {
		f, err := os.Create(o.jsonOut)
		if err != nil {
			return err
		}
		defer f.Close()
		jsonLog = f
	}
	results := runPlan(ctx, o, self, raftnode, jsonLog, stderr)
	machine.loadAfter = readLoadAverage()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	report := renderReport(o, machine, results)
	if _, err := io.WriteString(stdout, report); err != nil {
		return err
	}
	if o.out != "" {
		return os.WriteFile(o.out, []byte(report), 0o644)
	}
	return nil
}

// buildRaftnode builds the raftnode command of the module that go.mod
// replaces github.com/natsraft/natsraft with, into path.
func buildRaftnode(ctx context.Context, path string, stderr io.Writer) error {
	fmt.Fprintln(stderr, "compare: building raftnode")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", path, "github.com/natsraft/natsraft/cmd/raftnode")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build raftnode: %w: run compare from the bench directory, or pass --raftnode", err)
	}
	return nil
}
