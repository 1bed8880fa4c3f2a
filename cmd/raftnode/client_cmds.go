package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/natsraft/natsraft/kvclient"
	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

func setupPut(fs *flag.FlagSet) runFunc {
	o := registerClientOptions(fs)
	return o.runner(clientCall{name: "put", checkArgs: keyArgs(2, "KEY VALUE"), do: doPut})
}

func setupDelete(fs *flag.FlagSet) runFunc {
	o := registerClientOptions(fs)
	return o.runner(clientCall{name: "delete", checkArgs: keyArgs(1, "KEY"), do: doDelete})
}

func setupGet(fs *flag.FlagSet) runFunc {
	o := registerClientOptions(fs)
	stale := fs.Bool("stale", false, "read from one node's state machine without confirming with the leader: works without a leader, but may miss acknowledged writes")
	node := fs.String("node", "", "node `id` to read from with --stale; any node that answers by default")
	return o.runner(clientCall{
		name: "get",
		checkArgs: func(args []string) error {
			if *node != "" && !*stale {
				return errors.New("--node is set without --stale: add --stale, as only stale reads go to a chosen node")
			}
			return keyArgs(1, "KEY")(args)
		},
		do: func(ctx context.Context, e *env, kv *kvclient.Client, args []string) int {
			if *stale {
				return doGetStale(ctx, e, kv, args[0], *node)
			}
			return doGet(ctx, e, kv, args[0])
		},
	})
}

func setupCompareAndSet(fs *flag.FlagSet) runFunc {
	o := registerClientOptions(fs)
	absent := fs.Bool("absent", false, "expect KEY to be absent: then the arguments are KEY NEW, without OLD")
	return o.runner(clientCall{
		name: "cas",
		checkArgs: func(args []string) error {
			if *absent {
				return keyArgs(2, "KEY NEW with --absent")(args)
			}
			return keyArgs(3, "KEY OLD NEW (or --absent KEY NEW)")(args)
		},
		do: func(ctx context.Context, e *env, kv *kvclient.Client, args []string) int {
			return doCompareAndSet(ctx, e, kv, args, *absent)
		},
	})
}

func setupIncrement(fs *flag.FlagSet) runFunc {
	o := registerClientOptions(fs)
	return o.runner(clientCall{
		name: "incr",
		checkArgs: func(args []string) error {
			if len(args) == 2 {
				if _, err := strconv.ParseInt(args[1], 10, 64); err != nil {
					return fmt.Errorf("invalid DELTA %q: use a decimal integer, such as 1 or -5", args[1])
				}
				args = args[:1]
			}
			return keyArgs(1, "KEY [DELTA]")(args)
		},
		do: doIncrement,
	})
}

func setupStatus(fs *flag.FlagSet) runFunc {
	o := registerClientOptions(fs)
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	return o.runner(clientCall{
		name:      "status",
		checkArgs: noArgs("status"),
		do: func(ctx context.Context, e *env, kv *kvclient.Client, _ []string) int {
			return doStatus(ctx, e, kv, *asJSON)
		},
	})
}

func doPut(ctx context.Context, e *env, kv *kvclient.Client, args []string) int {
	revision, err := kv.Put(ctx, args[0], []byte(args[1]))
	if err != nil {
		return writeFailure(e, "put", err)
	}
	fmt.Fprintf(e.stdout, "put %q: revision %d\n", args[0], revision)
	return exitOK
}

func doDelete(ctx context.Context, e *env, kv *kvclient.Client, args []string) int {
	existed, err := kv.Delete(ctx, args[0])
	if err != nil {
		return writeFailure(e, "delete", err)
	}
	if !existed {
		fmt.Fprintf(e.stdout, "delete %q: key did not exist\n", args[0])
		return exitOK
	}
	fmt.Fprintf(e.stdout, "delete %q: deleted\n", args[0])
	return exitOK
}

func doCompareAndSet(ctx context.Context, e *env, kv *kvclient.Client, args []string, absent bool) int {
	key, expected, value := args[0], []byte(nil), []byte(args[len(args)-1])
	if !absent {
		expected = []byte(args[1])
	}
	revision, err := kv.CompareAndSet(ctx, key, expected, absent, value)
	var failed *kvclient.CompareFailedError
	switch {
	case errors.As(err, &failed):
		if !failed.Found {
			return failure(e, "cas", exitCompareFailed, fmt.Errorf("key %q does not exist; nothing was written", key))
		}
		return failure(e, "cas", exitCompareFailed, fmt.Errorf("key %q holds %s at revision %d; nothing was written",
			key, quoteForMessage(failed.Value), failed.Revision))
	case err != nil:
		return writeFailure(e, "cas", err)
	}
	fmt.Fprintf(e.stdout, "cas %q: set, revision %d\n", key, revision)
	return exitOK
}

// doIncrement prints only the new value, so scripts can use it.
func doIncrement(ctx context.Context, e *env, kv *kvclient.Client, args []string) int {
	delta := int64(1)
	if len(args) == 2 {
		// checkArgs has parsed it once already.
		delta, _ = strconv.ParseInt(args[1], 10, 64)
	}
	n, err := kv.Increment(ctx, args[0], delta)
	if err != nil {
		return writeFailure(e, "incr", err)
	}
	fmt.Fprintln(e.stdout, n)
	return exitOK
}

// quoteForMessage quotes a value for a message, cut to 64 bytes.
func quoteForMessage(value []byte) string {
	const limit = 64
	if len(value) <= limit {
		return strconv.Quote(string(value))
	}
	return strconv.Quote(string(value[:limit])) + fmt.Sprintf(" (%d bytes in all)", len(value))
}

// doGet prints only the value. It adds a newline when stdout is a terminal,
// so scripts get the value byte for byte.
func doGet(ctx context.Context, e *env, kv *kvclient.Client, key string) int {
	value, _, err := kv.Get(ctx, key)
	return printValue(e, key, value, err)
}

// doGetStale reads from one node and reports that node on stderr.
func doGetStale(ctx context.Context, e *env, kv *kvclient.Client, key, node string) int {
	v, err := kv.GetStale(ctx, key, node)
	if v.Node != "" {
		fmt.Fprintf(e.stderr, "raftnode get: stale read from node %s at applied index %d; it may miss acknowledged writes\n", v.Node, v.Index)
	}
	return printValue(e, key, v.Value, err)
}

// printValue prints the outcome of a get and returns its exit code.
func printValue(e *env, key string, value []byte, err error) int {
	switch {
	case errors.Is(err, kvclient.ErrKeyNotFound):
		return failure(e, "get", exitNotFound, fmt.Errorf("key %q not found", key))
	case err != nil:
		return failure(e, "get", exitFailure, withNoLeaderHint(err))
	}
	_, _ = e.stdout.Write(value)
	if e.stdoutTerminal {
		fmt.Fprintln(e.stdout)
	}
	return exitOK
}

func doStatus(ctx context.Context, e *env, kv *kvclient.Client, asJSON bool) int {
	replies, err := kv.Status(ctx)
	if err != nil {
		return failure(e, "status", exitFailure,
			fmt.Errorf("%w (check that the nodes run, and that --cluster and --prefix match theirs)", err))
	}
	if asJSON {
		err = printStatusJSON(e, replies)
	} else {
		err = printStatusTable(e, replies)
	}
	if err != nil {
		return failure(e, "status", exitFailure, err)
	}
	return exitOK
}

func printStatusTable(e *env, replies []*wire.StatusResponse) error {
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
	return tw.Flush()
}

// statusJSON is the output of "status --json".
type statusJSON struct {
	Cluster string `json:"cluster"`
	// Leader is the node that reports itself leader in the highest term,
	// or "" when none does.
	Leader string `json:"leader"`
	// Term is the highest term any node reports.
	Term  uint64           `json:"term"`
	Nodes []nodeStatusJSON `json:"nodes"`
}

// nodeStatusJSON is one node's view in "status --json".
type nodeStatusJSON struct {
	Node         string   `json:"node"`
	Role         string   `json:"role"`
	Term         uint64   `json:"term"`
	Leader       string   `json:"leader"`
	FirstIndex   uint64   `json:"first_index"`
	LastIndex    uint64   `json:"last_index"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Voters       []string `json:"voters"`
}

func printStatusJSON(e *env, replies []*wire.StatusResponse) error {
	out := statusJSON{Nodes: make([]nodeStatusJSON, 0, len(replies))}
	var leaderTerm uint64
	for _, r := range replies {
		out.Cluster = r.GetCluster()
		out.Term = max(out.Term, r.GetTerm())
		if r.GetRole() == raft.RoleLeader.String() && (out.Leader == "" || r.GetTerm() > leaderTerm) {
			out.Leader, leaderTerm = r.GetNode(), r.GetTerm()
		}
		voters := r.GetVoters()
		if voters == nil {
			voters = []string{}
		}
		out.Nodes = append(out.Nodes, nodeStatusJSON{
			Node: r.GetNode(), Role: r.GetRole(), Term: r.GetTerm(), Leader: r.GetLeader(),
			FirstIndex: r.GetFirstIndex(), LastIndex: r.GetLastIndex(), CommitIndex: r.GetCommitIndex(),
			AppliedIndex: r.GetAppliedIndex(), Voters: voters,
		})
	}
	// One line, so that line-oriented tools can read a stream of them.
	return json.NewEncoder(e.stdout).Encode(out)
}
