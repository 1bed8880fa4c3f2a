// Package wire holds the messages of the Raft protocol and of the client
// requests, their msgpack codecs, and the subjects, handler interfaces and
// client stubs of the Peer and Client services. Everything except this
// file is generated from schema/raft.schema by gen/. To change it, edit the
// schema and run "go generate ./..." instead of editing generated files.
//
// A message encodes as a msgpack map from field id to value. Zero fields
// are left out, and decoders skip field ids they do not know, so nodes of
// different versions can exchange messages as long as ids are never
// reused. Unmarshal aliases the input for bytes fields: the decoded message
// shares memory with the buffer it was decoded from. UnmarshalWithLimits,
// DispatchPeerWithLimits and DispatchClientWithLimits also bound the input's
// size and the memory that decoding allocates, for input from peers that
// are not trusted to keep within the max message size.
package wire

// The module root's go:generate directive writes the Go files of this
// package. This one writes docs/protocol.md, the protocol description for
// implementers in other languages, from the same schemas.
//go:generate go run ../../gen -schema ../../schema -root ../.. -code=false -doc docs/protocol.md
