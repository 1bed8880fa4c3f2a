package tests

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// Exit codes of the raftnode command, as "raftnode help" lists them.
const (
	cliOK            = 0
	cliNotApplied    = 1
	cliUsage         = 2
	cliNotFound      = 3
	cliUnknown       = 4
	cliCompareFailed = 5
)

// cliStatus is the output of "raftnode status --json".
type cliStatus struct {
	Cluster string `json:"cluster"`
	Leader  string `json:"leader"`
	Term    uint64 `json:"term"`
	Nodes   []struct {
		Node         string `json:"node"`
		Role         string `json:"role"`
		Term         uint64 `json:"term"`
		Leader       string `json:"leader"`
		LastIndex    uint64 `json:"last_index"`
		CommitIndex  uint64 `json:"commit_index"`
		AppliedIndex uint64 `json:"applied_index"`
	} `json:"nodes"`
}

// cliCluster is three "raftnode run --data" processes on one embedded NATS
// server, and the flags that address them.
type cliCluster struct {
	bin     string
	url     string
	cluster string
	prefix  string
	dataDir string
	nodes   map[string]*nodeProcess
	// nodeArgs are the flags of "raftnode run" other than --id and --data.
	nodeArgs []string
	// client are the flags of the client commands.
	client []string
}

// startCLICluster builds raftnode and starts three nodes, each with a data
// directory of its own.
func startCLICluster(t *testing.T, cluster, electionTimeout string, extra ...string) *cliCluster {
	t.Helper()
	bin := buildRaftnode(t)
	srv, err := embedded.Start(embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	prefix := "test." + cluster
	c := &cliCluster{
		bin: bin, url: srv.ClientURL(), cluster: cluster, prefix: prefix, dataDir: t.TempDir(), nodes: map[string]*nodeProcess{},
		nodeArgs: []string{"--cluster", cluster, "--peers", "n1,n2,n3", "--nats", srv.ClientURL(), "--prefix", prefix,
			"--election-timeout", electionTimeout, "--heartbeat", "100ms", "--log-level", "debug"},
		// extra is appended below, so that it can override these flags.
		client: []string{"--nats", srv.ClientURL(), "--cluster", cluster, "--prefix", prefix},
	}
	c.nodeArgs = append(c.nodeArgs, extra...)
	for _, id := range []string{"n1", "n2", "n3"} {
		c.start(t, id)
	}
	return c
}

// start starts node id on its data directory.
func (c *cliCluster) start(t *testing.T, id string) {
	t.Helper()
	args := append([]string{"--data", filepath.Join(c.dataDir, id)}, c.nodeArgs...)
	c.nodes[id] = startNodeProcess(t, c.bin, id, args...)
}

// cli runs a client command with the given --timeout: args[0] is the
// command, the rest its flags and arguments.
func (c *cliCluster) cli(t *testing.T, timeout string, args ...string) cliResult {
	t.Helper()
	all := append(append([]string{args[0], "--timeout", timeout}, c.client...), args[1:]...)
	return runCLI(t, c.bin, procCommandLimit, all...)
}

// status runs "status --json" and decodes it. ok is false when no node
// replied.
func (c *cliCluster) status(t *testing.T) (cliStatus, bool) {
	t.Helper()
	r := c.cli(t, "2s", "status", "--json")
	if r.code != cliOK {
		return cliStatus{}, false
	}
	var st cliStatus
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), "status --json printed %q", r.stdout)
	return st, true
}

// waitLeader polls "status --json" until every running node names the same
// leader, and returns it.
func (c *cliCluster) waitLeader(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(procElectionBound)
	for time.Now().Before(deadline) {
		st, ok := c.status(t)
		if ok && st.Leader != "" && len(st.Nodes) == c.running() && agreeOnLeader(st) {
			return st.Leader
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no leader agreed on within %s", procElectionBound)
	return ""
}

func agreeOnLeader(st cliStatus) bool {
	for _, n := range st.Nodes {
		if n.Leader != st.Leader {
			return false
		}
	}
	return true
}

func (c *cliCluster) running() int {
	n := 0
	for _, p := range c.nodes {
		if p.running() {
			n++
		}
	}
	return n
}

// TestSessionCLIExitCodes provokes every exit code of the raftnode client
// commands through the real binary against real "raftnode run" processes.
func TestSessionCLIExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds raftnode and starts three processes; skipped with -short")
	}
	// A leader that stops hearing from its followers keeps leading for an
	// election timeout: long enough to send it a write it cannot commit.
	c := startCLICluster(t, "exitcodes", "2s")
	leader := c.waitLeader(t)

	r := c.cli(t, "10s", "put", "color", "blue")
	require.Equal(t, cliOK, r.code, "put: %s", r.stderr)

	r = c.cli(t, "10s", "get", "color")
	assert.Equal(t, cliOK, r.code, "get of a stored key: %s", r.stderr)
	assert.Equal(t, "blue", r.stdout, "get prints only the value")

	r = c.cli(t, "10s", "get", "never-written")
	assert.Equal(t, cliNotFound, r.code, "get of a missing key: %s", r.stderr)
	assert.Empty(t, r.stdout)

	r = c.cli(t, "10s", "cas", "color", "red", "green")
	assert.Equal(t, cliCompareFailed, r.code, "cas with a wrong old value: %s", r.stderr)
	assert.Contains(t, r.stderr, `key "color" holds "blue"`)
	r = c.cli(t, "10s", "cas", "--absent", "color", "green")
	assert.Equal(t, cliCompareFailed, r.code, "cas --absent on a stored key: %s", r.stderr)
	r = c.cli(t, "10s", "cas", "color", "blue", "green")
	assert.Equal(t, cliOK, r.code, "cas with the right old value: %s", r.stderr)

	r = c.cli(t, "10s", "put", "only-a-key")
	assert.Equal(t, cliUsage, r.code, "put without a value: %s", r.stderr)
	r = runCLI(t, c.bin, procCommandLimit, "frobnicate")
	assert.Equal(t, cliUsage, r.code, "unknown command: %s", r.stderr)

	// No node serves this cluster, so NATS reports no responders and
	// nothing was sent to a node.
	r = runCLI(t, c.bin, procCommandLimit, "put", "--nats", c.url, "--cluster", "nobody", "--timeout", "500ms", "k", "v")
	assert.Equal(t, cliNotApplied, r.code, "put without nodes: %s", r.stderr)
	assert.Contains(t, r.stderr, "the write was not applied")

	var followers []string
	for id, p := range c.nodes {
		if id != leader {
			followers = append(followers, id)
			require.Equal(t, -1, p.signal(t, syscall.SIGKILL, procShutdownBound), "exit of follower %s", id)
		}
	}
	r = c.cli(t, "500ms", "put", "color", "purple")
	assert.Equal(t, cliUnknown, r.code, "put to a leader without followers: %s", r.stderr)
	assert.Contains(t, r.stderr, "may still be applied")

	// Once the leader steps down, a write certainly reaches no leader.
	require.Eventually(t, func() bool {
		r = c.cli(t, "500ms", "put", "color", "orange")
		return r.code == cliNotApplied
	}, procFailoverBound, 100*time.Millisecond, "put after the leader stepped down: last exit code %d: %s", r.code, r.stderr)
	assert.Contains(t, r.stderr, "raft: no leader")

	// A killed follower's directory is free again, but it belongs to that
	// follower: another node id, here the other killed follower's, which
	// no process serves, must not start on it.
	runArgs := append([]string{"run", "--id", followers[1], "--data", filepath.Join(c.dataDir, followers[0])}, c.nodeArgs...)
	r = runCLI(t, c.bin, procCommandLimit, runArgs...)
	assert.Equal(t, cliUsage, r.code, "run on another node's data directory: %s", r.stderr)
	assert.Contains(t, r.stderr, "belongs to another node")
	assert.Contains(t, r.stderr, `node "`+followers[0]+`"`)
	assert.False(t, strings.Contains(r.stderr, "node running"), "the node started: %s", r.stderr)
}
