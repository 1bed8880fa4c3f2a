package storagetest

import (
	"testing"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// RunStableStore runs the StableStore conformance tests. newStore must
// return a new, empty store for each call.
func RunStableStore(t *testing.T, newStore func(t *testing.T) raft.StableStore) {
	t.Run("empty store", func(t *testing.T) {
		checkHardState(t, newStore(t), wire.HardState{})
	})
	t.Run("round trip", func(t *testing.T) {
		s := newStore(t)
		mustSetHardState(t, s, wire.HardState{Term: 5, Vote: "n2"})
		checkHardState(t, s, wire.HardState{Term: 5, Vote: "n2"})
	})
	t.Run("overwrite", func(t *testing.T) {
		s := newStore(t)
		mustSetHardState(t, s, wire.HardState{Term: 5, Vote: "n2"})
		mustSetHardState(t, s, wire.HardState{Term: 6, Vote: "n3"})
		checkHardState(t, s, wire.HardState{Term: 6, Vote: "n3"})
	})
	t.Run("vote cleared", func(t *testing.T) {
		s := newStore(t)
		mustSetHardState(t, s, wire.HardState{Term: 5, Vote: "n2"})
		mustSetHardState(t, s, wire.HardState{Term: 7})
		checkHardState(t, s, wire.HardState{Term: 7})
	})
	t.Run("large term and long vote", func(t *testing.T) {
		s := newStore(t)
		st := wire.HardState{Term: 1<<64 - 1, Vote: "node-with-a-rather-long-identifier.example"}
		mustSetHardState(t, s, st)
		checkHardState(t, s, st)
	})
}

func mustSetHardState(t *testing.T, s raft.StableStore, st wire.HardState) {
	t.Helper()
	if err := s.SetHardState(st); err != nil {
		t.Fatalf("SetHardState(term %d, vote %q): %v", st.Term, st.Vote, err)
	}
}

func checkHardState(t *testing.T, s raft.StableStore, want wire.HardState) {
	t.Helper()
	got, err := s.HardState()
	if err != nil {
		t.Fatalf("HardState: %v", err)
	}
	if got.Term != want.Term || got.Vote != want.Vote {
		t.Errorf("HardState = {term %d, vote %q}, want {term %d, vote %q}", got.Term, got.Vote, want.Term, want.Vote)
	}
}
