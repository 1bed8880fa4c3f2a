//go:build unix

package wal

import (
	"errors"
	"os"
	"syscall"
)

// errLockHeld is returned by lockFile when another open file description
// holds the lock.
var errLockHeld = errors.New("lock held")

// lockFile takes an exclusive flock on f without waiting. The lock belongs
// to the open file description, so a second Open in the same process fails
// too.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLockHeld
	}
	return err
}
