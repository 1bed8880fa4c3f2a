package wal

import (
	"errors"
	"os"
	"syscall"
)

// preallocate reserves size bytes for f and sets its length to size, so that
// later writes within it change neither the length nor the block map. File
// systems without fallocate get a sparse file of that length instead.
func preallocate(f *os.File, size int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL) {
		return extend(f, size)
	}
	return err
}

// syncData flushes f's data and the metadata needed to read it back, which
// is all a write inside a preallocated file needs.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
