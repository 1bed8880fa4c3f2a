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
// shares memory with the buffer it was decoded from.
package wire
