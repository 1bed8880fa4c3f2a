package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files (the committed generated packages) from the schemas")

// moduleRoot is the module root as seen from the test's working directory.
const moduleRoot = ".."

// TestGolden generates every schema of testdata/ and of the module's
// schema/ directory and compares the result with the committed files
// under its output directory. Run "go test ./gen -update" to rewrite them
// after an intended change.
func TestGolden(t *testing.T) {
	module, err := modulePath(filepath.Join(moduleRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, dir := range []string{"testdata", filepath.Join(moduleRoot, "schema")} {
		found, err := filepath.Glob(filepath.Join(dir, "*.schema"))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, found...)
	}
	if len(paths) < 4 {
		t.Fatalf("found only %d schemas: %v", len(paths), paths)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := load(path, moduleRoot)
			if err != nil {
				t.Fatal(err)
			}
			outs, err := generate(f, module+"/"+runtimePath)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := writeOutputs(moduleRoot, f, outs); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, o := range outs {
				want, err := os.ReadFile(filepath.Join(moduleRoot, o.path))
				if err != nil {
					t.Fatalf("read golden file: %v (run go test ./gen -update)", err)
				}
				if !bytes.Equal(o.data, want) {
					t.Errorf("%s differs from the generator's output; run go test ./gen -update and review the diff", o.path)
				}
			}
		})
	}
}

// TestGenerateDeterministic generates every schema twice and compares.
func TestGenerateDeterministic(t *testing.T) {
	for _, path := range []string{"testdata/alltypes.schema", filepath.Join(moduleRoot, "schema", "raft.schema")} {
		var runs [2][]output
		for i := range runs {
			f, err := load(path, moduleRoot)
			if err != nil {
				t.Fatal(err)
			}
			if runs[i], err = generate(f, "example.com/m/msgp"); err != nil {
				t.Fatal(err)
			}
		}
		for i := range runs[0] {
			if !bytes.Equal(runs[0][i].data, runs[1][i].data) {
				t.Errorf("%s: two runs generated different %s", path, runs[0][i].path)
			}
		}
	}
}

// protocolDoc is the protocol document that go generate writes from the
// module's schemas, relative to the module root.
const protocolDoc = "docs/protocol.md"

// TestProtocolDocGolden generates the protocol document from the module's
// schemas and compares it with the committed docs/protocol.md. Run
// "go test ./gen -update" to rewrite it after an intended change.
func TestProtocolDocGolden(t *testing.T) {
	files, err := loadDir(filepath.Join(moduleRoot, "schema"), moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	got, err := emitProtocolDoc(files)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(moduleRoot, protocolDoc)
	if *update {
		if err := writeIfChanged(path, got); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run go test ./gen -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the generator's output; run go test ./gen -update and review the diff", protocolDoc)
	}
	again, err := emitProtocolDoc(files)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Error("two runs generated different protocol documents")
	}
}
