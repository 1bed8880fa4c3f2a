//go:build !linux

package wal

import "os"

// preallocate sets f's length to size. Without fallocate the file is
// sparse, so a sync may still have to record newly used blocks.
func preallocate(f *os.File, size int64) error {
	return extend(f, size)
}

// syncData flushes f's data and metadata.
func syncData(f *os.File) error {
	return f.Sync()
}
