package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/storage/boltlike"
	"github.com/natsraft/natsraft/storage/memory"
)

// Store kinds of "raftnode run --store".
const (
	runStoreBolt   = "bolt"
	runStoreMemory = "memory"
)

// Names inside a --data directory.
const (
	dataLogFile      = "raft.db"
	dataSnapshotsDir = "snapshots"
)

// nodeStores are the stores of a running node.
type nodeStores struct {
	log       raft.LogStore
	stable    raft.StableStore
	snapshots raft.SnapshotStore
	// closer is the bbolt store to close after the node stopped, or nil.
	closer *boltlike.Store
}

// validateStore checks --store and --data.
func (o *runOptions) validateStore() error {
	switch o.store {
	case runStoreBolt:
		if o.data == "" {
			return fmt.Errorf("missing --data: set the directory that keeps this node's log, term and vote, such as --data ./%s; "+
				"or pass --store memory for a node that keeps nothing across restarts", o.id)
		}
	case runStoreMemory:
		if o.data != "" {
			return fmt.Errorf("--data %q is set with --store memory, which keeps nothing on disk: drop one of them", o.data)
		}
	default:
		return fmt.Errorf("invalid --store %q: use %s or %s", o.store, runStoreBolt, runStoreMemory)
	}
	return nil
}

// openStores opens the stores that --store selects. With bolt, the data
// directory is stamped with the cluster and node id on first use, and
// opening it as another node fails with boltlike.ErrIdentityMismatch.
func (o *runOptions) openStores(cfg raft.Config, log *slog.Logger) (*nodeStores, error) {
	if o.store == runStoreMemory {
		log.Warn("the node keeps its log, term and vote in memory only: never restart it under the same id, "+
			"because a node that forgot its vote can vote twice in one term and break the cluster's safety",
			"node", cfg.ID, "store", runStoreMemory)
		st := memory.NewStore()
		return &nodeStores{log: st.Log, stable: st.Stable, snapshots: st.Snapshots}, nil
	}

	path := filepath.Join(o.data, dataLogFile)
	store, err := boltlike.Open(path, boltlike.Options{Cluster: cfg.Cluster, Node: cfg.ID, Logger: log})
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

// storeError adds what to check to an error of opening the data directory.
func storeError(dir string, err error) error {
	if errors.Is(err, boltlike.ErrIdentityMismatch) {
		return fmt.Errorf("--data %s belongs to another node: %w; check --data, --id and --cluster", dir, err)
	}
	return fmt.Errorf("open --data %s: %w", dir, err)
}

// storeErrorCode returns the exit code of a store error: exitUsage when
// the data directory belongs to another node, which the command line
// must fix, exitFailure otherwise.
func storeErrorCode(err error) int {
	if errors.Is(err, boltlike.ErrIdentityMismatch) {
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
