// Command raftnode runs Raft nodes that talk over NATS, a one-process demo
// cluster, and client commands that read and write a cluster's key-value
// state machine over NATS.
//
// Run "raftnode help" for the commands, their flags and the exit codes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes. Scripts branch on them, so their meaning must not change.
const (
	// exitOK: the command succeeded.
	exitOK = 0
	// exitFailure: the command failed, and a write it sent was certainly
	// not applied (or the state machine rejected it and changed nothing).
	exitFailure = 1
	// exitUsage: invalid command line or configuration.
	exitUsage = 2
	// exitNotFound: get found no such key.
	exitNotFound = 3
	// exitUnknown: a write was sent but no reply came in time, or another
	// failure left its outcome unknown, so it may or may not have been
	// applied.
	exitUnknown = 4
	// exitCompareFailed: cas found another value, or an absent or present
	// key against its expectation, and wrote nothing.
	exitCompareFailed = 5
)

// env is the set of output streams of a command. Tests replace it to run
// commands in process.
type env struct {
	stdout io.Writer
	stderr io.Writer
	// stdoutTerminal and stderrTerminal report whether the streams are
	// terminals: get ends the value with a newline on a terminal, and the
	// demo draws a progress bar on one.
	stdoutTerminal bool
	stderrTerminal bool
}

// command is one subcommand.
type command struct {
	name string
	// args is the synopsis of the positional arguments.
	args    string
	summary string
	// setup defines the command's flags on fs and returns the function that
	// runs the command with the positional arguments left after parsing.
	setup func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command and returns its exit code.
type runFunc func(ctx context.Context, e *env, args []string) int

// commands lists the subcommands in the order help shows them.
func commands() []command {
	return []command{
		{"demo", "", "start a three-node cluster in this process on an embedded NATS server, write and read keys, print the cluster's status", setupDemo},
		{"run", "", "run one node of a cluster on a NATS server, in the foreground until SIGINT or SIGTERM, keeping its log, term and vote in --data", setupRun},
		{"put", "KEY VALUE", "set KEY to VALUE", setupPut},
		{"get", "KEY", "print the value of KEY (linearizable read through the leader, or --stale from one node)", setupGet},
		{"delete", "KEY", "delete KEY", setupDelete},
		{"cas", "KEY OLD NEW", "set KEY to NEW if it holds OLD (or, with --absent KEY NEW, if it does not exist)", setupCompareAndSet},
		{"incr", "KEY [DELTA]", "add DELTA (default 1) to the decimal integer in KEY, an absent key counting as 0, and print the sum", setupIncrement},
		{"status", "", "print the status of every node that answers", setupStatus},
		{"bench", "", "start a cluster in this process on an embedded NATS server, write to it with concurrent clients and print throughput and latency as one JSON object", setupBench},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, the default handling returns, so a second
	// SIGINT or SIGTERM ends a shutdown that hangs.
	context.AfterFunc(ctx, stop)
	e := &env{
		stdout:         os.Stdout,
		stderr:         os.Stderr,
		stdoutTerminal: isTerminal(os.Stdout),
		stderrTerminal: isTerminal(os.Stderr),
	}
	code := runMain(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// runMain dispatches args to a subcommand and returns the exit code.
func runMain(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		printHelp(e.stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return runHelp(e, rest)
	}
	cmd, ok := findCommand(name)
	if !ok {
		fmt.Fprintf(e.stderr, "raftnode: unknown command %q: run \"raftnode help\" for the list of commands\n", name)
		return exitUsage
	}

	fs, run := newFlagSet(cmd, e.stderr)
	positional, err := parseArgs(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(e.stdout, cmd, fs)
		return exitOK
	}
	if err != nil {
		// The flag package has printed the error.
		fmt.Fprintf(e.stderr, "Run \"raftnode %s -h\" for its flags.\n", cmd.name)
		return exitUsage
	}
	return run(ctx, e, positional)
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// newFlagSet returns the command's flag set, which reports errors on w, and
// the function that runs the command. The flag set prints no usage on an
// error: the caller prints a hint, or the help after -h.
func newFlagSet(cmd command, w io.Writer) (*flag.FlagSet, runFunc) {
	fs := flag.NewFlagSet("raftnode "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(w)
	run := cmd.setup(fs)
	fs.Usage = func() {}
	return fs, run
}

// runHelp prints the help of every command, or of the commands named in args.
func runHelp(e *env, args []string) int {
	if len(args) == 0 {
		printHelp(e.stdout)
		return exitOK
	}
	for _, name := range args {
		cmd, ok := findCommand(name)
		if !ok {
			fmt.Fprintf(e.stderr, "raftnode: unknown command %q: run \"raftnode help\" for the list of commands\n", name)
			return exitUsage
		}
		fs, _ := newFlagSet(cmd, e.stdout)
		printCommandHelp(e.stdout, cmd, fs)
	}
	return exitOK
}

const exitCodeHelp = `Exit codes:
  0  success; a write was applied exactly once
  1  failure; a write was certainly not applied (for example no leader
     answered before --timeout), or the state machine rejected it
  2  invalid command line or configuration
  3  key not found (get)
  4  outcome unknown: a write was sent, and was sent again with the same
     session sequence number until --timeout, but no reply came, so it may
     or may not have been applied (once at most); read the key to find out
  5  compare failed (cas): the key did not hold the expected value, or
     existed with --absent, and nothing was written
`

// printHelp prints the usage of every command and the exit codes.
func printHelp(w io.Writer) {
	fmt.Fprint(w, `raftnode runs and uses Raft clusters whose nodes talk over NATS.

Usage:
  raftnode <command> [flags] [arguments]
  raftnode help [command]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-7s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, exitCodeHelp)
	for _, c := range commands() {
		fmt.Fprintln(w)
		fs, _ := newFlagSet(c, w)
		printCommandHelp(w, c, fs)
	}
}

// printCommandHelp prints one command's synopsis and flags.
func printCommandHelp(w io.Writer, cmd command, fs *flag.FlagSet) {
	synopsis := "raftnode " + cmd.name + " [flags]"
	if cmd.args != "" {
		synopsis += " " + cmd.args
	}
	fmt.Fprintf(w, "Usage: %s\n  %s\n\nFlags:\n", synopsis, cmd.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// isTerminal reports whether f is a character device, such as a terminal.
// TERM=dumb counts as no terminal.
func isTerminal(f *os.File) bool {
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
