// Package enumonly is generated from gen/testdata/enumonly.schema, a schema
// without messages or services, so that this edge of the generator is
// compiled.
package enumonly
