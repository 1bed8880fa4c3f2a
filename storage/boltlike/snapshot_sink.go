package boltlike

import (
	"bufio"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"

	"github.com/natsraft/natsraft/raft"
)

// snapshotSink writes a snapshot to a temporary file. Like an io.Writer, it
// is not safe for concurrent use.
type snapshotSink struct {
	store *SnapshotStore
	meta  raft.SnapshotMeta
	f     *os.File
	w     *bufio.Writer
	crc   hash.Hash32
	size  int64
	err   error // the first write error, returned again by Close
	done  bool
}

func newSnapshotSink(s *SnapshotStore, meta raft.SnapshotMeta, f *os.File) *snapshotSink {
	return &snapshotSink{store: s, meta: meta, f: f, w: bufio.NewWriterSize(f, 256<<10), crc: crc32.New(castagnoli)}
}

// Write appends p to the snapshot's data.
func (k *snapshotSink) Write(p []byte) (int, error) {
	if k.done {
		return 0, fmt.Errorf("boltlike: write snapshot at index %d: %w", k.meta.Index, ErrSinkClosed)
	}
	if k.err != nil {
		return 0, k.err
	}
	n, err := k.w.Write(p)
	k.crc.Write(p[:n])
	k.size += int64(n)
	if err != nil {
		k.err = fmt.Errorf("boltlike: write snapshot at index %d to %s: %w", k.meta.Index, k.f.Name(), err)
		return n, k.err
	}
	return n, nil
}

// Close syncs the data, publishes the snapshot as the store's latest and
// deletes snapshots beyond the store's Retain. When Close returns nil the
// snapshot is durable, unless SnapshotOptions.NoSync is set.
func (k *snapshotSink) Close() error {
	if k.done {
		return fmt.Errorf("boltlike: close snapshot at index %d: %w", k.meta.Index, ErrSinkClosed)
	}
	k.done = true
	tmp := k.f.Name()
	err := k.err
	if err == nil {
		err = k.w.Flush()
	}
	if err == nil && !k.store.opts.NoSync {
		err = k.f.Sync()
	}
	if closeErr := k.f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		k.meta.Size = k.size
		err = k.store.publish(tmp, snapshotInfo{meta: k.meta, dataCRC: k.crc.Sum32()})
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("boltlike: save snapshot at index %d in %s: %w", k.meta.Index, k.store.dir, err)
	}
	k.store.prune()
	return nil
}

// Cancel discards the snapshot. After Close it does nothing and returns nil,
// so a caller may defer Cancel and still Close on success.
func (k *snapshotSink) Cancel() error {
	if k.done {
		return nil
	}
	k.done = true
	_ = k.f.Close()
	if err := os.Remove(k.f.Name()); err != nil {
		return fmt.Errorf("boltlike: cancel snapshot at index %d: %w", k.meta.Index, err)
	}
	return nil
}

// snapshotReader reads a snapshot's data file and verifies its length and
// CRC-32C as the last byte is read.
type snapshotReader struct {
	f    *os.File
	path string
	size int64
	want uint32
	crc  hash.Hash32
	read int64
	err  error // sticky error after a failed check
}

func (r *snapshotReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if rest := r.size - r.read; int64(len(p)) > rest {
		// Read one byte past the end, so that a file that grew shows.
		p = p[:rest+1]
	}
	n, err := r.f.Read(p)
	if r.read+int64(n) > r.size {
		n = int(r.size - r.read)
		r.err = fmt.Errorf("boltlike: read snapshot %s: %w: the file is longer than the %d bytes recorded", r.path, raft.ErrCorrupt, r.size)
	}
	r.crc.Write(p[:n])
	r.read += int64(n)
	switch {
	case r.err != nil:
		return n, r.err
	case r.read == r.size:
		if got := r.crc.Sum32(); got != r.want {
			r.err = fmt.Errorf("boltlike: read snapshot %s: %w: checksum mismatch: stored crc32c %08x, computed %08x", r.path, raft.ErrCorrupt, r.want, got)
			return n, r.err
		}
		r.err = io.EOF
		return n, nil
	case err == io.EOF:
		r.err = fmt.Errorf("boltlike: read snapshot %s: %w: the file ends after %d bytes, %d recorded", r.path, raft.ErrCorrupt, r.read, r.size)
		return n, r.err
	}
	return n, err
}

// Close closes the file.
func (r *snapshotReader) Close() error {
	return r.f.Close()
}
