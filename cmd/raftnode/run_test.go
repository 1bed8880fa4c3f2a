package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runArgs returns the flags of a one-node cluster on srvURL.
func runArgs(srvURL, id string, extra ...string) []string {
	args := []string{"run", "--id", id, "--peers", id, "--cluster", "c1", "--nats", srvURL,
		"--election-timeout", "300ms", "--heartbeat", "50ms", "--log-level", "info"}
	return append(args, extra...)
}

// runUntilLeader runs a one-node cluster until it has elected itself and
// applied a write, then stops it and returns the result of the run.
func runUntilLeader(t *testing.T, srvURL string, args []string) result {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan result, 1)
	go func() { done <- runCommand(ctx, args...) }()

	common := []string{"--nats", srvURL, "--cluster", "c1", "--timeout", "10s"}
	r := runCommand(t.Context(), append(append([]string{"incr"}, common...), "restarts")...)
	cancel()
	run := <-done
	require.Equal(t, exitOK, r.code, "incr: %s\nrun log:\n%s", r.stderr, run.stderr)
	return run
}

func TestRunKeepsStateInData(t *testing.T) {
	for _, tc := range []struct {
		store, logPath string
		logIsDir       bool
	}{
		{"bolt", "raft.db", false},
		{"wal", "wal", true},
	} {
		t.Run(tc.store, func(t *testing.T) {
			srv := startServer(t)
			dir := filepath.Join(t.TempDir(), "n1")
			args := func() []string { return runArgs(srv.ClientURL(), "n1", "--data", dir, "--store", tc.store) }

			first := runUntilLeader(t, srv.ClientURL(), args())
			assert.Equal(t, exitOK, first.code, "exit code after cancel; log:\n%s", first.stderr)
			if tc.logIsDir {
				assert.DirExists(t, filepath.Join(dir, tc.logPath))
			} else {
				assert.FileExists(t, filepath.Join(dir, tc.logPath))
			}
			assert.DirExists(t, filepath.Join(dir, "snapshots"))
			assert.Contains(t, first.stderr, "state at stop")

			second := runUntilLeader(t, srv.ClientURL(), args())
			assert.Equal(t, exitOK, second.code, "log:\n%s", second.stderr)

			common := []string{"--nats", srv.ClientURL(), "--cluster", "c1", "--timeout", "10s"}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan result, 1)
			go func() { done <- runCommand(ctx, args()...) }()
			r := runCommand(t.Context(), append(append([]string{"get"}, common...), "restarts")...)
			cancel()
			third := <-done
			require.Equal(t, exitOK, r.code, "get: %s\nrun log:\n%s", r.stderr, third.stderr)
			assert.Equal(t, "2", r.stdout, "one increment per run survived the restarts")
		})
	}
}

func TestRunRejectsOtherStoreKind(t *testing.T) {
	srv := startServer(t)
	dir := filepath.Join(t.TempDir(), "n1")
	first := runUntilLeader(t, srv.ClientURL(), runArgs(srv.ClientURL(), "n1", "--data", dir, "--store", "wal"))
	require.Equal(t, exitOK, first.code, "log:\n%s", first.stderr)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r := runCommand(ctx, runArgs(srv.ClientURL(), "n1", "--data", dir, "--store", "bolt")...)
	assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, "contains a log of --store wal")
	assert.NoFileExists(t, filepath.Join(dir, "raft.db"), "the refused run created a bbolt file")
}

func TestRunRejectsAnotherNodesData(t *testing.T) {
	srv := startServer(t)
	dir := filepath.Join(t.TempDir(), "n1")
	first := runUntilLeader(t, srv.ClientURL(), runArgs(srv.ClientURL(), "n1", "--data", dir))
	require.Equal(t, exitOK, first.code, "log:\n%s", first.stderr)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r := runCommand(ctx, runArgs(srv.ClientURL(), "n2", "--data", dir)...)
	assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, "belongs to another node")
	assert.Contains(t, r.stderr, `cluster "c1" node "n1"`)
	assert.Contains(t, r.stderr, "check --data, --id and --cluster")

	r = runCommand(ctx, "run", "--id", "n1", "--peers", "n1", "--cluster", "other", "--nats", srv.ClientURL(), "--data", dir)
	assert.Equal(t, exitUsage, r.code, "another cluster on the directory; stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, "belongs to another node")
}

func TestRunMemoryStoreWarns(t *testing.T) {
	srv := startServer(t)
	run := runUntilLeader(t, srv.ClientURL(), runArgs(srv.ClientURL(), "n1", "--store", "memory"))
	assert.Equal(t, exitOK, run.code, "log:\n%s", run.stderr)
	assert.Contains(t, run.stderr, "never restart it under the same id")
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotEqual(t, "raft.db", e.Name(), "a memory node wrote a store file")
	}
}

func TestRunRejectsUnusableDataDirectory(t *testing.T) {
	srv := startServer(t)
	base := t.TempDir()
	both := filepath.Join(base, "both")
	require.NoError(t, os.MkdirAll(filepath.Join(both, "wal"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(both, "wal", "META"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(both, "raft.db"), []byte("x"), 0o600))
	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	emptyWAL := filepath.Join(base, "empty-wal")
	require.NoError(t, os.MkdirAll(filepath.Join(emptyWAL, "wal"), 0o700))

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, store := range []string{"bolt", "wal"} {
		r := runCommand(ctx, runArgs(srv.ClientURL(), "n1", "--data", both, "--store", store)...)
		assert.Equal(t, exitUsage, r.code, "both kinds, --store %s: %s", store, r.stderr)
		assert.Contains(t, r.stderr, "contains a log of --store bolt (raft.db) and one of --store wal (wal)")

		r = runCommand(ctx, runArgs(srv.ClientURL(), "n1", "--data", file, "--store", store)...)
		assert.Equal(t, exitUsage, r.code, "--data is a file, --store %s: %s", store, r.stderr)
		assert.Contains(t, r.stderr, "is a file, not a directory")
	}
	// An empty wal directory holds no log, so a bolt node may use the
	// directory.
	run := runUntilLeader(t, srv.ClientURL(), runArgs(srv.ClientURL(), "n1", "--data", emptyWAL, "--store", "bolt"))
	assert.Equal(t, exitOK, run.code, "log:\n%s", run.stderr)
}
