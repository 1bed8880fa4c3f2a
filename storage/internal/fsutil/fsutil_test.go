package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAndRenameReplacesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "state-*.tmp")
	if err != nil {
		t.Fatal(err)
	}

	if err := WriteAndRename(f, path, []byte("new"), false); err != nil {
		t.Fatalf("WriteAndRename: %v", err)
	}
	if err := SyncDir(dir); err != nil {
		t.Fatalf("SyncDir: %v", err)
	}

	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new" {
		t.Errorf("file contains %q, want %q", got, "new")
	}
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Errorf("temporary file %s still exists after the rename: %v", f.Name(), err)
	}
}

func TestWriteAndRenameRemovesTempOnFailure(t *testing.T) {
	dir := t.TempDir()
	f, err := os.CreateTemp(dir, "state-*.tmp")
	if err != nil {
		t.Fatal(err)
	}

	err = WriteAndRename(f, filepath.Join(dir, "missing", "state"), []byte("new"), true)
	if err == nil {
		t.Fatal("WriteAndRename into a missing directory succeeded, want an error")
	}
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Errorf("temporary file %s left behind after a failed rename: %v", f.Name(), err)
	}
}
