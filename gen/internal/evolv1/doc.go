// Package evolv1 is generated from gen/testdata/evolution_v1.schema, the
// first version of a schema that evolves. The evolution test in package
// evolv2 exchanges messages between the two versions.
package evolv1
