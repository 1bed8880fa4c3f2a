package boltlike

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/storage/internal/fsutil"
)

// DefaultRetain is the number of snapshots a SnapshotStore keeps when
// SnapshotOptions.Retain is zero.
const DefaultRetain = 2

const (
	snapshotPrefix = "snapshot-"
	dataSuffix     = ".snap"
	metaSuffix     = ".meta"
	tempSuffix     = ".tmp"
)

var (
	// ErrNoSnapshot is returned by SnapshotStore.Open when no snapshot has
	// been completed yet.
	ErrNoSnapshot = errors.New("boltlike: no snapshot")
	// ErrSinkClosed is wrapped by a snapshot sink's Write and Close after the
	// sink was closed or cancelled.
	ErrSinkClosed = errors.New("boltlike: snapshot sink already closed or cancelled")
)

// SnapshotOptions configures NewSnapshotStore. Cluster and Node are
// required; the other fields take their documented defaults when zero.
type SnapshotOptions struct {
	// Cluster is the cluster id, written into every snapshot's metadata.
	// NewSnapshotStore fails with ErrIdentityMismatch on a directory that
	// holds a snapshot of another cluster or node.
	Cluster string
	// Node is this node's id, written and checked like Cluster.
	Node string
	// Retain is the number of complete snapshots kept; older ones are
	// deleted after a new one is published. Default DefaultRetain.
	Retain int
	// NoSync skips the fsyncs of the data, metadata and directory. It is
	// unsafe for anything but tests and benchmarks: after a machine crash a
	// published snapshot may be missing or empty.
	NoSync bool
	// Logger receives the store's logs. Default slog.Default().
	Logger *slog.Logger
}

// SnapshotStore is a raft.SnapshotStore that keeps snapshots as files in a
// directory. It is safe for concurrent use. When several sinks are open at
// once, the one closed last becomes the latest snapshot.
type SnapshotStore struct {
	dir  string
	opts SnapshotOptions
	log  *slog.Logger

	// publishMu orders publications, so that a higher sequence number is
	// published later, and guards nextSeq.
	publishMu sync.Mutex
	nextSeq   uint64

	// mu guards snaps: the complete snapshots in publication order, the
	// latest last.
	mu    sync.RWMutex
	snaps []snapshotInfo
}

var _ raft.SnapshotStore = (*SnapshotStore)(nil)

// NewSnapshotStore opens the snapshot directory dir, creating it when it
// does not exist. It deletes files that a crash left behind (unfinished
// temporary files, data files without metadata) and snapshots beyond
// opts.Retain. It fails with an error wrapping raft.ErrCorrupt when a
// metadata file is damaged or its data file is missing or has the wrong
// size, and with ErrIdentityMismatch when a snapshot belongs to another
// cluster or node.
func NewSnapshotStore(dir string, opts SnapshotOptions) (*SnapshotStore, error) {
	if opts.Cluster == "" || opts.Node == "" {
		return nil, fmt.Errorf("boltlike: open snapshot directory %s: SnapshotOptions.Cluster and SnapshotOptions.Node are required, got cluster %q node %q", dir, opts.Cluster, opts.Node)
	}
	if opts.Retain < 0 {
		return nil, fmt.Errorf("boltlike: open snapshot directory %s: invalid Retain %d: use a positive number, or 0 for the default %d", dir, opts.Retain, DefaultRetain)
	}
	if opts.Retain == 0 {
		opts.Retain = DefaultRetain
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("boltlike: open snapshot directory %s: %w", dir, err)
	}
	s := &SnapshotStore{dir: dir, opts: opts, log: logger.With("dir", dir), nextSeq: 1}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("boltlike: open snapshot directory %s: %w", dir, err)
	}
	s.prune()
	if latest, ok, _ := s.Latest(); ok {
		s.log.Info("snapshot store opened", "snapshots", len(s.snaps), "index", latest.Index, "term", latest.Term)
	}
	return s, nil
}

// load reads the metadata of every complete snapshot in the directory and
// removes files that a crash left behind.
func (s *SnapshotStore) load() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	metas := map[uint64]bool{}
	var dataFiles []uint64
	for _, entry := range entries {
		name := entry.Name()
		if strings.HasSuffix(name, tempSuffix) {
			s.removeLeftover(name, "unfinished snapshot file")
			continue
		}
		seq, suffix, ok := parseSnapshotName(name)
		switch {
		case !ok:
			continue
		case suffix == dataSuffix:
			dataFiles = append(dataFiles, seq)
			continue
		}
		info, err := s.loadMeta(seq)
		if err != nil {
			return err
		}
		metas[seq] = true
		s.snaps = append(s.snaps, info)
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	for _, seq := range dataFiles {
		if !metas[seq] {
			// Close publishes the data file before its metadata; a crash in
			// between leaves a snapshot that was never acknowledged.
			s.removeLeftover(snapshotName(seq, dataSuffix), "snapshot data without metadata")
		}
	}
	slices.SortFunc(s.snaps, func(a, b snapshotInfo) int { return compareUint(a.seq, b.seq) })
	return nil
}

// loadMeta reads and checks the metadata file of snapshot seq, and checks
// the size of its data file.
func (s *SnapshotStore) loadMeta(seq uint64) (snapshotInfo, error) {
	path := filepath.Join(s.dir, snapshotName(seq, metaSuffix))
	content, err := os.ReadFile(path)
	if err != nil {
		return snapshotInfo{}, err
	}
	doc, meta, err := decodeSnapshotMeta(content)
	if err != nil {
		return snapshotInfo{}, fmt.Errorf("read snapshot metadata %s: %w", path, err)
	}
	if doc.Cluster != s.opts.Cluster || doc.Node != s.opts.Node {
		return snapshotInfo{}, fmt.Errorf("snapshot %s belongs to cluster %q node %q, not to cluster %q node %q: start each node on its own data directory: %w",
			path, doc.Cluster, doc.Node, s.opts.Cluster, s.opts.Node, ErrIdentityMismatch)
	}
	dataPath := filepath.Join(s.dir, snapshotName(seq, dataSuffix))
	stat, err := os.Stat(dataPath)
	if err != nil {
		return snapshotInfo{}, fmt.Errorf("snapshot data of %s: %w: %w", path, raft.ErrCorrupt, err)
	}
	if stat.Size() != meta.Size {
		return snapshotInfo{}, fmt.Errorf("snapshot data %s: %w: the file has %d bytes, the metadata records %d",
			dataPath, raft.ErrCorrupt, stat.Size(), meta.Size)
	}
	return snapshotInfo{seq: seq, meta: meta, dataCRC: doc.DataCRC32C}, nil
}

func (s *SnapshotStore) removeLeftover(name, kind string) {
	path := filepath.Join(s.dir, name)
	if err := os.Remove(path); err != nil {
		s.log.Warn("remove leftover snapshot file failed", "file", path, "kind", kind, "error", err)
		return
	}
	s.log.Info("removed leftover snapshot file", "file", path, "kind", kind)
}

// snapshotName returns the file name of snapshot seq with suffix. The
// sequence number is zero-padded so that names sort in publication order.
func snapshotName(seq uint64, suffix string) string {
	return fmt.Sprintf("%s%020d%s", snapshotPrefix, seq, suffix)
}

// parseSnapshotName returns the sequence number and suffix of a data or
// metadata file name, or ok false for any other name.
func parseSnapshotName(name string) (seq uint64, suffix string, ok bool) {
	rest, found := strings.CutPrefix(name, snapshotPrefix)
	if !found {
		return 0, "", false
	}
	for _, suffix = range []string{dataSuffix, metaSuffix} {
		if digits, found := strings.CutSuffix(rest, suffix); found {
			seq, err := strconv.ParseUint(digits, 10, 64)
			return seq, suffix, err == nil && seq > 0
		}
	}
	return 0, "", false
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Create starts a snapshot described by meta in a temporary file. Closing
// the sink publishes it, with Size set to the number of bytes written.
func (s *SnapshotStore) Create(meta raft.SnapshotMeta) (raft.SnapshotSink, error) {
	f, err := os.CreateTemp(s.dir, snapshotPrefix+"*"+tempSuffix)
	if err != nil {
		return nil, fmt.Errorf("boltlike: create snapshot at index %d in %s: %w", meta.Index, s.dir, err)
	}
	return newSnapshotSink(s, copyMeta(meta), f), nil
}

// Latest returns the metadata of the newest complete snapshot, or ok false
// if there is none.
func (s *SnapshotStore) Latest() (raft.SnapshotMeta, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.snaps) == 0 {
		return raft.SnapshotMeta{}, false, nil
	}
	return copyMeta(s.snaps[len(s.snaps)-1].meta), true, nil
}

// Open returns the newest complete snapshot's metadata and a reader of its
// data. It returns ErrNoSnapshot if there is none. The reader verifies the
// data's CRC-32C once it has read Size bytes and then returns an error
// wrapping raft.ErrCorrupt on a mismatch. It stays valid after a newer
// snapshot is published and the old files are deleted (on Unix).
func (s *SnapshotStore) Open() (raft.SnapshotMeta, io.ReadCloser, error) {
	// The read lock keeps prune from deleting the file before it is open.
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.snaps) == 0 {
		return raft.SnapshotMeta{}, nil, ErrNoSnapshot
	}
	info := s.snaps[len(s.snaps)-1]
	path := filepath.Join(s.dir, snapshotName(info.seq, dataSuffix))
	f, err := os.Open(path)
	if err != nil {
		return raft.SnapshotMeta{}, nil, fmt.Errorf("boltlike: open snapshot %s: %w", path, err)
	}
	r := &snapshotReader{f: f, path: path, size: info.meta.Size, want: info.dataCRC, crc: crc32.New(castagnoli)}
	return copyMeta(info.meta), r, nil
}

// publish renames the synced data file tmp to its final name, writes the
// metadata file and syncs the directory, then makes the snapshot the latest.
func (s *SnapshotStore) publish(tmp string, info snapshotInfo) error {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()

	info.seq = s.nextSeq
	dataPath := filepath.Join(s.dir, snapshotName(info.seq, dataSuffix))
	metaPath := filepath.Join(s.dir, snapshotName(info.seq, metaSuffix))
	content, err := encodeSnapshotMeta(info, s.opts.Cluster, s.opts.Node)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, dataPath); err != nil {
		return err
	}
	// The metadata file makes the snapshot complete, so it is written only
	// after the data file is durable under its final name.
	if err := writeFileSynced(s.dir, metaPath, content, s.opts.NoSync); err != nil {
		_ = os.Remove(dataPath)
		return err
	}
	if !s.opts.NoSync {
		if err := fsutil.SyncDir(s.dir); err != nil {
			_ = os.Remove(metaPath)
			_ = os.Remove(dataPath)
			return fmt.Errorf("sync directory: %w", err)
		}
	}
	s.nextSeq++

	s.mu.Lock()
	s.snaps = append(s.snaps, info)
	s.mu.Unlock()
	s.log.Info("snapshot saved", "index", info.meta.Index, "term", info.meta.Term, "size", info.meta.Size, "file", dataPath)
	return nil
}

// prune deletes the oldest snapshots beyond Retain, the metadata file first
// so that a crash in between leaves only a data file that load removes.
func (s *SnapshotStore) prune() {
	s.mu.Lock()
	var old []snapshotInfo
	if excess := len(s.snaps) - s.opts.Retain; excess > 0 {
		old = slices.Clone(s.snaps[:excess])
		s.snaps = slices.Delete(s.snaps, 0, excess)
	}
	s.mu.Unlock()

	for _, info := range old {
		for _, suffix := range []string{metaSuffix, dataSuffix} {
			path := filepath.Join(s.dir, snapshotName(info.seq, suffix))
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Warn("delete old snapshot failed", "file", path, "index", info.meta.Index, "error", err)
			}
		}
	}
}
