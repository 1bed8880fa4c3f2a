// Package alltypes is generated from gen/testdata/alltypes.schema, which
// uses every feature of the schema language. It exists so that the
// generator's output for every type is compiled and tested. The generator's
// golden test compares its output with the files of this package.
package alltypes
