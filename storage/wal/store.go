package wal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// FormatVersion is the version of the file layout that this package writes.
// Open rejects a directory or segment of a higher version.
const FormatVersion = 1

// Segment size limits. A segment's offsets are stored in 32 bits, and a
// segment holds at least one batch, so the maximum leaves room for a batch
// larger than the segment.
const (
	DefaultSegmentSize = 64 << 20
	MinSegmentSize     = 4 << 10
	MaxSegmentSize     = 1 << 30
)

// File names inside the store's directory, besides the segment files.
const (
	lockFileName      = "LOCK"
	metaFileName      = "META"
	hardStateFileName = "HARDSTATE"
)

var (
	// ErrIdentityMismatch is wrapped by Open when the directory was stamped
	// with another cluster or node id.
	ErrIdentityMismatch = errors.New("wal: data belongs to another cluster or node")
	// ErrUnsupportedFormat is wrapped by Open when the directory was
	// written in a format version this release cannot read.
	ErrUnsupportedFormat = errors.New("wal: unsupported format version")
	// ErrNotContiguous is wrapped by Append when the entries leave a gap
	// after the log's last entry, overlap it, or are not consecutive.
	ErrNotContiguous = errors.New("wal: entries do not continue the log")
	// ErrClosed is wrapped by the methods of a closed Store.
	ErrClosed = errors.New("wal: store closed")
	// ErrLocked is wrapped by Open when another Store, in this process or
	// another, has the directory open.
	ErrLocked = errors.New("wal: directory locked by another store")
	// ErrInvalidOptions is wrapped by Open when Options has an invalid
	// value.
	ErrInvalidOptions = errors.New("wal: invalid options")
)

// Options configures Open. Cluster and Node are required; the other fields
// take their documented defaults when zero.
type Options struct {
	// Cluster is the cluster id. The first Open stamps it into the
	// directory and later Opens with another value fail with
	// ErrIdentityMismatch.
	Cluster string
	// Node is this node's id, stamped and checked like Cluster.
	Node string
	// NoSync skips every fsync and fdatasync. It is unsafe for anything but
	// tests and benchmarks: after a machine crash or power loss the store
	// may have lost writes it acknowledged, which breaks Raft's safety.
	// Default false: every write is synced before the method returns.
	NoSync bool
	// SegmentSize is the size in bytes of a segment file, allocated when
	// the segment is created. A batch that does not fit in the rest of the
	// current segment starts a new one. A batch larger than SegmentSize
	// gets a segment of its own that grows to hold it. Default
	// DefaultSegmentSize, valid from MinSegmentSize to MaxSegmentSize.
	SegmentSize int64
	// Logger receives the store's logs. Default slog.Default().
	Logger *slog.Logger
}

// Store is a raft.LogStore and raft.StableStore in a directory of
// append-only segment files. Reads are safe for concurrent use with each
// other and with one writer; the mutating methods are serialized.
type Store struct {
	dir         string
	noSync      bool
	segmentSize int64
	log         *slog.Logger
	lock        *os.File

	// writeMu serializes the mutating methods and guards the fields below.
	writeMu   sync.Mutex
	encodeBuf []byte
	// active is the last segment, the one that receives writes.
	active *segment
	// failed is the error of a write or sync that failed. The file may then
	// hold part of a batch and the page cache may have dropped data, so
	// the store rejects further writes until it is reopened.
	failed error

	// mu guards the index, the segment list and the hard state. Writers
	// change them after their write is durable.
	mu        sync.RWMutex
	index     logIndex
	segments  []*segment // ascending and contiguous sequence numbers
	hardState wire.HardState

	closed atomic.Bool
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// storeMeta is the content of the META file, stored as JSON after its
// CRC-32C.
type storeMeta struct {
	FormatVersion int    `json:"format_version"`
	Cluster       string `json:"cluster"`
	Node          string `json:"node"`
}

// Open opens the store in dir, creating the directory when it does not
// exist. A new directory is stamped with opts.Cluster, opts.Node and
// FormatVersion. An existing one must carry the same ids and a format
// version no newer than FormatVersion. Open replays the segment files to
// rebuild the in-memory index, cuts off a torn write at the end of the last
// segment, and fails with an error wrapping raft.ErrCorrupt on any other
// damage. The caller must Close the store.
func Open(dir string, opts Options) (*Store, error) {
	if err := validateOptions(&opts); err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: open %s: create directory: %w", dir, err)
	}

	// META never changes once written, so it is checked before the lock: a
	// node started on another node's directory learns whose it is even
	// while the owner runs. init checks it again under the lock.
	if _, err := checkIdentity(dir, opts); err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}

	s := &Store{
		dir:         dir,
		noSync:      opts.NoSync,
		segmentSize: opts.SegmentSize,
		log:         opts.Logger.With("dir", dir),
		lock:        lock,
	}
	if err := s.init(opts); err != nil {
		for _, seg := range s.segments {
			seg.release()
		}
		_ = lock.Close()
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}

	s.log.Info("log store opened", "cluster", opts.Cluster, "node", opts.Node,
		"first_index", s.index.first, "last_index", s.index.last, "segments", len(s.segments),
		"term", s.hardState.Term, "no_sync", opts.NoSync)
	return s, nil
}

// validateOptions checks opts and fills in the defaults.
func validateOptions(opts *Options) error {
	if opts.Cluster == "" || opts.Node == "" {
		return fmt.Errorf("Options.Cluster and Options.Node are required, got cluster %q node %q: %w", opts.Cluster, opts.Node, ErrInvalidOptions)
	}
	if opts.SegmentSize == 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.SegmentSize < MinSegmentSize || opts.SegmentSize > MaxSegmentSize {
		return fmt.Errorf("Options.SegmentSize %d is out of range: set it between %d and %d bytes, or to 0 for the default of %d: %w",
			opts.SegmentSize, MinSegmentSize, MaxSegmentSize, DefaultSegmentSize, ErrInvalidOptions)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return nil
}

// lockDir opens dir/LOCK and takes an exclusive lock on it, which the
// returned file holds until it is closed.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		if errors.Is(err, errLockHeld) {
			return nil, fmt.Errorf("wal: open %s: %s is locked by another process that has this store open: stop it, or give this node a directory of its own: %w", dir, path, ErrLocked)
		}
		return nil, fmt.Errorf("wal: open %s: lock %s: %w", dir, path, err)
	}
	return f, nil
}

// init stamps a new directory or checks an existing one, then loads the
// hard state and replays the segments.
//
// The first Open writes META last, after the first segment. So a directory
// with META and no segment has lost its log, and Open reports it as
// corruption instead of starting an empty log under a term and vote that
// may have acknowledged entries.
func (s *Store) init(opts Options) error {
	seqs, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	found, err := checkIdentity(s.dir, opts)
	if err != nil {
		return err
	}
	if !found {
		return s.create(opts, seqs)
	}
	if len(seqs) == 0 {
		return corrupt(filepath.Join(s.dir, metaFileName), errors.New("no segment file found in an initialized directory: the log was deleted"))
	}
	if err := s.loadHardState(); err != nil {
		return err
	}
	return s.replay(seqs)
}

// create initializes a directory without META: the first segment, the zero
// hard state, then META. A segment file found there can only be the first
// segment of a first Open that stopped before it wrote META. Such a segment
// is removed if it contains no record, and reported as corruption if it
// does.
func (s *Store) create(opts Options, seqs []uint64) error {
	metaPath := filepath.Join(s.dir, metaFileName)
	if len(seqs) > 1 || (len(seqs) == 1 && seqs[0] != 1) {
		return corrupt(metaPath, fmt.Errorf("the file is missing but %d segment files exist", len(seqs)))
	}
	if len(seqs) == 1 {
		path := filepath.Join(s.dir, segmentName(1))
		empty, err := segmentIsEmpty(path)
		if err != nil {
			return err
		}
		if !empty {
			return corrupt(metaPath, fmt.Errorf("the file is missing but %s contains records", path))
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}

	seg, err := createSegment(s.dir, segmentHeader{version: FormatVersion, seq: 1}, s.segmentSize, s.noSync)
	if err != nil {
		return fmt.Errorf("create the first segment: %w", err)
	}
	s.segments, s.active = []*segment{seg}, seg
	if err := s.writeInitialHardState(); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(s.dir, hardStateFileName), err)
	}
	meta := storeMeta{FormatVersion: FormatVersion, Cluster: opts.Cluster, Node: opts.Node}
	data := appendChecksummed(nil, func(b []byte) []byte {
		encoded, _ := json.Marshal(meta)
		return append(b, encoded...)
	})
	if err := writeFileAtomic(s.dir, metaFileName, data, s.noSync); err != nil {
		return fmt.Errorf("write %s: %w", metaPath, err)
	}
	s.log.Info("log store created", "cluster", opts.Cluster, "node", opts.Node, "format_version", FormatVersion)
	return nil
}

// segmentIsEmpty reports whether the segment file at path holds no record
// after its header.
func segmentIsEmpty(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var first [8]byte
	n, err := f.ReadAt(first[:], headerSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	for _, b := range first[:n] {
		if b != 0 {
			return false, nil
		}
	}
	return true, nil
}

// checkIdentity reads the META file of dir, if there is one, and checks its
// format version and ids. found is false when there is no META file.
func checkIdentity(dir string, opts Options) (found bool, err error) {
	meta, found, err := readMeta(dir)
	if err != nil || !found {
		return found, err
	}
	return true, checkMeta(dir, meta, opts)
}

// readMeta reads and verifies the META file of dir; found is false when it
// does not exist.
func readMeta(dir string) (meta storeMeta, found bool, err error) {
	path := filepath.Join(dir, metaFileName)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return storeMeta{}, false, nil
	}
	if err != nil {
		return storeMeta{}, false, err
	}
	payload, err := verifiedPayload(raw)
	if err != nil {
		return storeMeta{}, false, corrupt(path, err)
	}
	if err := json.Unmarshal(payload, &meta); err != nil || meta.FormatVersion <= 0 {
		return storeMeta{}, false, corrupt(path, fmt.Errorf("invalid content %q: %v", payload, err))
	}
	return meta, true, nil
}

// checkMeta checks the format version and the identity in meta.
func checkMeta(dir string, meta storeMeta, opts Options) error {
	if meta.FormatVersion > FormatVersion {
		return fmt.Errorf("%s has format version %d, but this release reads versions up to %d: run a newer release: %w",
			filepath.Join(dir, metaFileName), meta.FormatVersion, FormatVersion, ErrUnsupportedFormat)
	}
	if meta.Cluster != opts.Cluster || meta.Node != opts.Node {
		return fmt.Errorf("the directory belongs to cluster %q node %q, not to cluster %q node %q: start each node on its own data directory: %w",
			meta.Cluster, meta.Node, opts.Cluster, opts.Node, ErrIdentityMismatch)
	}
	return nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Close closes the files and releases the directory lock. Reads that are
// running finish first on their segments. Methods called after Close
// return an error wrapping ErrClosed.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return nil
	}
	segments := s.segments
	s.segments, s.active = nil, nil
	s.mu.Unlock()

	for _, seg := range segments {
		seg.release()
	}
	if err := s.lock.Close(); err != nil {
		return fmt.Errorf("wal: close %s: %w", s.dir, err)
	}
	s.log.Info("log store closed")
	return nil
}

// corrupt returns an error wrapping raft.ErrCorrupt and cause that names
// the damaged part, such as a file and an offset.
func corrupt(part string, cause error) error {
	return fmt.Errorf("%s: %w: %w", part, raft.ErrCorrupt, cause)
}

// checkWritable returns the error that a mutating method returns when the
// store is closed or a write failed. The caller holds writeMu.
func (s *Store) checkWritable() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.failed != nil {
		return fmt.Errorf("an earlier write failed, reopen the store: %w", s.failed)
	}
	return nil
}
