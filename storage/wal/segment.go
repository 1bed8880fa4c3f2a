package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/natsraft/natsraft/storage/internal/fsutil"
)

// segmentExt ends the name of every segment file; the name before it is the
// sequence number as 16 hexadecimal digits.
const segmentExt = ".seg"

// tmpExt ends files that are written before they are renamed into place.
// Open deletes leftovers of an interrupted write.
const tmpExt = ".tmp"

// segment is one segment file. The writer owns size and maxIndex. Readers
// hold a reference while they read, so that a segment deleted by
// TruncatePrefix or closed by Close stays open until its last read ends.
type segment struct {
	seq  uint64
	path string
	file *os.File

	// size is the offset where the next batch goes.
	size int64
	// maxIndex is the highest index of the entries written to the segment,
	// whether or not they were truncated later.
	maxIndex uint64

	// refs counts the store's own reference plus one per running read.
	refs atomic.Int32
}

func segmentName(seq uint64) string {
	return fmt.Sprintf("%016x%s", seq, segmentExt)
}

// parseSegmentName returns the sequence number in a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, segmentExt)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	seq, err := strconv.ParseUint(hex, 16, 64)
	return seq, err == nil && seq > 0
}

func newSegment(seq uint64, path string, file *os.File, size int64) *segment {
	seg := &segment{seq: seq, path: path, file: file, size: size}
	seg.refs.Store(1)
	return seg
}

// acquire adds a reference for a read. The caller must hold Store.mu, which
// guarantees that the store's own reference is still held.
func (seg *segment) acquire() { seg.refs.Add(1) }

// release drops a reference and closes the file when it was the last.
func (seg *segment) release() {
	if seg.refs.Add(-1) == 0 {
		_ = seg.file.Close()
	}
}

// createSegment writes a new segment file with header h and allocates size
// bytes for it. The file is written under a temporary name, synced and
// renamed, and the directory is synced, so that a segment file that exists
// always has a complete header. With noSync nothing is synced.
func createSegment(dir string, h segmentHeader, size int64, noSync bool) (*segment, error) {
	path := filepath.Join(dir, segmentName(h.seq))
	tmp := path + tmpExt
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*segment, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := preallocate(f, size); err != nil {
		return fail(fmt.Errorf("allocate %d bytes for %s: %w", size, tmp, err))
	}
	if _, err := f.WriteAt(encodeSegmentHeader(h), 0); err != nil {
		return fail(err)
	}
	if !noSync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if !noSync {
		if err := fsutil.SyncDir(dir); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	return newSegment(h.seq, path, f, headerSize), nil
}

// listSegments returns the sequence numbers of the segment files in dir in
// ascending order, and deletes leftover temporary files.
func listSegments(dir string) ([]uint64, error) {
	dirEntries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, de := range dirEntries {
		name := de.Name()
		if strings.HasSuffix(name, tmpExt) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			continue
		}
		if seq, ok := parseSegmentName(name); ok {
			seqs = append(seqs, seq)
		}
	}
	// ReadDir sorts by name, and names of 16 hexadecimal digits sort by
	// sequence number.
	return seqs, nil
}

// writeFileAtomic replaces dir/name with data: it writes a temporary file,
// syncs it, renames it and syncs the directory, unless noSync is set.
func writeFileAtomic(dir, name string, data []byte, noSync bool) error {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path+tmpExt, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := fsutil.WriteAndRename(f, path, data, noSync); err != nil || noSync {
		return err
	}
	return fsutil.SyncDir(dir)
}

// extend sets f's length to size unless it is already at least size.
func extend(f *os.File, size int64) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() >= size {
		return nil
	}
	return f.Truncate(size)
}
