package boltlike

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"slices"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/storage/internal/fsutil"
)

// snapshotFormatVersion is the version of the snapshot metadata file.
const snapshotFormatVersion = 1

// metaChecksumPrefix starts the line after the JSON document of a metadata
// file; the CRC-32C of the document follows it in 8 hex digits.
const metaChecksumPrefix = "\ncrc32c:"

// snapshotMetaFile is the JSON document of a NAME.meta file.
type snapshotMetaFile struct {
	FormatVersion int    `json:"format_version"`
	Cluster       string `json:"cluster"`
	Node          string `json:"node"`
	Index         uint64 `json:"index"`
	Term          uint64 `json:"term"`
	// Configuration is the wire encoding of the wire.Configuration, base64
	// in the JSON document, so that fields added to the schema are kept.
	Configuration []byte `json:"configuration"`
	Size          int64  `json:"size"`
	DataCRC32C    uint32 `json:"data_crc32c"`
}

// snapshotInfo describes one complete snapshot in the directory.
type snapshotInfo struct {
	seq     uint64 // order of publication, part of the file names
	meta    raft.SnapshotMeta
	dataCRC uint32
}

// encodeSnapshotMeta returns the contents of the metadata file of info.
func encodeSnapshotMeta(info snapshotInfo, cluster, node string) ([]byte, error) {
	doc, err := json.Marshal(snapshotMetaFile{
		FormatVersion: snapshotFormatVersion,
		Cluster:       cluster,
		Node:          node,
		Index:         info.meta.Index,
		Term:          info.meta.Term,
		Configuration: info.meta.Configuration.Marshal(),
		Size:          info.meta.Size,
		DataCRC32C:    info.dataCRC,
	})
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(doc, "%s%08x\n", metaChecksumPrefix, crc32.Checksum(doc, castagnoli)), nil
}

// decodeSnapshotMeta verifies and decodes the contents of a metadata file.
// Errors that mean damage wrap raft.ErrCorrupt.
func decodeSnapshotMeta(content []byte) (snapshotMetaFile, raft.SnapshotMeta, error) {
	var doc snapshotMetaFile
	var meta raft.SnapshotMeta
	cut := bytes.LastIndex(content, []byte(metaChecksumPrefix))
	if cut < 0 {
		return doc, meta, fmt.Errorf("%w: the checksum line is missing", raft.ErrCorrupt)
	}
	var want uint32
	tail := content[cut+len(metaChecksumPrefix):]
	if n, err := fmt.Sscanf(string(tail), "%08x\n", &want); n != 1 || err != nil || len(tail) != 9 {
		return doc, meta, fmt.Errorf("%w: invalid checksum line %q", raft.ErrCorrupt, tail)
	}
	if got := crc32.Checksum(content[:cut], castagnoli); got != want {
		return doc, meta, fmt.Errorf("%w: checksum mismatch: stored crc32c %08x, computed %08x", raft.ErrCorrupt, want, got)
	}
	if err := json.Unmarshal(content[:cut], &doc); err != nil {
		return doc, meta, fmt.Errorf("%w: %w", raft.ErrCorrupt, err)
	}
	if doc.FormatVersion > snapshotFormatVersion {
		return doc, meta, fmt.Errorf("format version %d, but this release reads versions up to %d: run a newer release: %w",
			doc.FormatVersion, snapshotFormatVersion, ErrUnsupportedFormat)
	}
	meta = raft.SnapshotMeta{Index: doc.Index, Term: doc.Term, Size: doc.Size}
	if err := meta.Configuration.Unmarshal(doc.Configuration); err != nil {
		return doc, meta, fmt.Errorf("%w: configuration: %w", raft.ErrCorrupt, err)
	}
	return doc, meta, nil
}

// copyMeta returns meta with its own copy of the voter list, so that later
// changes by the caller do not reach the store, and the reverse.
func copyMeta(meta raft.SnapshotMeta) raft.SnapshotMeta {
	meta.Configuration.Voters = slices.Clone(meta.Configuration.Voters)
	return meta
}

// writeFileSynced writes data to a temporary file in dir, syncs it unless
// noSync is set, and renames it to path.
func writeFileSynced(dir, path string, data []byte, noSync bool) error {
	f, err := os.CreateTemp(dir, "meta-*.tmp")
	if err != nil {
		return err
	}
	return fsutil.WriteAndRename(f, path, data, noSync)
}
