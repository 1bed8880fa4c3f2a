package rafttest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft"
)

// Bounds of the random part of the mutation check.
const (
	mutationSchedules = 20000
	mutationTime      = 5 * time.Minute
)

// TestMutationDetected runs in a build with a planted bug (go test -tags
// mutation_<name>, see raft/mutation_off.go) and fails unless the scenarios
// or the random schedules detect the bug. It reports which scenarios caught
// it and after how many random schedules.
func TestMutationDetected(t *testing.T) {
	if raft.Mutation == "" {
		t.Skip("normal build: run with -tags mutation_vote_not_persisted, mutation_commit_old_term, mutation_ack_before_durable or mutation_apply_twice")
	}
	var caught []string
	for _, path := range scriptFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		res := runScriptFile(t, path)
		switch {
		case res.Violation != nil:
			caught = append(caught, fmt.Sprintf("scenario %s: %v", name, res.Violation))
		case len(res.Mismatches) > 0:
			m := res.Mismatches[0]
			caught = append(caught, fmt.Sprintf("scenario %s: output differs at line %d (%s)", name, m.Line, m.Command))
		}
	}

	start := time.Now()
	plan := scheduleRun{first: 1, count: mutationSchedules}
	tot := runSchedulesUntil(t, plan, defaultSteps, start.Add(mutationTime))
	random := fmt.Sprintf("random schedules: not caught in %d schedules (%v)", tot.schedules, time.Since(start).Round(time.Second))
	if tot.failed != nil {
		random = fmt.Sprintf("random schedules: caught by seed %d after %d schedules (%v): %v",
			tot.failedSeed, tot.schedules, time.Since(start).Round(time.Second), tot.failed.Violation)
	}
	fmt.Printf("mutation %s:\n  %s\n  %s\n", raft.Mutation, strings.Join(caught, "\n  "), random)
	if len(caught) == 0 && tot.failed == nil {
		t.Fatalf("mutation %s was not detected: no scenario failed and %s", raft.Mutation, random)
	}
}

// runSchedulesUntil runs the planned seeds in order, one at a time so that
// the first failing seed is also the number of schedules run, until a
// violation or the deadline.
func runSchedulesUntil(t *testing.T, plan scheduleRun, steps int, deadline time.Time) *scheduleTotals {
	tot := &scheduleTotals{nodes: map[int]int{}}
	for seed := plan.first; seed < plan.first+plan.count && time.Now().Before(deadline); seed++ {
		res, err := RunSchedule(seed, steps)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		tot.add(seed, res)
		if res.Violation != nil {
			break
		}
	}
	return tot
}
