package boltlike

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// FormatVersion is the version of the file layout that this package writes.
// Open rejects files with a higher version, written by a newer release.
const FormatVersion = 1

// DefaultLockTimeout is the time Open waits for the file lock when
// Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// tailTermsAtOpen is the number of entries at the end of the log whose terms
// Open loads into the term cache.
const tailTermsAtOpen = 4096

// fillPercent is the fraction of a log page that bbolt fills before it
// splits the page. Log keys only grow, so a page that splits never receives
// another key, and a high fill leaves less unused space than bbolt's default
// of 0.5.
const fillPercent = 0.9

var (
	// ErrIdentityMismatch is wrapped by Open and NewSnapshotStore when the
	// data was stamped with another cluster or node id.
	ErrIdentityMismatch = errors.New("boltlike: data belongs to another cluster or node")
	// ErrUnsupportedFormat is wrapped by Open and NewSnapshotStore when the
	// data was written in a format version this release cannot read.
	ErrUnsupportedFormat = errors.New("boltlike: unsupported format version")
	// ErrNotContiguous is wrapped by Append when the entries leave a gap
	// after the log's last entry, overlap it, or are not consecutive.
	ErrNotContiguous = errors.New("boltlike: entries do not continue the log")
	// ErrClosed is wrapped by the methods of a closed Store.
	ErrClosed = errors.New("boltlike: store closed")
)

var (
	logBucket  = []byte("log")
	metaBucket = []byte("meta")

	keyFormat    = []byte("format_version")
	keyCluster   = []byte("cluster")
	keyNode      = []byte("node")
	keyFirst     = []byte("first_index")
	keyHardState = []byte("hard_state")
)

// Options configures Open. Cluster and Node are required; the other fields
// take their documented defaults when zero.
type Options struct {
	// Cluster is the cluster id. The first Open stamps it into the file and
	// later Opens with another value fail with ErrIdentityMismatch.
	Cluster string
	// Node is this node's id, stamped and checked like Cluster.
	Node string
	// NoSync skips the fsync of every commit. It is unsafe for anything but
	// tests and benchmarks: after a machine crash or power loss the store
	// may have lost writes it acknowledged, which breaks Raft's safety.
	// Default false: every commit is synced before the method returns.
	NoSync bool
	// LockTimeout is how long Open waits for the exclusive lock on the
	// file, which another process that has it open holds. Default
	// DefaultLockTimeout; a negative value waits forever.
	LockTimeout time.Duration
	// InitialMmapSize is the initial size in bytes of bbolt's memory map.
	// A map that already covers the file's future size spares writers a
	// remap, which waits for running reads to finish. Default 0: the map
	// grows with the file.
	InitialMmapSize int
	// Logger receives the store's logs. Default slog.Default().
	Logger *slog.Logger
}

// Store is a raft.LogStore and raft.StableStore in one bbolt file. Reads are
// safe for concurrent use with each other and with one writer; the mutating
// methods are serialized.
type Store struct {
	db   *bolt.DB
	path string
	log  *slog.Logger

	// writeMu serializes the mutating methods and guards encodeBuf.
	writeMu   sync.Mutex
	encodeBuf []byte

	// mu guards the in-memory copy of the log bounds, the term cache and the
	// hard state. Writers update them after their transaction commits.
	mu        sync.RWMutex
	first     uint64 // 0 until the log first holds an entry or is compacted
	last      uint64
	terms     termCache
	hardState wire.HardState

	closed atomic.Bool
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// Open opens the store in the file at path, creating the file and its
// directory when they do not exist. A new file is stamped with
// opts.Cluster, opts.Node and FormatVersion. An existing file must carry
// the same cluster and node ids and a format version no newer than
// FormatVersion. The caller must Close the store.
func Open(path string, opts Options) (*Store, error) {
	if opts.Cluster == "" || opts.Node == "" {
		return nil, fmt.Errorf("boltlike: open %s: Options.Cluster and Options.Node are required, got cluster %q node %q", path, opts.Cluster, opts.Node)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("boltlike: open %s: create directory: %w", path, err)
	}
	db, err := openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, log: logger.With("path", path)}
	if err := s.init(opts); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.log.Info("log store opened", "cluster", opts.Cluster, "node", opts.Node,
		"first_index", s.first, "last_index", s.last, "term", s.hardState.Term, "no_sync", opts.NoSync)
	return s, nil
}

// openBolt opens the bbolt file, turning a panic on a damaged file into an
// error.
func openBolt(path string, opts Options) (db *bolt.DB, err error) {
	timeout := opts.LockTimeout
	switch {
	case timeout == 0:
		timeout = DefaultLockTimeout
	case timeout < 0:
		timeout = 0 // bbolt waits forever
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("boltlike: open %s: bbolt failed on a damaged file: %v: %w", path, r, raft.ErrCorrupt)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         timeout,
		NoSync:          opts.NoSync,
		InitialMmapSize: opts.InitialMmapSize,
		// The free page list is written at every commit. With
		// NoFreelistSync, bbolt would instead rebuild it at each open by
		// walking every page in a goroutine of its own, where a damaged
		// page crashes the process instead of returning an error. In
		// BenchmarkAppend both settings appended at the same rate.
		NoFreelistSync: false,
		// The hashmap list stays fast when the log is compacted often and
		// many pages are free.
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("boltlike: open %s: the file is locked by another process after waiting %v: stop the other node that uses this data directory: %w", path, timeout, err)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
		return nil, fmt.Errorf("boltlike: open %s: %w (%w)", path, raft.ErrCorrupt, err)
	case err != nil:
		return nil, fmt.Errorf("boltlike: open %s: %w", path, err)
	}
	return db, nil
}

// init stamps a new file or checks an existing one, then loads the log
// bounds, the hard state and the terms at the end of the log.
func (s *Store) init(opts Options) error {
	err := s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(metaBucket) == nil {
			return s.stamp(tx, opts)
		}
		return checkStamp(tx, opts)
	})
	if err == nil {
		err = s.view(s.load)
	}
	if err != nil {
		return fmt.Errorf("boltlike: open %s: %w", s.path, err)
	}
	return nil
}

// load reads the log bounds, the hard state and the terms of the last
// entries into memory.
func (s *Store) load(tx *bolt.Tx) error {
	first, last, err := bounds(tx)
	if err != nil {
		return err
	}
	if key, _ := tx.Bucket(logBucket).Cursor().First(); key != nil {
		if index, _ := keyIndex(key); index != first {
			return corrupt("log bounds", fmt.Errorf("the first stored entry has index %d, but the recorded first index is %d", index, first))
		}
	}
	s.first, s.last = first, last
	value := tx.Bucket(metaBucket).Get(keyHardState)
	if value == nil {
		return corrupt("hard state", errors.New("the term and vote are missing: the node may have voted in a term it no longer knows"))
	}
	if s.hardState, err = decodeHardState(value); err != nil {
		return corrupt("hard state", err)
	}
	if last == 0 || last < first {
		return nil
	}
	lo := max(first, last-min(last, tailTermsAtOpen-1))
	entries, err := s.readRange(tx, lo, last+1, 0)
	for _, e := range entries {
		s.terms.add(e.Index, e.Term)
	}
	return err
}

// stamp creates the buckets of a new file and writes the format version and
// the identity.
func (s *Store) stamp(tx *bolt.Tx, opts Options) error {
	var other []string
	_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		other = append(other, string(name))
		return nil
	})
	if len(other) > 0 {
		return fmt.Errorf("the file is a bbolt database with buckets %q but no %q bucket, so it is not a boltlike store: choose another path", other, metaBucket)
	}
	meta, err := tx.CreateBucket(metaBucket)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucket(logBucket); err != nil {
		return err
	}
	for _, kv := range [][2][]byte{
		{keyFormat, indexKey(FormatVersion)},
		{keyCluster, []byte(opts.Cluster)},
		{keyNode, []byte(opts.Node)},
		// The zero hard state, so that a hard state missing later is
		// detected instead of read as term 0 with no vote.
		{keyHardState, encodeHardState(wire.HardState{})},
	} {
		if err := meta.Put(kv[0], kv[1]); err != nil {
			return err
		}
	}
	s.log.Info("log store created", "cluster", opts.Cluster, "node", opts.Node, "format_version", FormatVersion)
	return nil
}

// checkStamp rejects a file of a newer format version or another identity.
func checkStamp(tx *bolt.Tx, opts Options) error {
	meta := tx.Bucket(metaBucket)
	version, ok := keyIndex(meta.Get(keyFormat))
	if !ok || version == 0 {
		return corrupt("format version", fmt.Errorf("invalid value %x", meta.Get(keyFormat)))
	}
	if version > FormatVersion {
		return fmt.Errorf("the file has format version %d, but this release reads versions up to %d: run a newer release: %w",
			version, FormatVersion, ErrUnsupportedFormat)
	}
	cluster, node := string(meta.Get(keyCluster)), string(meta.Get(keyNode))
	if cluster != opts.Cluster || node != opts.Node {
		return fmt.Errorf("the file belongs to cluster %q node %q, not to cluster %q node %q: start each node on its own data directory: %w",
			cluster, node, opts.Cluster, opts.Node, ErrIdentityMismatch)
	}
	if tx.Bucket(logBucket) == nil {
		return corrupt("buckets", fmt.Errorf("bucket %q is missing", logBucket))
	}
	return nil
}

// Path returns the path of the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the file. It waits for running reads to finish. Methods
// called after Close return an error wrapping ErrClosed.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltlike: close %s: %w", s.path, err)
	}
	s.log.Info("log store closed")
	return nil
}

// view runs fn in a read transaction. A panic in bbolt, which it raises on
// some damaged pages, and a memory fault on the mapped file become an error
// wrapping raft.ErrCorrupt. Errors carry no context: the caller adds the
// operation and the path.
func (s *Store) view(fn func(*bolt.Tx) error) (err error) {
	if s.closed.Load() {
		return ErrClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverCorrupt(&err)
	return mapClosed(s.db.View(fn))
}

// update runs fn in a read-write transaction and commits it, synced unless
// Options.NoSync is set. Panics and errors are handled as in view.
func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	if s.closed.Load() {
		return ErrClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverCorrupt(&err)
	return mapClosed(s.db.Update(fn))
}

func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("bbolt failed on a damaged page: %v: %w", r, raft.ErrCorrupt)
	}
}

func mapClosed(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// corrupt returns an error wrapping raft.ErrCorrupt and cause that names
// the damaged part, such as "entry 7". The caller adds the operation and
// the path.
func corrupt(part string, cause error) error {
	return fmt.Errorf("%s: %w: %w", part, raft.ErrCorrupt, cause)
}

// bounds returns the first and last index of the log in the snapshot that
// tx reads.
func bounds(tx *bolt.Tx) (first, last uint64, err error) {
	if value := tx.Bucket(metaBucket).Get(keyFirst); value != nil {
		var ok bool
		if first, ok = keyIndex(value); !ok {
			return 0, 0, corrupt("first index", fmt.Errorf("invalid value %x", value))
		}
	}
	key, _ := tx.Bucket(logBucket).Cursor().Last()
	if key == nil {
		return first, max(first, 1) - 1, nil
	}
	last, ok := keyIndex(key)
	if !ok || first == 0 || last < first {
		return 0, 0, corrupt("log bounds", fmt.Errorf("last key %x does not fit first index %d", key, first))
	}
	return first, last, nil
}
