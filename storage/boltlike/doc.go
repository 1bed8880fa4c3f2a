// Package boltlike provides durable implementations of raft.LogStore,
// raft.StableStore and raft.SnapshotStore.
//
// A Store keeps the log, the hard state (term and vote) and the store's
// metadata in one go.etcd.io/bbolt file:
//
//   - bucket "log": one key per entry, the entry index as 8 big-endian bytes,
//     so that keys sort in index order. The value is the CRC-32C
//     (Castagnoli) of the encoded entry, 4 bytes big-endian, followed by the
//     entry in the wire codec's msgpack encoding.
//   - bucket "meta": the format version, the cluster and node ids stamped by
//     the first Open, the first index of the log, and the hard state (again
//     a CRC-32C followed by its encoding). The first Open writes the zero
//     hard state, so a missing one is reported as damage.
//
// Every read verifies the checksum and that the decoded index matches the
// key, and reports damage as an error wrapping raft.ErrCorrupt that names
// the file and the index. Panics that bbolt raises on damaged pages are
// converted into such errors too.
//
// Each mutating call (Append, TruncateSuffix, TruncatePrefix, SetHardState)
// is one bbolt read-write transaction, committed with one fsync unless
// Options.NoSync is set. The caller batches: the Raft log writer passes all
// entries that queued during the previous write to one Append.
//
// A SnapshotStore keeps snapshots as files in a directory: the data in
// NAME.snap and its metadata in NAME.meta, a JSON document followed by its
// own CRC-32C. Both are written to temporary files, synced and renamed, and
// the directory is synced before Close of the sink returns.
//
// The package must not import NATS.
package boltlike
