package raft

import "testing"

func TestEntrySizes(t *testing.T) {
	var s entrySizes
	for i := uint64(10); i < 20; i++ {
		s.add(i, int(i)) // entry i has size i
	}
	if got := s.between(10, 20); got != 145 {
		t.Fatalf("between(10, 20) = %d, want 145", got)
	}
	if got := s.between(12, 14); got != 25 {
		t.Fatalf("between(12, 14) = %d, want 25", got)
	}
	// Entries 12, 13, 14 take 39 bytes; with 15 they take 54.
	if got := s.fit(12, 20, 50); got != 15 {
		t.Fatalf("fit(12, 20, 50) = %d, want 15", got)
	}
	if got := s.fit(12, 20, 5); got != 13 {
		t.Fatalf("fit(12, 20, 5) = %d, want 13: at least one entry", got)
	}
	if got := s.fit(12, 14, 1000); got != 14 {
		t.Fatalf("fit(12, 14, 1000) = %d, want 14", got)
	}
	s.trim(14)
	if got := s.between(15, 17); got != 31 {
		t.Fatalf("between(15, 17) after trim = %d, want 31", got)
	}
	if got := s.between(5, 17); got != 31 {
		t.Fatalf("between(5, 17) after trim = %d, want 31: trimmed entries count 0", got)
	}
	s.truncate(16)
	s.add(16, 100)
	if got := s.between(15, 17); got != 115 {
		t.Fatalf("between(15, 17) after truncate and add = %d, want 115", got)
	}
	s.add(30, 7) // not contiguous: starts over
	if got := s.between(15, 31); got != 7 {
		t.Fatalf("between(15, 31) after restart = %d, want 7", got)
	}
}
