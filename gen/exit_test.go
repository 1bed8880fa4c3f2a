package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runMainEnv names the environment variable that makes the test binary run
// the command's main with the arguments in the variable (separated by
// newlines) instead of the tests, so a test can check the exit status.
const runMainEnv = "NATSRAFT_GEN_RUN_MAIN"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(runMainEnv); ok {
		os.Args = append([]string{"gen"}, strings.Split(args, "\n")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runCommand runs the command's main in a child process with args and
// returns its exit status and standard error.
func runCommand(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMainEnv+"="+strings.Join(args, "\n"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	default:
		t.Fatalf("run the command: %v", err)
		return 0, ""
	}
}

func TestCommandExitStatus(t *testing.T) {
	root := writeModule(t, map[string]string{
		"a.schema": "package a\noutput out/a\nmessage M {\n  1 x: bool\n  1 y: bool\n}\n",
		"b.schema": "package b\noutput out/b\nmessage func {\n}\n",
	})
	schemaDir := filepath.Join(root, "schema")
	status, stderr := runCommand(t, "-schema", schemaDir, "-root", root)
	if status != 1 {
		t.Fatalf("exit status %d for invalid schemas, want 1; stderr:\n%s", status, stderr)
	}
	want := "schema/a.schema:5: message M: field y: duplicate field id 1 (first used by x on line 4)\n" +
		"schema/b.schema:3: message name func is a reserved Go identifier\n"
	if stderr != want {
		t.Fatalf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	if _, err := os.Stat(filepath.Join(root, "out")); !os.IsNotExist(err) {
		t.Fatal("the command wrote output despite schema errors")
	}

	if err := os.Remove(filepath.Join(schemaDir, "b.schema")); err != nil {
		t.Fatal(err)
	}
	fixed := "package a\noutput out/a\nmessage M {\n  1 x: bool\n  2 y: bool\n}\n"
	if err := os.WriteFile(filepath.Join(schemaDir, "a.schema"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	if status, stderr := runCommand(t, "-schema", schemaDir, "-root", root); status != 0 || stderr != "" {
		t.Fatalf("valid schema: exit status %d, stderr %q; want 0 and nothing", status, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "out", "a", "a.gen.go")); err != nil {
		t.Fatalf("valid schema generated nothing: %v", err)
	}
}
