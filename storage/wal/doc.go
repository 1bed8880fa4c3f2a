// Package wal provides a durable raft.LogStore and raft.StableStore that
// keeps the log in append-only segment files and syncs each write with one
// fdatasync.
//
// # Files
//
// A Store owns one directory:
//
//   - LOCK: empty; Open holds an exclusive flock on it until Close, so a
//     second Store on the directory, in this process or another, fails
//     at once with ErrLocked. Open checks META's identity before it takes
//     the lock, so a Store opened as another node gets
//     ErrIdentityMismatch even while the owner runs.
//   - META: the format version and the cluster and node ids, written as the
//     last step of the first Open, after the first segment: a CRC-32C
//     (Castagnoli, 4 bytes big-endian) followed by JSON. A directory with
//     META and no segment has lost its log, and Open fails with an error
//     wrapping raft.ErrCorrupt. A directory without META whose only
//     segment contains no record is a first Open that was interrupted, and
//     Open starts over.
//   - HARDSTATE: the term and vote: a CRC-32C followed by the wire codec's
//     msgpack encoding of wire.HardState. The first Open writes the zero
//     value, so a HARDSTATE missing later fails Open with an error
//     wrapping raft.ErrCorrupt: a node that lost its vote must not vote
//     again in the same term.
//   - NNNNNNNNNNNNNNNN.seg: the segments, named by a sequence number of 16
//     hexadecimal digits that grows by one per segment.
//
// A segment starts with a 64-byte header: the magic "nraftwal", the format
// version, the sequence number, and the log's first and last index when the
// segment was created, all covered by a CRC-32C. Records follow, each
// aligned to 8 bytes:
//
//	length  uint32 LE  length of the body
//	crc     uint32 LE  CRC-32C of the length field and the body
//	body    type byte, then the payload
//	padding zeros up to the next multiple of 8
//
// Every write is a batch. It starts with a batch record that contains the
// segment's sequence number, the batch record's own offset and the number
// of records that follow. The records are entries in the wire encoding, or
// one truncation record with the argument of TruncateSuffix or
// TruncatePrefix. Replay applies the records in file order, so the newest
// version of an index wins.
//
// A segment file is allocated at its full size (Options.SegmentSize) when
// it is created, with fallocate where the file system has it, so that an
// append changes neither the file's length nor its block map, and one
// fdatasync makes it durable. A batch that does not fit in the rest of the
// active segment starts a new one; the old one is cut to its used length.
//
// NOTE: ext4 marks blocks reserved by fallocate as unwritten, and the first
// write to each one makes fdatasync commit the journal as well. Segments
// filled with zeros instead made a synced Append of 64 entries about 40%
// faster (BenchmarkAppend). But filling the next segment in the background
// doubled the p99 latency of a three-node cluster sharing one disk, and
// did not change its throughput. Reusing the files of compacted
// segments would give written blocks without the extra writes.
//
// # Durability
//
// Append encodes the whole batch into one buffer, writes it with one
// pwrite, calls fdatasync once and only then updates the in-memory index
// and returns. TruncateSuffix and TruncatePrefix write and sync a
// truncation record the same way. TruncatePrefix then deletes the oldest
// segment files whose entries are all compacted; the next segment's header
// records the bounds that replay needs. SetHardState writes HARDSTATE under
// a temporary name, syncs it, renames it and syncs the directory: three
// syncs, at elections only. Options.NoSync skips every sync and is only for
// tests and benchmarks. A failed write or sync makes the store reject
// further writes until it is reopened.
//
// # Recovery
//
// Open replays every segment in order and verifies each record's CRC, each
// batch's header and record count, the continuity of the indexes, each
// header's bounds against the segments before it, and that no segment file
// is missing. Replay stops at the first batch that is not complete and
// valid. What follows is handled by this rule:
//
//   - only zeros: unused space, the normal case;
//   - in the last segment, with no valid batch record anywhere after it: a
//     write that was cut short by a crash and never acknowledged. Open logs
//     a warning with the file, the offset and the number of bytes, clears
//     them with zeros and continues;
//   - anything else (a valid batch after the damage, or damage in an older
//     segment, a header, META or HARDSTATE): an error wrapping
//     raft.ErrCorrupt that names the file and offset. Nothing is skipped.
//
// NOTE: damage that hits the last batch of the last segment looks like a
// torn write, so Open drops that batch with a warning instead of failing.
// Open also fails, instead of recovering, in the unlikely case that an
// entry's data contains a valid batch record for the segment and its own
// offset.
//
// # Reads
//
// The in-memory index holds, per entry, the record's offset and length in
// its segment (8 bytes), plus one run per term change and per segment, so
// Term, FirstIndex and LastIndex read no file. Entries reads each run of
// adjacent records with one pread and checks every record's CRC, type,
// index and term; damage is an error wrapping raft.ErrCorrupt that names
// the entry, the file and the offset. Reads run concurrently with each
// other and with the one writer; a segment that TruncatePrefix deletes
// stays open until the reads that use it end.
//
// # Choosing between wal and boltlike
//
// storage/boltlike keeps the log and the hard state in one bbolt file,
// where every commit costs two syncs (data pages, then the meta page) plus
// random page writes. A wal Store costs one fdatasync of sequentially
// written data per Append, so it suits durable clusters whose write
// latency is bound by the log writer. Open reads every segment, so its time
// grows with the length of the uncompacted log; compaction keeps it short.
// boltlike also provides the SnapshotStore; wal does not.
//
// The package must not import NATS.
package wal
