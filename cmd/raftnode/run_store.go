package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/storage/boltlike"
	"github.com/natsraft/natsraft/storage/memory"
	"github.com/natsraft/natsraft/storage/wal"
)

// Store kinds of "raftnode run --store".
const (
	runStoreBolt   = "bolt"
	runStoreWAL    = "wal"
	runStoreMemory = "memory"
)

// Names inside a --data directory.
const (
	dataLogFile      = "raft.db"
	dataWALDir       = "wal"
	dataSnapshotsDir = "snapshots"
)

// nodeStores are the stores of a running node.
type nodeStores struct {
	log       raft.LogStore
	stable    raft.StableStore
	snapshots raft.SnapshotStore
	// closer is the durable log store to close after the node stopped, or
	// nil.
	closer interface {
		Close() error
		Path() string
	}
}

// validateStore checks --store and --data.
func (o *runOptions) validateStore() error {
	switch o.store {
	case runStoreBolt, runStoreWAL:
		if o.data == "" {
			return fmt.Errorf("missing --data: set the directory that keeps this node's log, term and vote, such as --data ./%s; "+
				"or pass --store memory for a node that keeps nothing across restarts", o.id)
		}
	case runStoreMemory:
		if o.data != "" {
			return fmt.Errorf("--data %q is set with --store memory, which keeps nothing on disk: drop one of them", o.data)
		}
	default:
		return fmt.Errorf("invalid --store %q: use %s, %s or %s", o.store, runStoreBolt, runStoreWAL, runStoreMemory)
	}
	return nil
}

// openStores opens the stores that --store selects. With bolt and wal, the
// data directory is stamped with the cluster and node id on first use, and
// opening it as another node fails with an identity mismatch error.
func (o *runOptions) openStores(cfg raft.Config, log *slog.Logger) (*nodeStores, error) {
	if o.store == runStoreMemory {
		log.Warn("the node keeps its log, term and vote in memory only: never restart it under the same id, "+
			"because a node that forgot its vote can vote twice in one term and break the cluster's safety",
			"node", cfg.ID, "store", runStoreMemory)
		st := memory.NewStore()
		return &nodeStores{log: st.Log, stable: st.Stable, snapshots: st.Snapshots}, nil
	}

	if err := o.checkStoreKind(); err != nil {
		return nil, err
	}
	var store interface {
		raft.LogStore
		raft.StableStore
		Close() error
		Path() string
	}
	var err error
	if o.store == runStoreWAL {
		var w *wal.Store
		w, err = wal.Open(filepath.Join(o.data, dataWALDir), wal.Options{Cluster: cfg.Cluster, Node: cfg.ID, Logger: log})
		if err == nil {
			store = walStore{w}
		}
	} else {
		store, err = boltlike.Open(filepath.Join(o.data, dataLogFile), boltlike.Options{Cluster: cfg.Cluster, Node: cfg.ID, Logger: log})
	}
	if err != nil {
		return nil, storeError(o.data, err)
	}
	snapDir := filepath.Join(o.data, dataSnapshotsDir)
	snaps, err := boltlike.NewSnapshotStore(snapDir, boltlike.SnapshotOptions{Cluster: cfg.Cluster, Node: cfg.ID, Logger: log})
	if err != nil {
		_ = store.Close()
		return nil, storeError(o.data, err)
	}
	return &nodeStores{log: store, stable: store, snapshots: snaps, closer: store}, nil
}

// checkStoreKind refuses a --data path that is not a directory, and a
// directory that holds the log of the other durable store kind. Opening it
// with the wrong kind would start the node with an empty log, term and
// vote, and a node that forgot its vote can vote twice in one term.
func (o *runOptions) checkStoreKind() error {
	if info, err := os.Stat(o.data); err == nil && !info.IsDir() {
		return fmt.Errorf("--data %s is a file, not a directory: %w; pass a directory, which is created if missing", o.data, errWrongStoreKind)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("check --data %s: %w", o.data, err)
	}
	bolt, err := exists(filepath.Join(o.data, dataLogFile))
	if err != nil {
		return err
	}
	// A wal directory without META holds no log yet.
	wal, err := exists(filepath.Join(o.data, dataWALDir, "META"))
	if err != nil {
		return err
	}
	switch {
	case bolt && wal:
		return fmt.Errorf("--data %s contains a log of --store bolt (%s) and one of --store wal (%s): %w; keep only the one this node ran with, or use a new --data directory for a new node id",
			o.data, dataLogFile, dataWALDir, errWrongStoreKind)
	case bolt && o.store == runStoreWAL:
		return wrongKind(o.data, runStoreBolt, filepath.Join(o.data, dataLogFile), o.store)
	case wal && o.store == runStoreBolt:
		return wrongKind(o.data, runStoreWAL, filepath.Join(o.data, dataWALDir), o.store)
	}
	return nil
}

func wrongKind(data, found, path, requested string) error {
	return fmt.Errorf("--data %s contains a log of --store %s (%s), not of --store %s: %w; pass --store %s, or use a new --data directory for a new node id",
		data, found, path, requested, errWrongStoreKind, found)
}

// exists reports whether path exists.
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", path, err)
	}
	return true, nil
}

// errWrongStoreKind is wrapped by openStores when --data is not a
// directory or holds the log of another --store kind.
var errWrongStoreKind = errors.New("wrong store kind for the data directory")

// walStore gives a wal.Store the Path method that nodeStores.closer
// expects.
type walStore struct{ *wal.Store }

func (w walStore) Path() string { return w.Dir() }

// storeError adds what to check to an error of opening the data directory.
func storeError(dir string, err error) error {
	if errors.Is(err, boltlike.ErrIdentityMismatch) || errors.Is(err, wal.ErrIdentityMismatch) {
		return fmt.Errorf("--data %s belongs to another node: %w; check --data, --id and --cluster", dir, err)
	}
	return fmt.Errorf("open --data %s: %w", dir, err)
}

// storeErrorCode returns the exit code of a store error: exitUsage when
// the data directory belongs to another node, which the command line
// must fix, exitFailure otherwise.
func storeErrorCode(err error) int {
	if errors.Is(err, boltlike.ErrIdentityMismatch) || errors.Is(err, wal.ErrIdentityMismatch) || errors.Is(err, errWrongStoreKind) {
		return exitUsage
	}
	return exitFailure
}

// close closes the durable store. The node must have stopped.
func (s *nodeStores) close(log *slog.Logger) {
	if s.closer == nil {
		return
	}
	if err := s.closer.Close(); err != nil {
		log.Error("close log store", "path", s.closer.Path(), "error", err)
	}
}
