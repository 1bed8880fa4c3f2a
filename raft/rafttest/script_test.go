package rafttest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/raft"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected outputs of the scenario scripts in testdata with the actual outputs")

// scriptFiles returns the scenario scripts in testdata.
func scriptFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenario scripts found in testdata")
	}
	return files
}

// runScriptFile runs one script and returns its result.
func runScriptFile(t *testing.T, path string) *ScriptResult {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(src), "# ") {
		t.Fatalf("%s: the first line must be a comment saying which property the scenario checks", path)
	}
	res, err := RunScript(string(src))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return res
}

func TestScenarios(t *testing.T) {
	if raft.Mutation != "" {
		t.Skipf("mutation build (%s): TestMutationDetected runs the scenarios", raft.Mutation)
	}
	for _, path := range scriptFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			res := runScriptFile(t, path)
			if *rewrite {
				if err := os.WriteFile(path, []byte(res.Rewritten), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				for _, m := range res.Mismatches {
					t.Errorf("%s:%d: %s\nwant:\n%s\ngot:\n%s", path, m.Line, m.Command, m.Want, m.Got)
				}
			}
			if res.Violation != nil {
				t.Errorf("%s: %v", path, res.Violation)
			}
		})
	}
}
