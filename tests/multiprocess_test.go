package tests

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// Bounds of the multi-process test. They only limit how long a failing test
// waits; none of them is a performance assertion.
const (
	procCommandLimit   = 30 * time.Second // one client command, retries included
	procElectionBound  = 20 * time.Second // until status shows a leader
	procFailoverBound  = 30 * time.Second // until writes succeed after the kill
	procShutdownBound  = 15 * time.Second // from SIGTERM to exit
	procClientTimeout  = "3s"             // --timeout of each client command
	procKeysBefore     = 20               // writes before the kill
	procAckedAfterKill = 10               // acknowledged writes required after the kill
)

// procCluster is three "raftnode run" processes on one embedded NATS server.
type procCluster struct {
	bin    string
	url    string
	nodes  map[string]*nodeProcess
	client []string // flags shared by the client commands
}

func startProcCluster(t *testing.T) *procCluster {
	t.Helper()
	bin := buildRaftnode(t)
	srv, err := embedded.Start(embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)

	c := &procCluster{
		bin:    bin,
		url:    srv.ClientURL(),
		nodes:  map[string]*nodeProcess{},
		client: []string{"--nats", srv.ClientURL(), "--cluster", "mp", "--prefix", "test.mp", "--timeout", procClientTimeout},
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		c.nodes[id] = startNodeProcess(t, bin, id, "--cluster", "mp", "--peers", "n1,n2,n3", "--nats", c.url,
			"--prefix", "test.mp", "--election-timeout", "500ms", "--heartbeat", "50ms", "--log-level", "debug",
			"--data", filepath.Join(t.TempDir(), id))
	}
	return c
}

// cli runs a client command: args[0] is the command, the rest its arguments.
func (c *procCluster) cli(t *testing.T, args ...string) cliResult {
	t.Helper()
	all := append(append([]string{args[0]}, c.client...), args[1:]...)
	return runCLI(t, c.bin, procCommandLimit, all...)
}

// waitLeader polls "raftnode status" until a node other than exclude reports
// itself leader, and returns its id and the status rows.
func (c *procCluster) waitLeader(t *testing.T, exclude string) (string, []statusRow) {
	t.Helper()
	deadline := time.Now().Add(procElectionBound)
	var last cliResult
	for time.Now().Before(deadline) {
		last = c.cli(t, "status")
		if last.code == 0 {
			rows := parseStatus(t, last.stdout)
			for _, r := range rows {
				if r.role == "leader" && r.node != exclude {
					return r.node, rows
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no leader other than %q within %s; last status exit code %d:\n%s%s",
		exclude, procElectionBound, last.code, last.stdout, last.stderr)
	return "", nil
}

func TestMultiProcessLeaderKillKeepsAckedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds raftnode and starts three processes; skipped with -short")
	}
	c := startProcCluster(t)
	oldLeader, rows := c.waitLeader(t, "")
	require.Len(t, rows, 3, "status rows: %v", rows)

	acked := map[string]string{}
	for i := range procKeysBefore {
		key, value := fmt.Sprintf("before-%02d", i), fmt.Sprintf("value %d before the kill", i)
		r := c.cli(t, "put", key, value)
		require.Equal(t, 0, r.code, "put %s: %s", key, r.stderr)
		acked[key] = value
	}
	r := c.cli(t, "get", "before-07")
	require.Equal(t, 0, r.code, "get before-07: %s", r.stderr)
	assert.Equal(t, "value 7 before the kill", r.stdout)
	r = c.cli(t, "get", "never-written")
	assert.Equal(t, 3, r.code, "get of a missing key: stdout %q, stderr %q", r.stdout, r.stderr)

	require.Equal(t, -1, c.nodes[oldLeader].signal(t, syscall.SIGKILL, procShutdownBound), "exit of the killed leader")
	t.Logf("killed leader %s", oldLeader)

	unknown := writeUntilAcked(t, c, acked)

	newLeader, rows := c.waitLeader(t, oldLeader)
	assert.NotEqual(t, oldLeader, newLeader)
	var answered []string
	for _, row := range rows {
		answered = append(answered, row.node)
		assert.Equal(t, newLeader, row.leader, "leader named by %s", row.node)
	}
	assert.NotContains(t, answered, oldLeader, "status rows: %v", rows)
	assert.Len(t, answered, 2, "status rows: %v", rows)

	checkAckedReadable(t, c, acked, unknown)
	stopSurvivors(t, c, oldLeader)
}

// writeUntilAcked writes keys "after-NNN" until procAckedAfterKill of them
// are acknowledged, within procFailoverBound. It adds acknowledged writes to
// acked and returns the writes whose outcome is unknown (exit code 4).
func writeUntilAcked(t *testing.T, c *procCluster, acked map[string]string) map[string]string {
	t.Helper()
	unknown := map[string]string{}
	start := time.Now()
	var firstAck time.Duration
	ackedAfter, notApplied := 0, 0
	for i := 0; ackedAfter < procAckedAfterKill; i++ {
		require.Less(t, time.Since(start), procFailoverBound,
			"only %d writes acknowledged after the kill (%d not applied, %d unknown)", ackedAfter, notApplied, len(unknown))
		key, value := fmt.Sprintf("after-%03d", i), "value after the kill "+strconv.Itoa(i)
		r := c.cli(t, "put", key, value)
		switch r.code {
		case 0:
			acked[key] = value
			if ackedAfter == 0 {
				firstAck = time.Since(start)
			}
			ackedAfter++
		case 1:
			notApplied++
		case 4:
			unknown[key] = value
		default:
			t.Fatalf("put %s: unexpected exit code %d: %s", key, r.code, r.stderr)
		}
		if r.code != 0 {
			t.Logf("put %s: exit code %d: %s", key, r.code, r.stderr)
		}
	}
	t.Logf("writes after the kill: %d acknowledged, %d not applied, %d unknown, first success after %s",
		ackedAfter, notApplied, len(unknown), firstAck.Round(time.Millisecond))
	return unknown
}

// checkAckedReadable reads every acknowledged key and checks its value. A
// write with unknown outcome may be applied or not, but not garbled.
func checkAckedReadable(t *testing.T, c *procCluster, acked, unknown map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		r := c.cli(t, "get", key)
		if assert.Equal(t, 0, r.code, "get acknowledged key %s: %s", key, r.stderr) {
			assert.Equal(t, acked[key], r.stdout, "value of %s", key)
		}
	}
	for key, value := range unknown {
		r := c.cli(t, "get", key)
		if r.code == 0 {
			assert.Equal(t, value, r.stdout, "value of %s, written with unknown outcome", key)
			continue
		}
		assert.Equal(t, 3, r.code, "get %s, written with unknown outcome: %s", key, r.stderr)
	}
}

// stopSurvivors sends SIGTERM to the nodes still running and checks that
// they exit with code 0.
func stopSurvivors(t *testing.T, c *procCluster, killed string) {
	t.Helper()
	for id, p := range c.nodes {
		if id == killed {
			continue
		}
		require.True(t, p.running(), "node %s exited before the end of the test", id)
		assert.Equal(t, 0, p.signal(t, syscall.SIGTERM, procShutdownBound), "exit code of node %s after SIGTERM", id)
	}
}
