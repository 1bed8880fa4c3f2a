package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// result is the outcome of one in-process command.
type result struct {
	code   int
	stdout string
	stderr string
}

// runCommand runs raftnode with args in process.
func runCommand(ctx context.Context, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := runMain(ctx, &env{stdout: &stdout, stderr: &stderr}, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestRunRejectsInvalidFlags(t *testing.T) {
	valid := []string{"--id", "n1", "--cluster", "c1", "--peers", "n1,n2,n3", "--nats", "nats://127.0.0.1:1", "--store", "memory"}
	tests := []struct {
		name  string
		args  []string
		error string
	}{
		{"empty peer in list", []string{"--peers", "n1,,n3"}, `invalid peer id ""`},
		{"id not in peers", []string{"--peers", "n2,n3,n4"}, `do not include this node "n1"`},
		{"peer listed twice", []string{"--peers", "n1,n2,n2"}, `peer "n2" is listed twice`},
		{"peer with a dot", []string{"--peers", "n1,n2.x"}, `invalid peer id "n2.x"`},
		{"invalid node id", []string{"--id", "n*", "--peers", "n*,n2"}, `invalid node id "n*"`},
		{"missing id", []string{"--id", ""}, "missing --id"},
		{"missing peers", []string{"--peers", ""}, "missing --peers"},
		{"missing cluster", []string{"--cluster", ""}, "missing --cluster"},
		{"unparsable duration", []string{"--election-timeout", "1x"}, `invalid value "1x" for flag -election-timeout`},
		{"duration without unit", []string{"--heartbeat", "100"}, `invalid value "100" for flag -heartbeat`},
		{"negative heartbeat", []string{"--heartbeat", "-5ms"}, "invalid --heartbeat -5ms"},
		{"zero election timeout", []string{"--election-timeout", "0s"}, "invalid --election-timeout 0s"},
		{"election timeout too short", []string{"--election-timeout", "150ms", "--heartbeat", "100ms"}, "less than twice HeartbeatInterval"},
		{"unknown log level", []string{"--log-level", "loud"}, `invalid value "loud" for flag -log-level`},
		{"password without user", []string{"--password", "secret"}, "--password is set without --user"},
		{"missing creds file", []string{"--creds", "/nonexistent/user.creds"}, `invalid --creds "/nonexistent/user.creds"`},
		{"positional argument", []string{"extra"}, `unexpected arguments ["extra"]`},
		{"bolt without data", []string{"--store", "bolt"}, "missing --data"},
		{"data with memory store", []string{"--data", "/tmp/x"}, "is set with --store memory"},
		{"unknown store", []string{"--store", "disk"}, `invalid --store "disk"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run"}, valid...), tt.args...)
			r := runCommand(t.Context(), args...)
			assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stderr, tt.error)
			assert.Contains(t, r.stderr, `raftnode run -h`)
		})
	}
}

func TestClientCommandsRejectInvalidArgs(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		error string
	}{
		{"put with one argument", []string{"put", "--cluster", "c1", "k"}, `got 1 arguments ["k"], expected KEY VALUE`},
		{"get with two arguments", []string{"get", "--cluster", "c1", "k", "v"}, "expected KEY"},
		{"get with empty key", []string{"get", "--cluster", "c1", ""}, "the key is empty"},
		{"status with argument", []string{"status", "--cluster", "c1", "x"}, `unexpected arguments ["x"]`},
		{"missing cluster", []string{"get", "k"}, "missing --cluster"},
		{"zero timeout", []string{"get", "--cluster", "c1", "--timeout", "0s", "k"}, "invalid --timeout 0s"},
		{"creds and user", []string{"delete", "--cluster", "c1", "--creds", "main.go", "--user", "u", "k"}, "both --creds and --user"},
		{"unknown flag", []string{"put", "--cluster", "c1", "--ttl", "5", "k", "v"}, "flag provided but not defined: -ttl"},
		{"cas with two arguments", []string{"cas", "--cluster", "c1", "k", "new"}, "expected KEY OLD NEW (or --absent KEY NEW)"},
		{"cas absent with three arguments", []string{"cas", "--cluster", "c1", "--absent", "k", "old", "new"}, "expected KEY NEW with --absent"},
		{"cas with empty key", []string{"cas", "--cluster", "c1", "", "old", "new"}, "the key is empty"},
		{"incr with invalid delta", []string{"incr", "--cluster", "c1", "k", "two"}, `invalid DELTA "two"`},
		{"incr without key", []string{"incr", "--cluster", "c1"}, "expected KEY [DELTA]"},
		{"node without stale", []string{"get", "--cluster", "c1", "--node", "n1", "k"}, "--node is set without --stale"},
		{"status with json argument", []string{"status", "--cluster", "c1", "--json", "x"}, `unexpected arguments ["x"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCommand(t.Context(), tt.args...)
			assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stderr, tt.error)
		})
	}
}

func TestDemoRejectsInvalidFlags(t *testing.T) {
	for _, args := range [][]string{{"--keys", "0"}, {"--clients", "-1"}, {"--reads", "-1"}, {"--timeout", "0s"}} {
		r := runCommand(t.Context(), append([]string{"demo"}, args...)...)
		assert.Equal(t, exitUsage, r.code, "args %v, stderr: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "invalid "+args[0], "args %v", args)
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	r := runCommand(t.Context(), "start")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `unknown command "start"`)

	r = runCommand(t.Context())
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "Commands:")
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	r := runCommand(t.Context(), "help")
	require.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "Exit codes:")
	for _, cmd := range commands() {
		assert.Contains(t, r.stdout, "Usage: raftnode "+cmd.name)
		fs, _ := newFlagSet(cmd, &bytes.Buffer{})
		fs.VisitAll(func(f *flag.Flag) {
			// A boolean flag's line ends after its name.
			assert.Regexp(t, "(?m)^  -"+f.Name+"( |$)", r.stdout, "command %s, flag %s", cmd.name, f.Name)
		})

		r := runCommand(t.Context(), cmd.name, "-h")
		assert.Equal(t, exitOK, r.code, "%s -h", cmd.name)
		assert.True(t, strings.HasPrefix(r.stdout, "Usage: raftnode "+cmd.name), "%s -h printed %q", cmd.name, r.stdout)
	}
}

func TestParseArgsAcceptsFlagsAfterArguments(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cluster := fs.String("cluster", "", "")
	args, err := parseArgs(fs, []string{"key", "--cluster", "c1", "value"})
	require.NoError(t, err)
	assert.Equal(t, []string{"key", "value"}, args)
	assert.Equal(t, "c1", *cluster)

	args, err = parseArgs(fs, []string{"--cluster", "c2", "--", "key", "-1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"key", "-1"}, args)
	assert.Equal(t, "c2", *cluster)

	// A negative number is an argument, since no flag name starts with a
	// digit.
	args, err = parseArgs(fs, []string{"key", "-5", "--cluster", "c3", "-0.5"})
	require.NoError(t, err)
	assert.Equal(t, []string{"key", "-5", "-0.5"}, args)
	assert.Equal(t, "c3", *cluster)

	// A flag that takes a value takes a negative number too.
	args, err = parseArgs(fs, []string{"--cluster", "-7", "key"})
	require.NoError(t, err)
	assert.Equal(t, []string{"key"}, args)
	assert.Equal(t, "-7", *cluster)
}

func TestSplitListTrimsSpaces(t *testing.T) {
	assert.Equal(t, []string{"n1", "n2", "n3"}, splitList(" n1, n2 ,n3"))
	assert.Equal(t, []string{"n1", "", "n3"}, splitList("n1,,n3"))
	assert.Empty(t, splitList(" "))
}
