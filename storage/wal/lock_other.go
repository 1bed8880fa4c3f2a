//go:build !unix

package wal

import (
	"errors"
	"os"
)

// errLockHeld is returned by lockFile when another process holds the lock.
var errLockHeld = errors.New("lock held")

// lockFile fails: this package locks its directory with flock, which only
// Unix systems have.
func lockFile(*os.File) error {
	return errors.New("directory locking is not implemented on this operating system")
}
