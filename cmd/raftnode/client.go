package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/kvclient"
	"github.com/natsraft/natsraft/raft"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// clientOptions are the flags shared by the client commands.
type clientOptions struct {
	nats     natsOptions
	cluster  clusterOptions
	timeout  time.Duration
	logLevel *levelFlag
}

func registerClientOptions(fs *flag.FlagSet) *clientOptions {
	o := &clientOptions{}
	o.cluster.register(fs)
	o.nats.register(fs)
	fs.DurationVar(&o.timeout, "timeout", natstransport.DefaultClientTimeout, "`duration` the command waits for the cluster, retries included, such as 500ms or 10s")
	o.logLevel = registerLogLevel(fs, slog.LevelWarn)
	return o
}

// clientCall is one client command: its argument check and what it sends.
type clientCall struct {
	name string
	// checkArgs validates the positional arguments.
	checkArgs func(args []string) error
	// do sends the request with kv and returns the exit code.
	do func(ctx context.Context, e *env, kv *kvclient.Client, args []string) int
}

// runner returns the runFunc of call with the options o.
func (o *clientOptions) runner(call clientCall) runFunc {
	return func(ctx context.Context, e *env, args []string) int {
		return runClient(ctx, e, o, call, args)
	}
}

// keyArgs returns an argument check for a command that takes n arguments
// named names, the first one a key.
func keyArgs(n int, names string) func(args []string) error {
	return func(args []string) error {
		if len(args) != n {
			return fmt.Errorf("got %d arguments %q, expected %s", len(args), args, names)
		}
		if args[0] == "" {
			return errors.New("the key is empty: pass a key of one byte or more")
		}
		return nil
	}
}

// noArgs checks that a command got no positional arguments.
func noArgs(name string) func(args []string) error {
	return func(args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unexpected arguments %q: %s takes flags only", args, name)
		}
		return nil
	}
}

// runClient checks the arguments, connects to NATS and runs call. The
// command, connection included, takes at most --timeout.
func runClient(ctx context.Context, e *env, o *clientOptions, call clientCall, args []string) int {
	if err := call.checkArgs(args); err != nil {
		return usageError(e, call.name, err)
	}
	if err := o.cluster.validate(); err != nil {
		return usageError(e, call.name, err)
	}
	if err := o.nats.validate(); err != nil {
		return usageError(e, call.name, err)
	}
	if o.timeout <= 0 {
		return usageError(e, call.name, fmt.Errorf("invalid --timeout %v: use a positive duration, such as 5s", o.timeout))
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	log := newLogger(e.stderr, o.logLevel.level)
	nc, err := o.nats.connect("raftnode "+call.name, nats.Timeout(o.timeout))
	if err != nil {
		// Nothing was sent.
		return failure(e, call.name, exitFailure, err)
	}
	defer nc.Close()
	client, err := natstransport.NewClient(nc, natstransport.ClientConfig{
		Prefix:   o.cluster.prefix,
		Cluster:  o.cluster.cluster,
		Timeout:  o.timeout,
		Logger:   log,
		Sessions: true,
	})
	if err != nil {
		return usageError(e, call.name, err)
	}
	return call.do(ctx, e, kvclient.New(client), args)
}

// writeFailure prints a failed write and returns its exit code:
// exitUnknown if the write may still be applied, exitFailure if it
// certainly was not or the state machine rejected it.
func writeFailure(e *env, name string, err error) int {
	err = withNoLeaderHint(err)
	switch {
	case errors.Is(err, kvclient.ErrRejected):
		return failure(e, name, exitFailure, fmt.Errorf("%w; nothing was changed", err))
	case errors.Is(err, raft.ErrOutcomeUnknown):
		return failure(e, name, exitUnknown, fmt.Errorf("%w; read the key to learn whether the write was applied", err))
	case errors.Is(err, raft.ErrNotApplied):
		return failure(e, name, exitFailure, fmt.Errorf("%w; the write was not applied", err))
	default:
		// Neither class is known, so the write may have been applied.
		return failure(e, name, exitUnknown, fmt.Errorf("%w; the write may or may not have been applied", err))
	}
}

// withNoLeaderHint adds what to check to an error that matches
// raft.ErrNoLeader.
func withNoLeaderHint(err error) error {
	if !errors.Is(err, raft.ErrNoLeader) {
		return err
	}
	return fmt.Errorf("%w (check that a majority of the nodes runs, and that --cluster and --prefix match theirs)", err)
}
