// Package rafttest is a deterministic simulator for the Raft protocol core
// (raft.Core), with an invariant checker and a runner for readable scenario
// scripts.
//
// A Sim runs N cores in one goroutine. Every input is an Action chosen by the
// caller: deliver, drop or duplicate one queued message, tick a node, sync a
// node's storage, cut or heal links, crash or restart a node, propose a
// command or start a linearizable read. Each node has simulated storage with
// a durable part and an unsynced part: the writes of a Ready become durable
// only when the node is synced, the messages that wait for them leave only
// then, and a crash loses everything not synced. The same Config and the same
// actions give the same history, byte for byte; Sim.Hash digests it.
//
// After every action the checker verifies the safety properties of Raft
// (Ongaro and Ousterhout, "In Search of an Understandable Consensus
// Algorithm", 2014, figure 3): Election Safety, Leader Append-Only, Log
// Matching, Leader Completeness and State Machine Safety, plus monotonic
// commit and apply indexes per node lifetime and linearizable read indexes.
// The first violation is kept and returned by Sim.Violation.
//
// RunSchedule drives a Sim with random actions drawn from a seed, and Shrink
// removes actions from a failing schedule while the violation still
// reproduces. RunScript runs a scenario script: commands, each followed by its
// expected output.
package rafttest
