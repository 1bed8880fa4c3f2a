package main

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// startServer starts an embedded NATS server on a free 127.0.0.1 port.
func startServer(t *testing.T) *embedded.Server {
	t.Helper()
	srv, err := embedded.Start(embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	return srv
}

func TestDemoWritesAndVerifies(t *testing.T) {
	r := runCommand(t.Context(), "demo", "--keys", "300", "--clients", "8", "--reads", "300")
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "writes acknowledged: 300/300")
	assert.Contains(t, r.stdout, "reads checked:       300, 0 failed")
	assert.Contains(t, r.stdout, "OK: all 3 nodes")

	// One row per node, each with 300 keys and the same digest.
	rows := regexp.MustCompile(`(?m)^(n[123]) .* 300 +([0-9a-f]{64})$`).FindAllStringSubmatch(r.stdout, -1)
	require.Len(t, rows, 3, "stdout:\n%s", r.stdout)
	for _, row := range rows[1:] {
		assert.Equal(t, rows[0][2], row[2], "digest of %s", row[1])
	}
	// Without a terminal, progress is written as plain lines.
	assert.Contains(t, r.stderr, "writing: 300/300 (100%)")
	assert.NotContains(t, r.stderr, "\r")
}

func TestClientWithoutLeaderFailsAfterTimeout(t *testing.T) {
	srv := startServer(t)
	common := []string{"--nats", srv.ClientURL(), "--cluster", "empty", "--timeout", "300ms"}

	r := runCommand(t.Context(), append([]string{"put"}, append(common, "k", "v")...)...)
	if r.code == exitUnknown {
		// The deadline came while a request was in flight, before NATS
		// returned its no-responders status. The client cannot tell that
		// case from a leader that received the request and did not
		// reply in time, so the outcome is unknown.
		assert.Contains(t, r.stderr, "no reply before the deadline")
	} else {
		assert.Equal(t, exitFailure, r.code, "stderr: %s", r.stderr)
		assert.Contains(t, r.stderr, "raft: no leader")
		assert.Contains(t, r.stderr, "check that a majority of the nodes runs")
		assert.Contains(t, r.stderr, "the write was not applied")
	}

	r = runCommand(t.Context(), append([]string{"get"}, append(common, "k")...)...)
	assert.Equal(t, exitFailure, r.code, "stderr: %s", r.stderr)
	if !strings.Contains(r.stderr, "no reply before the deadline") {
		assert.Contains(t, r.stderr, "raft: no leader")
	}

	r = runCommand(t.Context(), append([]string{"status"}, common...)...)
	assert.Equal(t, exitFailure, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, "raftnode status: status on natsraft.empty.client.status: no node")
	assert.Contains(t, r.stderr, "check that the nodes run")
}

func TestRunNodesServeClientCommands(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i, id := range []string{"n1", "n2", "n3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = runCommand(ctx, "run", "--id", id, "--peers", "n1,n2,n3", "--cluster", "c1",
				"--nats", srv.ClientURL(), "--prefix", "test.raft", "--election-timeout", "300ms",
				"--heartbeat", "50ms", "--log-level", "error").code
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})

	client := func(args ...string) result {
		common := []string{"--nats", srv.ClientURL(), "--cluster", "c1", "--prefix", "test.raft", "--timeout", "10s"}
		return runCommand(t.Context(), append(append([]string{args[0]}, common...), args[1:]...)...)
	}
	r := client("put", "greeting", "hello world")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, `put "greeting": revision 1`)

	r = client("get", "greeting")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "hello world", r.stdout)

	r = client("get", "absent")
	assert.Equal(t, exitNotFound, r.code)
	assert.Contains(t, r.stderr, `key "absent" not found`)
	assert.Empty(t, r.stdout)

	r = client("delete", "greeting")
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "deleted")
	r = client("get", "greeting")
	assert.Equal(t, exitNotFound, r.code)

	requireStatusRows(t, client)

	cancel()
	wg.Wait()
	assert.Equal(t, []int{exitOK, exitOK, exitOK}, codes, "exit codes of the run commands after cancel")
}

// requireStatusRows checks that status lists the three nodes, one of them
// leader, and all naming the same leader.
func requireStatusRows(t *testing.T, client func(args ...string) result) {
	t.Helper()
	// Followers learn the commit index on the next heartbeat, so the rows
	// may briefly differ in APPLIED; the roles are settled by now.
	var rows [][]string
	require.Eventually(t, func() bool {
		r := client("status")
		if r.code != exitOK {
			return false
		}
		rows = nil
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
			rows = append(rows, strings.Fields(line))
		}
		return len(rows) == 3
	}, 10*time.Second, 50*time.Millisecond)

	var leaders []string
	for i, row := range rows {
		require.Len(t, row, 7, "row %v", row)
		assert.Equal(t, []string{"n1", "n2", "n3"}[i], row[0])
		if row[1] == "leader" {
			leaders = append(leaders, row[0])
		}
	}
	require.Len(t, leaders, 1, "rows %v", rows)
	for _, row := range rows {
		assert.Equal(t, leaders[0], row[3], "leader named by %s", row[0])
	}
}
