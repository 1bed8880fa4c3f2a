// Package evolv2 is generated from gen/testdata/evolution_v2.schema, the
// second version of gen/testdata/evolution_v1.schema. Its tests encode
// messages with each version and decode them with the other, as nodes of
// different versions do.
package evolv2
