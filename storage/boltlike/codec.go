package boltlike

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/natsraft/natsraft/raft/wire"
)

// crcSize is the length of the CRC-32C that precedes every stored value.
const crcSize = 4

// castagnoli is the CRC-32C table. Go's hash/crc32 uses the SSE4.2 or ARMv8
// CRC instructions for it where the CPU has them.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// indexKey returns the bbolt key of the entry at index: 8 bytes big-endian,
// so that byte order is index order.
func indexKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), index)
}

// keyIndex decodes a key written by indexKey. ok is false when the key does
// not have 8 bytes.
func keyIndex(key []byte) (index uint64, ok bool) {
	if len(key) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(key), true
}

// appendChecksummed appends the CRC-32C of the bytes that encode appends to
// b, followed by those bytes.
func appendChecksummed(b []byte, encode func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = encode(b)
	sum := crc32.Checksum(b[start+crcSize:], castagnoli)
	binary.BigEndian.PutUint32(b[start:], sum)
	return b
}

// verifiedPayload checks the CRC-32C at the start of value and returns the
// bytes after it. The error does not name the file or the key; the caller
// adds them.
func verifiedPayload(value []byte) ([]byte, error) {
	if len(value) < crcSize {
		return nil, fmt.Errorf("value of %d bytes is shorter than its %d-byte checksum", len(value), crcSize)
	}
	payload := value[crcSize:]
	want := binary.BigEndian.Uint32(value)
	if got := crc32.Checksum(payload, castagnoli); got != want {
		return nil, fmt.Errorf("checksum mismatch: stored crc32c %08x, computed %08x", want, got)
	}
	return payload, nil
}

// decodeEntry verifies value and decodes the entry stored under index. The
// entry's Data aliases value, so the caller must copy it before value goes
// out of scope.
func decodeEntry(index uint64, value []byte) (wire.Entry, error) {
	var e wire.Entry
	payload, err := verifiedPayload(value)
	if err != nil {
		return e, err
	}
	if err := e.Unmarshal(payload); err != nil {
		return e, err
	}
	if e.Index != index {
		return e, fmt.Errorf("entry stored under index %d has index %d", index, e.Index)
	}
	return e, nil
}

// encodeHardState returns the stored form of st: its CRC-32C and encoding.
func encodeHardState(st wire.HardState) []byte {
	return appendChecksummed(make([]byte, 0, crcSize+st.Size()), st.MarshalAppend)
}

// decodeHardState verifies and decodes a value written by encodeHardState.
// The result does not alias value.
func decodeHardState(value []byte) (wire.HardState, error) {
	var st wire.HardState
	payload, err := verifiedPayload(value)
	if err != nil {
		return st, err
	}
	// HardState has no bytes fields, so it shares no memory with value.
	err = st.Unmarshal(payload)
	return st, err
}
