package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// zeroChunk is the size of each write that fills a segment file with zeros.
const zeroChunk = 1 << 20

// spareName is the file in which the next segment is prepared before the
// active one fills up. Its name ends in tmpExt, so Open deletes a leftover.
const spareName = "next" + segmentExt + tmpExt

// errSpareStopped is returned by fillZeros when its stop flag is set.
var errSpareStopped = errors.New("segment preparation stopped")

// fillZeros writes zeros to f from offset from up to offset to, and stops
// with errSpareStopped once stop, when not nil, is set. Overwriting blocks
// that were written before changes no block map, so the fdatasync after an
// append flushes data alone. ext4 marks blocks reserved by fallocate as
// unwritten instead, and the first write to each of them makes fdatasync
// commit the journal as well.
func fillZeros(f *os.File, from, to int64, stop *atomic.Bool) error {
	zeros := make([]byte, min(zeroChunk, max(to-from, 0)))
	for off := from; off < to; {
		if stop != nil && stop.Load() {
			return errSpareStopped
		}
		n := min(int64(len(zeros)), to-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// spare is a segment file prepared in the background: filled with zeros
// and synced, under spareName, waiting for its header and its final name.
type spare struct {
	path string
	size int64
	stop atomic.Bool
	done chan struct{} // closed when file and err are set

	file *os.File
	err  error
}

// prepareSpare starts filling dir/spareName with size zero bytes on a
// goroutine of its own.
func prepareSpare(dir string, size int64) *spare {
	sp := &spare{path: filepath.Join(dir, spareName), size: size, done: make(chan struct{})}
	go func() {
		defer close(sp.done)
		sp.file, sp.err = sp.build()
	}()
	return sp
}

func (sp *spare) build() (*os.File, error) {
	f, err := os.OpenFile(sp.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	err = fillZeros(f, 0, sp.size, &sp.stop)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(sp.path)
		return nil, err
	}
	return f, nil
}

// take returns the prepared file once it is ready, or nil and no error
// while it is still being filled. A spare that returned a file or an error
// must not be used again.
func (sp *spare) take() (*os.File, error) {
	select {
	case <-sp.done:
		if sp.err != nil {
			return nil, fmt.Errorf("failed to prepare %s: %w", sp.path, sp.err)
		}
		return sp.file, nil
	default:
		return nil, nil
	}
}

// discard stops the preparation, waits for it, and deletes the file.
func (sp *spare) discard() {
	sp.stop.Store(true)
	<-sp.done
	if sp.file != nil {
		_ = sp.file.Close()
		_ = os.Remove(sp.path)
	}
}
