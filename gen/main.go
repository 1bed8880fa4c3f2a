// Command gen generates the Go wire types, msgpack codecs and RPC bindings
// of natsraft from the schema files. Run it through go generate from the
// module root:
//
//	go run ./gen -schema schema -root .
//
// Each schema/<name>.schema becomes <output>/<name>.gen.go and, when the
// schema declares services, <output>/<name>_rpc.gen.go. Schema errors are
// printed as "file:line: message" and make the command exit with status 1;
// no file is written then. Unchanged files are not rewritten.
//
// With -doc FILE (relative to the module root), the command also writes the
// wire protocol document for the schemas: the template gen/protocol.md.tmpl
// with reference tables of every enum, message and service. -code=false
// writes the document only.
//
// # Schema language
//
// docs/schema.md documents the language for users. In short, a schema
// file starts with "package NAME" and "output DIR" (relative to the module
// root) and declares, in any order:
//
//	enum Name { <number> ValueName ... }
//	message Name { <id> field_name: type ... reserved <id>, <id> }
//	service Name { stream|oneway|request Rpc(Request) [returns (Response)] subject "suffix" }
//
// Field types are bool, int64, uint64, float64, string, bytes, list<T>, an
// enum name or a message name. Field ids run from 1 to 2^31-1 and are the
// map keys of the msgpack encoding, so an id must never change meaning: a
// removed field's id goes under "reserved". Comment lines ("// ...")
// directly above a declaration become its Go doc comment. Comments before
// "package" are copied into the generated file header. A comment at the
// end of a line with a declaration is ignored.
//
// A service holds either request rpcs (NATS request/reply) or stream and
// oneway rpcs (published messages, with stream responses on the subject
// suffix plus ".resp"), not both.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

//go:generate go run . -schema testdata -root ..

// runtimePath is the msgpack runtime package, relative to the module path.
const runtimePath = "raft/wire/msgp"

func main() {
	var opts options
	flag.StringVar(&opts.schemaDir, "schema", "schema", "directory of the *.schema files")
	flag.StringVar(&opts.root, "root", ".", "module root: the directory of go.mod, against which output directories are resolved")
	flag.StringVar(&opts.doc, "doc", "", "path of the protocol document to write, relative to the module root; empty writes none")
	flag.BoolVar(&opts.code, "code", true, "write the Go files; -code=false with -doc writes only the document")
	flag.Parse()
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	schemaDir, root string
	// doc is the protocol document's path relative to root, or empty.
	doc string
	// code enables the Go files.
	code bool
}

// output is one generated file.
type output struct {
	path string
	data []byte
}

func run(opts options) error {
	module, err := modulePath(filepath.Join(opts.root, "go.mod"))
	if err != nil {
		return err
	}
	files, err := loadDir(opts.schemaDir, opts.root)
	if err != nil {
		return err
	}
	// The document is rendered first, so a template error writes nothing.
	var doc []byte
	if opts.doc != "" {
		clean := path.Clean(opts.doc)
		if path.IsAbs(opts.doc) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("-doc %s: the document's path must be relative to the module root and inside it", opts.doc)
		}
		if doc, err = emitProtocolDoc(files); err != nil {
			return err
		}
	}

	if opts.code {
		for _, f := range files {
			outs, err := generate(f, module+"/"+runtimePath)
			if err != nil {
				return err
			}
			if err := writeOutputs(opts.root, f, outs); err != nil {
				return err
			}
		}
	}
	if opts.doc != "" {
		return writeIfChanged(filepath.Join(opts.root, filepath.FromSlash(opts.doc)), doc)
	}
	return nil
}

// loadDir loads every *.schema file of dir, sorted by path, and reports
// the errors of all of them.
func loadDir(dir, root string) ([]*File, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.schema"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no *.schema files in %s", dir)
	}
	slices.Sort(paths)

	var files []*File
	var errs []error
	for _, p := range paths {
		f, err := load(p, root)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, f)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := checkOutputs(files); err != nil {
		return nil, err
	}
	return files, nil
}

// load reads, parses and checks one schema file. Its path in messages is
// relative to root when possible.
func load(path, root string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return loadSource(displayPath(path, root), string(src))
}

// displayPath returns path relative to root, with forward slashes, or path
// itself when it lies outside root.
func displayPath(path, root string) string {
	absPath, err1 := filepath.Abs(path)
	absRoot, err2 := filepath.Abs(root)
	if err1 != nil || err2 != nil {
		return filepath.ToSlash(path)
	}
	rel, err := filepath.Rel(absRoot, absPath)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(rel)
}

// loadSource parses and checks the schema src, naming it path in errors.
func loadSource(path, src string) (*File, error) {
	f, err := parse(path, src)
	if err != nil {
		return nil, err
	}
	if serrs := check(f); len(serrs) > 0 {
		errs := make([]error, len(serrs))
		for i, e := range serrs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// checkOutputs rejects two schema files that generate into one directory.
func checkOutputs(files []*File) error {
	seen := map[string]*File{}
	for _, f := range files {
		if prev, ok := seen[f.Output]; ok {
			return &SchemaError{f.Path, f.OutputLine, fmt.Sprintf("output %s is already used by %s", f.Output, prev.Path)}
		}
		seen[f.Output] = f
	}
	return nil
}

// generate returns the generated files of f, with paths relative to the
// module root.
func generate(f *File, runtimeImport string) ([]output, error) {
	types, err := emitTypes(f, runtimeImport)
	if err != nil {
		return nil, err
	}
	outs := []output{{path: f.Output + "/" + f.Base + ".gen.go", data: types}}
	if len(f.Services) > 0 {
		rpc, err := emitServices(f)
		if err != nil {
			return nil, err
		}
		outs = append(outs, output{path: f.Output + "/" + f.Base + "_rpc.gen.go", data: rpc})
	}
	return outs, nil
}

// writeOutputs writes the files that changed, and removes a stale
// <base>_rpc.gen.go left from a schema that no longer declares services.
func writeOutputs(root string, f *File, outs []output) error {
	for _, o := range outs {
		if err := writeIfChanged(filepath.Join(root, filepath.FromSlash(o.path)), o.data); err != nil {
			return err
		}
	}
	if len(f.Services) == 0 {
		stale := filepath.Join(root, filepath.FromSlash(f.Output), f.Base+"_rpc.gen.go")
		old, err := os.ReadFile(stale)
		if err == nil && bytes.HasPrefix(old, []byte("// Code generated by natsraft/gen")) {
			return os.Remove(stale)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// writeIfChanged writes data to path, creating its directory, unless the
// file already holds data.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// modulePath returns the module path declared in a go.mod file.
func modulePath(gomod string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("read module path: %w", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("read module path: no module line in %s", gomod)
}
