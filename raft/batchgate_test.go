package raft

import "testing"

func TestBatchGateBoundsUncommittedBatches(t *testing.T) {
	g := batchGate{max: 2}
	if !g.open(RoleLeader, 3, 0) {
		t.Fatal("gate closed with no batch in flight")
	}
	g.appended(3, 10)
	if !g.open(RoleLeader, 3, 0) {
		t.Fatal("gate closed with one of two batches in flight")
	}
	g.appended(3, 12)
	if g.open(RoleLeader, 3, 9) {
		t.Fatal("gate open with two batches in flight")
	}
	if !g.open(RoleLeader, 3, 10) {
		t.Fatal("gate closed after the first batch committed")
	}
	g.appended(3, 20)
	if g.open(RoleLeader, 3, 11) {
		t.Fatal("gate open with batches ending at 12 and 20 in flight")
	}
	if !g.open(RoleLeader, 3, 20) || len(g.ends) != 0 {
		t.Fatalf("after commit 20: ends %v, want none", g.ends)
	}
}

func TestBatchGateOpensWhenLeadershipEnds(t *testing.T) {
	g := batchGate{max: 1}
	g.appended(3, 10)
	if g.open(RoleLeader, 3, 5) {
		t.Fatal("gate open with a batch in flight")
	}
	if !g.open(RoleFollower, 3, 5) {
		t.Fatal("gate closed on a follower: queued proposals would never fail with NotLeader")
	}
	g.appended(3, 10)
	if !g.open(RoleLeader, 4, 5) {
		t.Fatal("gate closed in a new term by a batch of the old one")
	}
}
