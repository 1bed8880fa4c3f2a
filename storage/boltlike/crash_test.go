package boltlike

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft/wire"
)

// Environment variables that turn the test binary into a child process of
// a test: childRoleEnv names the role and childPathEnv the store file.
const (
	childRoleEnv = "BOLTLIKE_TEST_CHILD_ROLE"
	childPathEnv = "BOLTLIKE_TEST_CHILD_PATH"
)

func TestMain(m *testing.M) {
	switch role := os.Getenv(childRoleEnv); role {
	case "":
		os.Exit(m.Run())
	case "crashwriter":
		os.Exit(runCrashWriter(os.Getenv(childPathEnv)))
	case "flipcheck":
		os.Exit(runFlipCheck(os.Getenv(childPathEnv)))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", childRoleEnv, role)
		os.Exit(2)
	}
}

// childEnv returns the environment of a child process with role on the
// store at path.
func childEnv(role, path string) []string {
	// A binary built with -race sleeps for a second at exit unless GORACE
	// sets atexit_sleep_ms.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	return append(os.Environ(), childRoleEnv+"="+role, childPathEnv+"="+path, "GORACE="+gorace)
}

// crashEntry returns the entry that the crash writer stores at index: its
// term, length and bytes are a function of the index alone.
func crashEntry(index uint64) wire.Entry {
	rng := rand.New(rand.NewPCG(index, 0x5eed))
	data := make([]byte, 16+rng.IntN(300))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	return wire.Entry{Index: index, Term: 1 + index/5000, Type: wire.EntryTypeCommand, Data: data}
}

// runCrashWriter is the child of TestCrashRecovery. It appends batches of
// crashEntry entries to the store at path until it is killed, and prints a
// line after each write returns: "ack LAST" after Append, "term T" after
// SetHardState and "compact UPTO" after TruncatePrefix.
func runCrashWriter(path string) int {
	s, err := Open(path, Options{Cluster: "crash", Node: "n1", Logger: quietLogger})
	if err != nil {
		fmt.Fprintf(os.Stderr, "crash writer: %v\n", err)
		return 1
	}
	last, _ := s.LastIndex()
	hs, _ := s.HardState()
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	fmt.Printf("ready %d\n", last)
	for batch := 0; ; batch++ {
		entries := make([]wire.Entry, 1+rng.IntN(128))
		for i := range entries {
			entries[i] = crashEntry(last + 1 + uint64(i))
		}
		if err := s.Append(entries); err != nil {
			fmt.Fprintf(os.Stderr, "crash writer: %v\n", err)
			return 1
		}
		last = entries[len(entries)-1].Index
		fmt.Printf("ack %d\n", last)

		if batch%16 == 0 {
			hs.Term++
			if err := s.SetHardState(hs); err != nil {
				fmt.Fprintf(os.Stderr, "crash writer: %v\n", err)
				return 1
			}
			fmt.Printf("term %d\n", hs.Term)
		}
		if first, _ := s.FirstIndex(); last-first > 20000 {
			if err := s.TruncatePrefix(last - 10000); err != nil {
				fmt.Fprintf(os.Stderr, "crash writer: %v\n", err)
				return 1
			}
			fmt.Printf("compact %d\n", last-10000)
		}
	}
}

// crashProgress is what a crash writer acknowledged before it was killed.
type crashProgress struct {
	ready, acked, term, compacted uint64
	sawReady                      bool
}

// parseCrashOutput reads the crash writer's lines. A line cut short by the
// kill is ignored.
func parseCrashOutput(out []byte) (crashProgress, error) {
	var p crashProgress
	for line := range strings.Lines(string(out)) {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		word, number, ok := strings.Cut(strings.TrimSpace(line), " ")
		value, err := strconv.ParseUint(number, 10, 64)
		if !ok || err != nil {
			return p, fmt.Errorf("invalid line %q", line)
		}
		switch word {
		case "ready":
			p.ready, p.sawReady = value, true
		case "ack":
			p.acked = value
		case "term":
			p.term = value
		case "compact":
			p.compacted = value
		default:
			return p, fmt.Errorf("invalid line %q", line)
		}
	}
	return p, nil
}

// TestCrashRecovery kills a writing child process with SIGKILL at random
// moments and checks after each kill that the store opens and holds every
// write acknowledged before the kill, with the right contents.
//
// NOTE: SIGKILL ends the process but leaves the kernel's page cache, so
// this tests the process-crash path: bbolt's commit protocol and this
// package's recovery. It does not test fsync or power loss.
func TestCrashRecovery(t *testing.T) {
	rounds := 24
	if testing.Short() {
		rounds = 5
	}
	path := filepath.Join(t.TempDir(), "raft.db")
	rng := rand.New(rand.NewPCG(1, 2))
	var acked, term, compacted uint64
	for round := range rounds {
		p := runAndKillWriter(t, path, time.Duration(5+rng.IntN(100))*time.Millisecond)
		if p.ready < acked {
			t.Fatalf("round %d: the writer started at last index %d, below %d acknowledged earlier", round, p.ready, acked)
		}
		acked, term, compacted = max(acked, p.acked), max(term, p.term), max(compacted, p.compacted)
		checkCrashStore(t, path, acked, term, compacted)
	}
	if acked < 1000 {
		t.Errorf("writers acknowledged only %d entries in %d rounds, too few to test recovery", acked, rounds)
	}
	t.Logf("%d kills, %d entries acknowledged, term %d, compacted up to %d", rounds, acked, term, compacted)
}

// runAndKillWriter starts a crash writer on path, kills it with SIGKILL
// after delay from its first line, and returns what it acknowledged.
func runAndKillWriter(t *testing.T, path string, delay time.Duration) crashProgress {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = childEnv("crashwriter", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crash writer: %v", err)
	}

	r := bufio.NewReader(stdout)
	first, err := r.ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("crash writer exited before its first line: %v; stderr: %s", err, stderr.String())
	}

	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill crash writer: %v", err)
	}

	rest, _ := io.ReadAll(r)
	err = cmd.Wait()
	if status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !status.Signaled() {
		t.Fatalf("crash writer ended by itself (%v) instead of being killed; stderr: %s", err, stderr.String())
	}

	p, err := parseCrashOutput(append([]byte(first), rest...))
	if err != nil {
		t.Fatalf("crash writer output: %v", err)
	}
	return p
}

// checkCrashStore opens the store at path and checks that it holds every
// entry up to acked (except those compacted), each equal to crashEntry, and
// a term of at least term.
func checkCrashStore(t *testing.T, path string, acked, term, compacted uint64) {
	t.Helper()
	s, err := Open(path, Options{Cluster: "crash", Node: "n1", Logger: quietLogger})
	if err != nil {
		t.Fatalf("Open after kill: %v", err)
	}
	defer s.Close()

	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if last < acked {
		t.Fatalf("LastIndex after kill = %d, want at least the acknowledged %d", last, acked)
	}
	if acked > 0 && (first == 0 || first > compacted+1) {
		t.Fatalf("FirstIndex after kill = %d, want at most %d (compacted up to %d)", first, compacted+1, compacted)
	}
	for lo := first; lo != 0 && lo <= last; {
		entries, err := s.Entries(lo, last+1, 1<<20)
		if err != nil {
			t.Fatalf("Entries(%d, %d) after kill: %v", lo, last+1, err)
		}
		for _, e := range entries {
			want := crashEntry(e.Index)
			if e.Term != want.Term || e.Type != want.Type || !bytes.Equal(e.Data, want.Data) {
				t.Fatalf("entry %d after kill = {term %d, %d bytes}, want {term %d, %d bytes}", e.Index, e.Term, len(e.Data), want.Term, len(want.Data))
			}
		}
		lo += uint64(len(entries))
	}
	if hs, err := s.HardState(); err != nil || hs.Term < term {
		t.Fatalf("HardState after kill = term %d, %v; want at least the acknowledged term %d", hs.Term, err, term)
	}
	if err := s.Verify(); err != nil {
		t.Fatalf("Verify after kill: %v", err)
	}
}
