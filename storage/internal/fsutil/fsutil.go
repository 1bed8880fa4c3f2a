// Package fsutil holds the file operations that the durable stores share:
// replacing a file with a synced copy, and syncing a directory so that the
// renames and removals in it are durable.
package fsutil

import (
	"os"
	"runtime"
)

// WriteAndRename writes data to the new temporary file f, syncs it unless
// noSync is set, closes it and renames it to path. On failure it removes
// the temporary file. The caller syncs the directory to make the rename
// durable.
func WriteAndRename(f *os.File, path string, data []byte, noSync bool) error {
	tmp := f.Name()
	_, err := f.Write(data)
	if err == nil && !noSync {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// SyncDir makes the renames and removals in dir durable.
func SyncDir(dir string) error {
	// NOTE: Windows cannot open a directory for syncing; there the renames
	// are durable only once the file system flushes its metadata.
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if closeErr := d.Close(); err == nil {
		err = closeErr
	}
	return err
}
