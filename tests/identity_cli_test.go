package tests

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// TestRunRejectsDuplicateIDAndChangedPeers starts a three-process cluster
// and checks that raftnode run refuses a second process with an id already
// serving, and a restart with other peers than the log records.
func TestRunRejectsDuplicateIDAndChangedPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raftnode processes")
	}
	bin := buildRaftnode(t)
	srv, err := embedded.Start(embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)

	common := []string{"--cluster", "idc", "--nats", srv.ClientURL(), "--prefix", "test.idc",
		"--election-timeout", "500ms", "--heartbeat", "50ms"}
	dirs := map[string]string{}
	c := &procCluster{bin: bin, url: srv.ClientURL(), nodes: map[string]*nodeProcess{},
		client: []string{"--nats", srv.ClientURL(), "--cluster", "idc", "--prefix", "test.idc", "--timeout", procClientTimeout}}
	for _, id := range []string{"n1", "n2", "n3"} {
		dirs[id] = filepath.Join(t.TempDir(), id)
		args := append([]string{"--peers", "n1,n2,n3", "--data", dirs[id]}, common...)
		c.nodes[id] = startNodeProcess(t, bin, id, args...)
	}
	c.waitLeader(t, "")
	// The write commits the leader's configuration entry on every node.
	require.Equal(t, 0, c.cli(t, "put", "k", "v").code)

	dup := runCLI(t, bin, procCommandLimit, append([]string{"run", "--id", "n1", "--peers", "n1,n2,n3",
		"--data", filepath.Join(t.TempDir(), "dup")}, common...)...)
	assert.Equal(t, 2, dup.code, "second process as n1: stderr %s", dup.stderr)
	assert.Contains(t, dup.stderr, "already serves node \"n1\"")

	require.Equal(t, 0, c.nodes["n1"].signal(t, syscall.SIGTERM, procShutdownBound))
	changed := runCLI(t, bin, procCommandLimit, append([]string{"run", "--id", "n1", "--peers", "n1",
		"--data", dirs["n1"]}, common...)...)
	assert.Equal(t, 2, changed.code, "restart with other peers: stderr %s", changed.stderr)
	assert.Contains(t, changed.stderr, "the log records voters [n1 n2 n3]")

	// With its original peers the node starts again.
	args := append([]string{"--peers", "n1,n2,n3", "--data", dirs["n1"]}, common...)
	c.nodes["n1"] = startNodeProcess(t, bin, "n1", args...)
	time.Sleep(200 * time.Millisecond)
	assert.True(t, c.nodes["n1"].running(), "n1 did not start again with its original peers")
}
