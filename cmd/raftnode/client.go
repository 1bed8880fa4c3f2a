package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// clientOptions are the flags of the client commands.
type clientOptions struct {
	nats     natsOptions
	cluster  clusterOptions
	timeout  time.Duration
	logLevel *levelFlag
}

func (o *clientOptions) register(fs *flag.FlagSet) {
	o.cluster.register(fs)
	o.nats.register(fs)
	fs.DurationVar(&o.timeout, "timeout", natstransport.DefaultClientTimeout, "`duration` the command waits for the cluster, retries included, such as 500ms or 10s")
	o.logLevel = registerLogLevel(fs, slog.LevelWarn)
}

// clientCommand is the part common to put, get, delete and status.
type clientCommand struct {
	name string
	// nargs is the number of positional arguments; argNames names them.
	nargs    int
	argNames string
	// do sends the request with client and returns the exit code.
	do func(ctx context.Context, e *env, client *natstransport.Client, args []string) int
}

// setupClient returns the setup function of a client command.
func setupClient(c clientCommand) func(fs *flag.FlagSet) runFunc {
	return func(fs *flag.FlagSet) runFunc {
		o := &clientOptions{}
		o.register(fs)
		return func(ctx context.Context, e *env, args []string) int {
			return runClient(ctx, e, o, c, args)
		}
	}
}

func setupPut(fs *flag.FlagSet) runFunc {
	return setupClient(clientCommand{name: "put", nargs: 2, argNames: "KEY VALUE", do: doPut})(fs)
}

func setupGet(fs *flag.FlagSet) runFunc {
	return setupClient(clientCommand{name: "get", nargs: 1, argNames: "KEY", do: doGet})(fs)
}

func setupDelete(fs *flag.FlagSet) runFunc {
	return setupClient(clientCommand{name: "delete", nargs: 1, argNames: "KEY", do: doDelete})(fs)
}

func setupStatus(fs *flag.FlagSet) runFunc {
	return setupClient(clientCommand{name: "status", do: doStatus})(fs)
}

// runClient checks the arguments, connects to NATS and runs c.
func runClient(ctx context.Context, e *env, o *clientOptions, c clientCommand, args []string) int {
	if len(args) != c.nargs {
		if c.nargs == 0 {
			return usageError(e, c.name, fmt.Errorf("unexpected arguments %q: %s takes flags only", args, c.name))
		}
		return usageError(e, c.name, fmt.Errorf("got %d arguments %q, expected %s", len(args), args, c.argNames))
	}
	if c.nargs > 0 && args[0] == "" {
		return usageError(e, c.name, errors.New("the key is empty: pass a key of one byte or more"))
	}
	if err := o.cluster.validate(); err != nil {
		return usageError(e, c.name, err)
	}
	if err := o.nats.validate(); err != nil {
		return usageError(e, c.name, err)
	}
	if o.timeout <= 0 {
		return usageError(e, c.name, fmt.Errorf("invalid --timeout %v: use a positive duration, such as 5s", o.timeout))
	}

	log := newLogger(e.stderr, o.logLevel.level)
	nc, err := o.nats.connect("raftnode " + c.name)
	if err != nil {
		return failure(e, c.name, exitFailure, err)
	}
	defer nc.Close()
	client, err := natstransport.NewClient(nc, natstransport.ClientConfig{
		Prefix:  o.cluster.prefix,
		Cluster: o.cluster.cluster,
		Timeout: o.timeout,
		Logger:  log,
	})
	if err != nil {
		return usageError(e, c.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return c.do(ctx, e, client, args)
}

// proposeFailure prints a failed write and returns exitUnknown if the write
// may still be applied, or exitFailure if it certainly was not.
func proposeFailure(e *env, name string, err error) int {
	err = withNoLeaderHint(err)
	switch {
	case errors.Is(err, raft.ErrOutcomeUnknown):
		return failure(e, name, exitUnknown, fmt.Errorf("%w; read the key to learn whether the write was applied", err))
	case errors.Is(err, raft.ErrNotApplied):
		return failure(e, name, exitFailure, fmt.Errorf("%w; the write was not applied", err))
	default:
		// Neither class is known, so the write may have been applied.
		return failure(e, name, exitUnknown, fmt.Errorf("%w; the write may or may not have been applied", err))
	}
}

// writeResult is the outcome of an applied write.
type writeResult struct {
	// found reports whether the key existed before the write.
	found    bool
	revision uint64
	index    uint64
}

// withNoLeaderHint adds what to check to an error that matches
// raft.ErrNoLeader.
func withNoLeaderHint(err error) error {
	if !errors.Is(err, raft.ErrNoLeader) {
		return err
	}
	return fmt.Errorf("%w (check that a majority of the nodes runs, and that --cluster and --prefix match theirs)", err)
}

// propose sends cmd and decodes the state machine's result. It prints
// failures and returns the exit code.
func propose(ctx context.Context, e *env, client *natstransport.Client, name string, cmd []byte) (res writeResult, code int) {
	value, index, err := client.Propose(ctx, cmd)
	if err != nil {
		return res, proposeFailure(e, name, err)
	}
	result, err := statemachine.DecodeResult(value)
	if err != nil {
		return res, failure(e, name, exitFailure, fmt.Errorf("the write was applied at index %d, but its result is invalid: %w", index, err))
	}
	if result.Error != "" {
		return res, failure(e, name, exitFailure, fmt.Errorf("the state machine rejected the command at index %d: %s", index, result.Error))
	}
	return writeResult{found: result.Found, revision: result.Revision, index: index}, exitOK
}

func doPut(ctx context.Context, e *env, client *natstransport.Client, args []string) int {
	res, code := propose(ctx, e, client, "put", statemachine.EncodePut(args[0], []byte(args[1])))
	if code != exitOK {
		return code
	}
	fmt.Fprintf(e.stdout, "put %q: revision %d, log index %d\n", args[0], res.revision, res.index)
	return exitOK
}

func doDelete(ctx context.Context, e *env, client *natstransport.Client, args []string) int {
	res, code := propose(ctx, e, client, "delete", statemachine.EncodeDelete(args[0]))
	if code != exitOK {
		return code
	}
	if !res.found {
		fmt.Fprintf(e.stdout, "delete %q: key did not exist, log index %d\n", args[0], res.index)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "delete %q: deleted, log index %d\n", args[0], res.index)
	return exitOK
}

// doGet prints only the value. It adds a newline when stdout is a terminal,
// so scripts get the value byte for byte.
func doGet(ctx context.Context, e *env, client *natstransport.Client, args []string) int {
	value, err := client.Read(ctx, statemachine.EncodeGet(args[0]))
	if err != nil {
		return failure(e, "get", exitFailure, withNoLeaderHint(err))
	}
	result, err := statemachine.DecodeResult(value)
	if err != nil {
		return failure(e, "get", exitFailure, fmt.Errorf("invalid result: %w", err))
	}
	if result.Error != "" {
		return failure(e, "get", exitFailure, errors.New(result.Error))
	}
	if !result.Found {
		return failure(e, "get", exitNotFound, fmt.Errorf("key %q not found", args[0]))
	}
	_, _ = e.stdout.Write(result.Value)
	if e.stdoutTerminal {
		fmt.Fprintln(e.stdout)
	}
	return exitOK
}

func doStatus(ctx context.Context, e *env, client *natstransport.Client, _ []string) int {
	replies, err := client.Status(ctx)
	if err != nil {
		return failure(e, "status", exitFailure,
			fmt.Errorf("%w (check that the nodes run, and that --cluster and --prefix match theirs)", err))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tTERM\tLEADER\tLAST\tCOMMIT\tAPPLIED")
	for _, r := range replies {
		leader := r.GetLeader()
		if leader == "" {
			leader = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%d\n", r.GetNode(), r.GetRole(), r.GetTerm(), leader,
			r.GetLastIndex(), r.GetCommitIndex(), r.GetAppliedIndex())
	}
	if err := tw.Flush(); err != nil {
		return failure(e, "status", exitFailure, err)
	}
	return exitOK
}
