// Package sessionwire holds the messages of client sessions
// (statemachine.WithSessions) and their msgpack codecs. Everything except
// this file is generated from schema/session.schema by gen/. To change it,
// edit the schema and run "go generate ./..." instead of editing generated
// files.
//
// Encoding rules are those of package raft/wire: a msgpack map from field
// id to value, zero fields left out, unknown ids skipped, and bytes fields
// aliasing the decoded input.
package sessionwire
