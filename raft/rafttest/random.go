package rafttest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// ConfigForSeed returns the cluster a random schedule with seed runs: 3 or 5
// nodes, pre-vote on or off, broadcast on or off, and small or large
// envelopes and windows, all drawn from the seed.
func ConfigForSeed(seed uint64) Config {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	return Config{
		Nodes:                []int{3, 5}[rng.IntN(2)],
		Seed:                 seed,
		ElectionTicks:        10,
		HeartbeatTicks:       1 + rng.IntN(3),
		PreVote:              rng.IntN(4) != 0,
		MaxEntriesPerMessage: []int{1, 2, 3, 64}[rng.IntN(4)],
		MaxInflight:          []int{1, 2, 4, 8}[rng.IntN(4)],
		MaxInflightBytes:     []uint64{0, 0, 64, 1024}[rng.IntN(4)],
		Broadcast:            rng.IntN(2) == 0,
	}
}

// Result is the outcome of a schedule.
type Result struct {
	Config Config
	// Actions are the random actions taken, before the final settling.
	Actions   []Action
	Violation *Violation
	Stats     Stats
	Hash      [32]byte
}

// RunSchedule runs steps random actions drawn from seed on the cluster of
// ConfigForSeed(seed), stopping at the first violation, then settles the
// cluster (see Settle). The same seed and steps give the same Result.
func RunSchedule(seed uint64, steps int) (*Result, error) {
	cfg := ConfigForSeed(seed)
	s, err := NewSim(cfg)
	if err != nil {
		return nil, err
	}
	g := newGenerator(s, seed)
	res := &Result{Config: cfg}
	for i := 0; i < steps && s.Violation() == nil; i++ {
		a := g.next()
		res.Actions = append(res.Actions, a)
		if err := s.Do(a); err != nil {
			return nil, fmt.Errorf("rafttest: seed %d step %d (%v): %w", seed, i+1, a, err)
		}
	}
	if s.Violation() == nil {
		if err := s.Settle(); err != nil {
			return nil, err
		}
	}
	res.Violation, res.Stats, res.Hash = s.Violation(), s.Stats(), s.Hash()
	return res, nil
}

// Replay runs actions on a new cluster of cfg and then settles it.
func Replay(cfg Config, actions []Action) (*Sim, error) {
	s, err := NewSim(cfg)
	if err != nil {
		return nil, err
	}
	for _, a := range actions {
		if err := s.Do(a); err != nil {
			return nil, err
		}
		if s.Violation() != nil {
			return s, nil
		}
	}
	return s, s.Settle()
}

// Shrink removes actions from a failing schedule as long as its replay
// still violates the same property, trying chunks of halving size, within
// the time budget. It returns the shortest failing schedule found.
func Shrink(cfg Config, actions []Action, property string, budget time.Duration) []Action {
	deadline := time.Now().Add(budget)
	fails := func(cand []Action) bool {
		s, err := Replay(cfg, cand)
		return err == nil && s.Violation() != nil && s.Violation().Property == property
	}
	cur := actions
	for chunk := max(len(cur)/2, 1); chunk >= 1 && time.Now().Before(deadline); {
		removed := false
		for i := 0; i < len(cur) && time.Now().Before(deadline); {
			end := min(i+chunk, len(cur))
			cand := append(append([]Action(nil), cur[:i]...), cur[end:]...)
			if fails(cand) {
				cur, removed = cand, true
				continue
			}
			i = end
		}
		if !removed {
			if chunk == 1 {
				break
			}
			chunk /= 2
		}
	}
	return cur
}

// ScheduleScript returns a failing schedule as a scenario script: the init
// command with cfg, each action, and the final settle. Saved in testdata
// and run with -rewrite, it records the outputs that lead to the violation.
func ScheduleScript(cfg Config, actions []Action, v *Violation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: a schedule found by random testing.\n\n", v.Property)
	fmt.Fprintf(&b, "init %s\n----\n\n", cfg)
	for _, line := range strings.Split(strings.TrimSuffix(FormatActions(actions), "\n"), "\n") {
		if line != "" {
			fmt.Fprintf(&b, "%s\n----\n\n", line)
		}
	}
	b.WriteString("settle\n----\n")
	return b.String()
}
