// Package statemachine provides KV, a replicated key-value state machine
// that implements raft.StateMachine, and the helpers clients use to encode
// its commands and decode its results.
//
// Commands and results are the kvwire messages generated from
// schema/kv.schema. Every key carries a revision that each write increments,
// so a command applied twice is visible to clients and to tests. Snapshots
// use a deterministic, checksummed encoding, so two nodes with the same
// state produce the same snapshot bytes and the same Digest.
//
// WithSessions wraps KV, or any other raft.StateMachine, in client
// sessions: each client numbers its commands, and a command sent again
// after a lost reply gets the recorded result instead of being applied
// twice. The session messages are generated from schema/session.schema
// into statemachine/sessionwire.
//
// The package must not depend on NATS or on any store. Its only inputs are
// the commands the node passes to Apply and Read, and the readers and
// writers of snapshots.
package statemachine
