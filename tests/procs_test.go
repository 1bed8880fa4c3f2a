package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Helpers that run the raftnode command as separate processes.

// buildRaftnode builds the raftnode command into a temporary directory and
// returns the binary's path.
func buildRaftnode(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err, "go env GOMOD")
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	require.FileExists(t, filepath.Join(root, "go.mod"), "module root from go env GOMOD")

	bin := filepath.Join(t.TempDir(), "raftnode")
	build := exec.Command("go", "build", "-o", bin, "./cmd/raftnode")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/raftnode:\n%s", out)
	return bin
}

// nodeProcess is a "raftnode run" process whose stderr goes to a file.
type nodeProcess struct {
	id      string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed
}

// startNodeProcess starts "raftnode run" for node id with the given flags.
// At cleanup it kills the process if it still runs, and prints its log if
// the test failed.
func startNodeProcess(t *testing.T, bin, id string, args ...string) *nodeProcess {
	t.Helper()
	p := &nodeProcess{id: id, logPath: filepath.Join(t.TempDir(), id+".log"), exited: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	require.NoError(t, err)
	defer logFile.Close()

	p.cmd = exec.Command(bin, append([]string{"run", "--id", id}, args...)...)
	p.cmd.Stdout = logFile
	p.cmd.Stderr = logFile
	require.NoError(t, p.cmd.Start(), "start raftnode run --id %s", id)
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()

	t.Cleanup(func() {
		if p.running() {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(p.logPath)
			t.Logf("log of node %s (pid %d):\n%s", id, p.cmd.Process.Pid, log)
		}
	})
	return p
}

func (p *nodeProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// signal sends sig to the process and waits up to timeout for it to exit.
// It returns the exit code, or -1 if the process was killed by a signal.
func (p *nodeProcess) signal(t *testing.T, sig syscall.Signal, timeout time.Duration) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig), "signal %v to node %s", sig, p.id)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("node %s (pid %d) still runs %s after signal %v", p.id, p.cmd.Process.Pid, timeout, sig)
	}
	var exitErr *exec.ExitError
	switch {
	case p.waitErr == nil:
		return 0
	case errors.As(p.waitErr, &exitErr):
		return exitErr.ExitCode()
	default:
		t.Fatalf("wait for node %s: %v", p.id, p.waitErr)
		return -1
	}
}

// cliResult is the outcome of one client command.
type cliResult struct {
	code   int
	stdout string
	stderr string
}

// runCLI runs the raftnode binary with args and returns its exit code and
// output. It fails the test if the command does not exit within limit.
func runCLI(t *testing.T, bin string, limit time.Duration, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "raftnode %v did not exit within %s; stderr: %s", args, limit, stderr.String())
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run raftnode %v: %v", args, err)
	}
	return cliResult{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// statusRow is one line of "raftnode status".
type statusRow struct {
	node, role, term, leader, last, commit, applied string
}

// parseStatus parses the table that "raftnode status" prints.
func parseStatus(t *testing.T, out string) []statusRow {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, []string{"NODE", "ROLE", "TERM", "LEADER", "LAST", "COMMIT", "APPLIED"}, strings.Fields(lines[0]), "status header")
	var rows []statusRow
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		require.Len(t, f, 7, "status row %q", line)
		rows = append(rows, statusRow{f[0], f[1], f[2], f[3], f[4], f[5], f[6]})
	}
	return rows
}
