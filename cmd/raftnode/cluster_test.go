package main

import (
	"context"
	"encoding/json"
	"path/filepath"
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
	assert.Contains(t, r.stderr, "status on natsraft.empty.client.status: no node")
	assert.Contains(t, r.stderr, "check that the nodes run")
}

func TestRunNodesServeClientCommands(t *testing.T) {
	srv := startServer(t)
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i, id := range []string{"n1", "n2", "n3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = runCommand(ctx, "run", "--id", id, "--peers", "n1,n2,n3", "--cluster", "c1",
				"--nats", srv.ClientURL(), "--prefix", "test.raft", "--election-timeout", "300ms",
				"--heartbeat", "50ms", "--log-level", "error", "--data", filepath.Join(dataDir, id)).code
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
	testCompareAndSetCommand(t, client)
	testIncrementCommand(t, client)
	testStaleGet(t, client)
	testStatusJSON(t, client)

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

func testCompareAndSetCommand(t *testing.T, client func(args ...string) result) {
	r := client("cas", "--absent", "lock", "owner-1")
	require.Equal(t, exitOK, r.code, "cas --absent on a missing key: %s", r.stderr)
	assert.Contains(t, r.stdout, `cas "lock": set, revision 1`)

	r = client("cas", "--absent", "lock", "owner-2")
	assert.Equal(t, exitCompareFailed, r.code, "cas --absent on a stored key: %s", r.stderr)
	assert.Contains(t, r.stderr, `key "lock" holds "owner-1" at revision 1; nothing was written`)
	assert.Empty(t, r.stdout)

	r = client("cas", "lock", "owner-9", "owner-2")
	assert.Equal(t, exitCompareFailed, r.code, "cas with a wrong old value: %s", r.stderr)

	r = client("cas", "lock", "owner-1", "owner-2")
	require.Equal(t, exitOK, r.code, "cas with the right old value: %s", r.stderr)
	assert.Contains(t, r.stdout, "revision 2")

	r = client("cas", "missing", "x", "y")
	assert.Equal(t, exitCompareFailed, r.code, "cas on a missing key: %s", r.stderr)
	assert.Contains(t, r.stderr, `key "missing" does not exist`)

	r = client("get", "lock")
	assert.Equal(t, "owner-2", r.stdout)
}

func testIncrementCommand(t *testing.T, client func(args ...string) result) {
	r := client("incr", "hits")
	require.Equal(t, exitOK, r.code, "incr: %s", r.stderr)
	assert.Equal(t, "1\n", r.stdout)
	r = client("incr", "hits", "-5")
	require.Equal(t, exitOK, r.code, "incr -5: %s", r.stderr)
	assert.Equal(t, "-4\n", r.stdout)

	r = client("incr", "lock")
	assert.Equal(t, exitFailure, r.code, "incr of a value that is not a number: %s", r.stderr)
	assert.Contains(t, r.stderr, "not a decimal int64")
	assert.Contains(t, r.stderr, "nothing was changed")
}

func testStaleGet(t *testing.T, client func(args ...string) result) {
	for _, node := range []string{"n1", "n2", "n3"} {
		var r result
		// A follower applies the last write after the next heartbeat.
		require.Eventually(t, func() bool {
			r = client("get", "--stale", "--node", node, "lock")
			return r.code == exitOK && r.stdout == "owner-2"
		}, 10*time.Second, 20*time.Millisecond, "stale get from %s: %d %q %s", node, r.code, r.stdout, r.stderr)
		assert.Contains(t, r.stderr, "stale read from node "+node+" at applied index")
	}
	r := client("get", "--stale", "absent")
	assert.Equal(t, exitNotFound, r.code, "stale get of a missing key: %s", r.stderr)
	assert.Contains(t, r.stderr, "stale read from node")
	r = client("get", "--stale", "--node", "n7", "lock")
	assert.Equal(t, exitFailure, r.code, "stale get from a node that does not run: %s", r.stderr)
	assert.Contains(t, r.stderr, "node n7 does not run")
}

func testStatusJSON(t *testing.T, client func(args ...string) result) {
	r := client("status", "--json")
	require.Equal(t, exitOK, r.code, "status --json: %s", r.stderr)
	var status statusJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &status), "status --json output %q", r.stdout)
	assert.Equal(t, "c1", status.Cluster)
	require.Len(t, status.Nodes, 3)
	assert.NotEmpty(t, status.Leader)
	for _, n := range status.Nodes {
		assert.Equal(t, status.Leader, n.Leader, "leader named by %s", n.Node)
		assert.Equal(t, []string{"n1", "n2", "n3"}, n.Voters)
		assert.Positive(t, n.LastIndex, "last index of %s", n.Node)
		assert.Positive(t, n.Term, "term of %s", n.Node)
	}
	assert.Equal(t, 1, strings.Count(r.stdout, "\n"), "status --json prints one line")
}
