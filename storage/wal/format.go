package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Segment header layout: the magic, the format version, the segment's
// sequence number, the log's first and last index when the segment was
// created, and a CRC-32C of those 40 bytes. Records start at headerSize.
const (
	headerSize      = 64
	headerCRCOffset = 40
)

// segmentMagic starts every segment file.
var segmentMagic = [8]byte{'n', 'r', 'a', 'f', 't', 'w', 'a', 'l'}

// frameHeaderSize is the length of a record's frame header: the body length
// and the CRC-32C, both uint32 little-endian.
const frameHeaderSize = 8

// frameAlign is the alignment of every record in a segment. Frames are
// padded with zeros to it, so the recovery scan for batch headers only needs
// to look at aligned offsets.
const frameAlign = 8

// maxBodySize bounds a record body so that a damaged length field cannot
// make recovery allocate or skip gigabytes.
const maxBodySize = 1 << 30

// Record types, the first byte of every record body.
const (
	// recordBatch starts every write: the segment's sequence number, the
	// offset of this record and the number of records in the batch.
	recordBatch byte = 1
	// recordEntry holds one log entry in the wire encoding.
	recordEntry byte = 2
	// recordTruncateSuffix holds the index from which entries are deleted.
	recordTruncateSuffix byte = 3
	// recordTruncatePrefix holds the index up to which entries are deleted.
	recordTruncatePrefix byte = 4
)

// batchBodySize is the body length of a recordBatch record.
const batchBodySize = 1 + 8 + 8 + 4

// batchFrameSize is the aligned length of a recordBatch frame.
var batchFrameSize = alignFrame(batchBodySize)

// castagnoli is the CRC-32C table. Go's hash/crc32 uses the SSE4.2 or ARMv8
// CRC instructions for it where the CPU has them.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var le = binary.LittleEndian

// alignFrame returns the length of a frame whose body has bodySize bytes,
// padding included.
func alignFrame(bodySize int) int {
	n := frameHeaderSize + bodySize
	return (n + frameAlign - 1) &^ (frameAlign - 1)
}

// frameCRC returns the CRC-32C of a frame's length field followed by its
// body, so that a damaged length field fails the check too.
func frameCRC(lengthField, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(lengthField, castagnoli), castagnoli, body)
}

// appendFrame appends a frame whose body is typ followed by what payload
// appends, and pads it to frameAlign.
func appendFrame(b []byte, typ byte, payload func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, typ)
	b = payload(b)
	bodySize := len(b) - start - frameHeaderSize
	le.PutUint32(b[start:], uint32(bodySize))
	le.PutUint32(b[start+4:], frameCRC(b[start:start+4], b[start+frameHeaderSize:]))
	for len(b)%frameAlign != 0 {
		b = append(b, 0)
	}
	return b
}

// putBatchFrame writes a recordBatch frame into b, which must have
// batchFrameSize bytes.
func putBatchFrame(b []byte, seq uint64, offset int64, count int) {
	clear(b)
	body := b[frameHeaderSize : frameHeaderSize+batchBodySize]
	body[0] = recordBatch
	le.PutUint64(body[1:], seq)
	le.PutUint64(body[9:], uint64(offset))
	le.PutUint32(body[17:], uint32(count))
	le.PutUint32(b, batchBodySize)
	le.PutUint32(b[4:], frameCRC(b[:4], body))
}

// errNoFrame is returned by readFrame for a zero length field: the place
// where no record was ever written.
var errNoFrame = errors.New("no record: the length field is zero")

// readFrame verifies the frame at the start of b and returns its body and
// its aligned length. The error does not name the file or offset; the
// caller adds them.
func readFrame(b []byte) (body []byte, frameSize int, err error) {
	if len(b) < frameHeaderSize {
		return nil, 0, fmt.Errorf("the frame header is cut off after %d of %d bytes", len(b), frameHeaderSize)
	}
	bodySize := le.Uint32(b)
	switch {
	case bodySize == 0:
		return nil, 0, errNoFrame
	case bodySize > maxBodySize:
		return nil, 0, fmt.Errorf("invalid record length %d", bodySize)
	case int(bodySize) > len(b)-frameHeaderSize:
		return nil, 0, fmt.Errorf("the record of %d bytes is cut off after %d bytes", bodySize, len(b)-frameHeaderSize)
	}
	body = b[frameHeaderSize : frameHeaderSize+int(bodySize)]
	if want, got := le.Uint32(b[4:]), frameCRC(b[:4], body); want != got {
		return nil, 0, fmt.Errorf("checksum mismatch: stored crc32c %08x, computed %08x", want, got)
	}
	return body, min(alignFrame(int(bodySize)), len(b)), nil
}

// batchHeader is the decoded body of a recordBatch record.
type batchHeader struct {
	seq    uint64
	offset int64
	count  int
}

func decodeBatchBody(body []byte) (batchHeader, error) {
	if len(body) != batchBodySize || body[0] != recordBatch {
		return batchHeader{}, fmt.Errorf("the record of %d bytes is not a batch header of %d bytes and type %d", len(body), batchBodySize, recordBatch)
	}
	return batchHeader{
		seq:    le.Uint64(body[1:]),
		offset: int64(le.Uint64(body[9:])),
		count:  int(le.Uint32(body[17:])),
	}, nil
}

// isBatchHeaderAt reports whether b[offset:] starts with a valid batch
// header that names segment seq and offset itself. A record written by a
// later batch has such a header, while stray bytes almost never do.
func isBatchHeaderAt(b []byte, seq uint64, offset int64) bool {
	if int64(len(b))-offset < int64(batchFrameSize) || le.Uint32(b[offset:]) != batchBodySize {
		return false
	}
	body, _, err := readFrame(b[offset:])
	if err != nil {
		return false
	}
	h, err := decodeBatchBody(body)
	return err == nil && h.seq == seq && h.offset == offset
}

// decodeIndexBody decodes the body of a truncation record.
func decodeIndexBody(body []byte) (uint64, error) {
	if len(body) != 9 {
		return 0, fmt.Errorf("truncation record of %d bytes, expected 9", len(body))
	}
	return le.Uint64(body[1:]), nil
}

// segmentHeader is the decoded header of a segment file.
type segmentHeader struct {
	version     uint32
	seq         uint64
	first, last uint64
}

func encodeSegmentHeader(h segmentHeader) []byte {
	b := make([]byte, headerSize)
	copy(b, segmentMagic[:])
	le.PutUint32(b[8:], h.version)
	le.PutUint64(b[16:], h.seq)
	le.PutUint64(b[24:], h.first)
	le.PutUint64(b[32:], h.last)
	le.PutUint32(b[headerCRCOffset:], crc32.Checksum(b[:headerCRCOffset], castagnoli))
	return b
}

// decodeSegmentHeader verifies and decodes the header at the start of b. It
// does not check the version; the caller does.
func decodeSegmentHeader(b []byte) (segmentHeader, error) {
	if len(b) < headerSize {
		return segmentHeader{}, fmt.Errorf("the file has %d bytes, shorter than the %d-byte segment header", len(b), headerSize)
	}
	if [8]byte(b[:8]) != segmentMagic {
		return segmentHeader{}, fmt.Errorf("the file does not start with the segment magic %q", segmentMagic[:])
	}
	if want, got := le.Uint32(b[headerCRCOffset:]), crc32.Checksum(b[:headerCRCOffset], castagnoli); want != got {
		return segmentHeader{}, fmt.Errorf("segment header checksum mismatch: stored crc32c %08x, computed %08x", want, got)
	}
	return segmentHeader{
		version: le.Uint32(b[8:]),
		seq:     le.Uint64(b[16:]),
		first:   le.Uint64(b[24:]),
		last:    le.Uint64(b[32:]),
	}, nil
}

// appendChecksummed appends the CRC-32C of the bytes that encode appends to
// b, big-endian, followed by those bytes. The META and HARDSTATE files use
// this form.
func appendChecksummed(b []byte, encode func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = encode(b)
	binary.BigEndian.PutUint32(b[start:], crc32.Checksum(b[start+4:], castagnoli))
	return b
}

// verifiedPayload checks a value written by appendChecksummed and returns
// the bytes after the CRC.
func verifiedPayload(value []byte) ([]byte, error) {
	if len(value) < 4 {
		return nil, fmt.Errorf("%d bytes is shorter than the 4-byte checksum", len(value))
	}
	payload := value[4:]
	if want, got := binary.BigEndian.Uint32(value), crc32.Checksum(payload, castagnoli); want != got {
		return nil, fmt.Errorf("checksum mismatch: stored crc32c %08x, computed %08x", want, got)
	}
	return payload, nil
}
