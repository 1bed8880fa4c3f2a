package rafttest

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft"
)

// Sizes of the default run: schedules and random actions per schedule.
// 1000 schedules of 3000 actions took 38 s with -race on the project's
// 2-core machine (see docs/testing.md).
const (
	defaultSchedules = 1000
	defaultSteps     = 3000
	shrinkBudget     = 2 * time.Minute
)

// scheduleRun is the plan of one TestRandomSchedules run, from the
// environment: NATSRAFT_SEED replays one seed, NATSRAFT_SOAK runs for a
// duration from a seed based on the clock, and by default seeds 1 to
// defaultSchedules run.
type scheduleRun struct {
	first    uint64
	count    uint64        // 0 with a soak
	duration time.Duration // soak only
	replay   bool
}

func planScheduleRun(t *testing.T) scheduleRun {
	if v := os.Getenv("NATSRAFT_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("invalid NATSRAFT_SEED %q: use a non-negative integer", v)
		}
		return scheduleRun{first: seed, count: 1, replay: true}
	}
	if v := os.Getenv("NATSRAFT_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("invalid NATSRAFT_SOAK %q: use a positive duration such as 10m", v)
		}
		return scheduleRun{first: uint64(time.Now().UnixNano()) >> 16 << 16, duration: d}
	}
	if testing.Short() {
		return scheduleRun{first: 1, count: defaultSchedules / 10}
	}
	return scheduleRun{first: 1, count: defaultSchedules}
}

// scheduleTotals adds up the stats of many schedules.
type scheduleTotals struct {
	mu         sync.Mutex
	schedules  int
	nodes      map[int]int
	steps      int
	faults     int
	operations int
	failed     *Result
	failedSeed uint64
}

func (tot *scheduleTotals) add(seed uint64, res *Result) {
	tot.mu.Lock()
	defer tot.mu.Unlock()
	tot.schedules++
	tot.nodes[res.Config.Nodes]++
	tot.steps += res.Stats.Steps
	tot.faults += res.Stats.Faults
	tot.operations += res.Stats.Proposals + res.Stats.Reads
	if res.Violation != nil && (tot.failed == nil || seed < tot.failedSeed) {
		tot.failed, tot.failedSeed = res, seed
	}
}

func (tot *scheduleTotals) violations() int {
	tot.mu.Lock()
	defer tot.mu.Unlock()
	if tot.failed == nil {
		return 0
	}
	return 1
}

// runSchedules runs the planned seeds on one worker per CPU and stops
// after the first violation.
func runSchedules(t *testing.T, plan scheduleRun, steps int) *scheduleTotals {
	tot := &scheduleTotals{nodes: map[int]int{}}
	seeds := make(chan uint64)
	go func() {
		defer close(seeds)
		deadline := time.Now().Add(plan.duration)
		for seed := plan.first; ; seed++ {
			if plan.count > 0 && seed >= plan.first+plan.count {
				return
			}
			if plan.count == 0 && time.Now().After(deadline) {
				return
			}
			if tot.violations() > 0 {
				return
			}
			seeds <- seed
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				res, err := RunSchedule(seed, steps)
				if err != nil {
					t.Errorf("seed %d: %v", seed, err)
					continue
				}
				tot.add(seed, res)
			}
		}()
	}
	wg.Wait()
	return tot
}

func TestRandomSchedules(t *testing.T) {
	if raft.Mutation != "" {
		t.Skipf("mutation build (%s): TestMutationDetected runs the random schedules", raft.Mutation)
	}
	plan := planScheduleRun(t)
	start := time.Now()
	tot := runSchedules(t, plan, defaultSteps)
	elapsed := time.Since(start).Round(time.Millisecond)
	if tot.failed != nil {
		reportFailure(t, tot.failedSeed, tot.failed)
	} else if plan.replay {
		t.Logf("seed %d: no violation", plan.first)
	}
	// The summary goes to standard output, so that it shows without -v
	// wherever go test shows the test binary's output.
	fmt.Printf("rafttest: %d schedules (%d of 3 nodes, %d of 5 nodes), %d steps, %d faults injected, %d operations checked, %d violations, in %v\n",
		tot.schedules, tot.nodes[3], tot.nodes[5], tot.steps, tot.faults, tot.operations, tot.violations(), elapsed)
}

// reportFailure shrinks a failing schedule and fails the test with the
// seed, the shrunk schedule and the command that replays it.
func reportFailure(t *testing.T, seed uint64, res *Result) {
	t.Helper()
	v := res.Violation
	shrunk := Shrink(res.Config, res.Actions, v.Property, shrinkBudget)
	s, err := Replay(res.Config, shrunk)
	if err != nil {
		t.Fatalf("seed %d: replay of the shrunk schedule: %v", seed, err)
	}
	if sv := s.Violation(); sv != nil {
		v = sv
	}
	var trace string
	if os.Getenv("NATSRAFT_SEED") != "" {
		trace = "\ntrace of the shrunk schedule:\n" + traceReplay(res.Config, shrunk)
	}
	t.Fatalf("seed %d (%s): %v\n\nshrunk fault schedule (%d of %d actions) as a scenario script; save it in testdata and run with -rewrite to record its outputs:\n\n%s\nreplay: NATSRAFT_SEED=%d go test ./raft/rafttest -run TestRandomSchedules -v%s",
		seed, res.Config, v, len(shrunk), len(res.Actions), ScheduleScript(res.Config, shrunk, v), seed, trace)
}

// traceReplay replays actions with tracing on and returns the trace.
func traceReplay(cfg Config, actions []Action) string {
	s, err := NewSim(cfg)
	if err != nil {
		return err.Error()
	}
	s.EnableTrace(true)
	var b strings.Builder
	for _, a := range actions {
		if err := s.Do(a); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "> %v\n", a)
		for _, line := range s.TakeTrace() {
			fmt.Fprintf(&b, "  %s\n", line)
		}
		if s.Violation() != nil {
			return b.String()
		}
	}
	b.WriteString("> settle\n")
	_ = s.Settle()
	for _, line := range s.TakeTrace() {
		fmt.Fprintf(&b, "  %s\n", line)
	}
	return b.String()
}

func TestScheduleDeterministic(t *testing.T) {
	for _, seed := range []uint64{7, 8} {
		a, err := RunSchedule(seed, 2000)
		if err != nil {
			t.Fatal(err)
		}
		b, err := RunSchedule(seed, 2000)
		if err != nil {
			t.Fatal(err)
		}
		if a.Hash != b.Hash {
			t.Errorf("seed %d: two runs have different histories: %x and %x", seed, a.Hash, b.Hash)
		}
		if FormatActions(a.Actions) != FormatActions(b.Actions) {
			t.Errorf("seed %d: two runs took different actions", seed)
		}
		s, err := Replay(a.Config, a.Actions)
		if err != nil {
			t.Fatal(err)
		}
		if s.Hash() != a.Hash {
			t.Errorf("seed %d: replaying the recorded actions gave another history", seed)
		}
	}
	a, _ := RunSchedule(7, 2000)
	b, _ := RunSchedule(8, 2000)
	if a.Hash == b.Hash {
		t.Errorf("seeds 7 and 8 have the same history hash %x: the hash misses the history", a.Hash)
	}
}
