package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft/wire"
)

// Environment variables that turn the test binary into a child process of
// a test: childRoleEnv names the role and childDirEnv the store directory.
const (
	childRoleEnv = "WAL_TEST_CHILD_ROLE"
	childDirEnv  = "WAL_TEST_CHILD_DIR"
)

func TestMain(m *testing.M) {
	switch role := os.Getenv(childRoleEnv); role {
	case "":
		os.Exit(m.Run())
	case "crashwriter":
		os.Exit(runCrashWriter(os.Getenv(childDirEnv)))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", childRoleEnv, role)
		os.Exit(2)
	}
}

// childEnv returns the environment of a child process with role on the
// store in dir.
func childEnv(role, dir string) []string {
	// A binary built with -race sleeps for a second at exit unless GORACE
	// sets atexit_sleep_ms.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	return append(os.Environ(), childRoleEnv+"="+role, childDirEnv+"="+dir, "GORACE="+gorace)
}

// crashOptions are the options of the crash writer and of the test that
// checks its store: segments of 64 KiB, so that a round writes several.
func crashOptions() Options {
	opts := testOptions()
	opts.Cluster = "crash"
	opts.SegmentSize = 64 << 10
	return opts
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
// crashEntry entries to the store in dir until it is killed. It prints a
// line after each write returns: "ack LAST" after Append and "term T" after
// SetHardState. Before TruncateSuffix(FROM) it prints "truncating FROM" and
// before TruncatePrefix(UPTO) "compacting UPTO", because the entries they
// delete may be gone as soon as the call starts.
func runCrashWriter(dir string) int {
	s, err := Open(dir, crashOptions())
	if err != nil {
		fmt.Fprintf(os.Stderr, "crash writer: %v\n", err)
		return 1
	}
	last, _ := s.LastIndex()
	hs, _ := s.HardState()
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "crash writer: %v\n", err)
		return 1
	}
	fmt.Printf("ready %d\n", last)
	for batch := 1; ; batch++ {
		entries := make([]wire.Entry, 1+rng.IntN(128))
		for i := range entries {
			entries[i] = crashEntry(last + 1 + uint64(i))
		}
		if err := s.Append(entries); err != nil {
			return fail(err)
		}
		last = entries[len(entries)-1].Index
		fmt.Printf("ack %d\n", last)

		if batch%16 == 0 {
			hs.Term++
			if err := s.SetHardState(hs); err != nil {
				return fail(err)
			}
			fmt.Printf("term %d\n", hs.Term)
		}
		first, _ := s.FirstIndex()
		if batch%5 == 0 && last > first+200 {
			from := last - uint64(rng.IntN(150))
			fmt.Printf("truncating %d\n", from)
			if err := s.TruncateSuffix(from); err != nil {
				return fail(err)
			}
			last = from - 1
		}
		if last-first > 20000 {
			fmt.Printf("compacting %d\n", last-10000)
			if err := s.TruncatePrefix(last - 10000); err != nil {
				return fail(err)
			}
		}
	}
}

// crashProgress is what crash writers acknowledged before they were killed.
type crashProgress struct {
	acked, term, compacted uint64
}

// apply updates p with the lines that a crash writer printed. A line cut
// short by the kill is ignored. It returns the writer's "ready" index.
func (p *crashProgress) apply(out []byte) (ready uint64, err error) {
	sawReady := false
	for line := range strings.Lines(string(out)) {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		word, number, ok := strings.Cut(strings.TrimSpace(line), " ")
		value, err := strconv.ParseUint(number, 10, 64)
		if !ok || err != nil {
			return 0, fmt.Errorf("invalid line %q", line)
		}
		switch word {
		case "ready":
			ready, sawReady = value, true
		case "ack":
			p.acked = value
		case "truncating":
			p.acked = min(p.acked, value-1)
		case "term":
			p.term = value
		case "compacting":
			p.compacted = value
		default:
			return 0, fmt.Errorf("invalid line %q", line)
		}
	}
	if !sawReady {
		return 0, fmt.Errorf("no ready line in %q", out)
	}
	return ready, nil
}

// TestCrashRecovery kills a writing child process with SIGKILL at random
// moments and checks after each kill that the store opens and holds every
// write acknowledged before the kill, byte for byte.
//
// NOTE: SIGKILL ends the process but leaves the kernel's page cache, so
// this tests the process-crash path: the order of writes and recovery. It
// does not test fdatasync or power loss; TestTornTailCutOff builds the
// torn writes that a power loss can leave.
func TestCrashRecovery(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var p crashProgress
	for round := range rounds {
		before := p.acked
		out := runAndKillWriter(t, dir, time.Duration(5+rng.IntN(100))*time.Millisecond)
		ready, err := p.apply(out)
		if err != nil {
			t.Fatalf("round %d: crash writer output: %v", round, err)
		}
		if ready < before {
			t.Fatalf("round %d: the writer started at last index %d, below %d acknowledged earlier", round, ready, before)
		}
		checkCrashStore(t, dir, p)
	}
	if p.acked < 1000 {
		t.Errorf("writers acknowledged only %d entries in %d rounds, too few to test recovery", p.acked, rounds)
	}
	t.Logf("%d kills, %d entries acknowledged, term %d, compacted up to %d, %d segment files",
		rounds, p.acked, p.term, p.compacted, len(segmentFiles(t, dir)))
}

// runAndKillWriter starts a crash writer on dir, kills it with SIGKILL
// after delay from its first line, and returns its output.
func runAndKillWriter(t *testing.T, dir string, delay time.Duration) []byte {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = childEnv("crashwriter", dir)
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
	return append([]byte(first), rest...)
}

// checkCrashStore opens the store in dir and checks that it holds every
// entry up to p.acked (except those compacted), each equal to crashEntry,
// and a term of at least p.term.
func checkCrashStore(t *testing.T, dir string, p crashProgress) {
	t.Helper()
	s, err := Open(dir, crashOptions())
	if err != nil {
		t.Fatalf("Open after kill: %v", err)
	}
	defer s.Close()

	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if last < p.acked {
		t.Fatalf("LastIndex after kill = %d, want at least the acknowledged %d", last, p.acked)
	}
	if p.acked > 0 && (first == 0 || first > p.compacted+1) {
		t.Fatalf("FirstIndex after kill = %d, want at most %d (compacted up to %d)", first, p.compacted+1, p.compacted)
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
	if hs, err := s.HardState(); err != nil || hs.Term < p.term {
		t.Fatalf("HardState after kill = term %d, %v; want at least the acknowledged term %d", hs.Term, err, p.term)
	}
}
