// Package tests holds cross-package tests: Raft clusters on an embedded NATS
// server, fault injection, and tests that run the raftnode command as
// separate processes. It has no code outside its tests.
package tests
