package statemachine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/natsraft/natsraft/statemachine/sessionwire"
)

// Session snapshot format, version 1. Integers are big endian.
//
//	header   magic "NRSS" (4 bytes), version (2), table length (8)
//	table    a sessionwire.SessionTable in its msgpack encoding
//	checksum CRC-32C (Castagnoli) of the header and the table (4 bytes)
//	inner    the inner state machine's snapshot, to the end of the data
//
// The inner snapshot follows unframed, so it streams to and from the inner
// state machine without a copy in memory. Its own format must detect
// damage to it.
const (
	sessionMagic       = "NRSS"
	sessionVersion     = 1
	sessionHeaderLen   = 4 + 2 + 8
	sessionChecksumLen = 4
)

// writeSessionSection writes the header, the encoded table and the
// checksum.
func writeSessionSection(w io.Writer, table []byte) error {
	b := make([]byte, 0, sessionHeaderLen+len(table)+sessionChecksumLen)
	b = append(b, sessionMagic...)
	b = binary.BigEndian.AppendUint16(b, sessionVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(len(table)))
	b = append(b, table...)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	_, err := w.Write(b)
	return err
}

// readSessionSection reads and checks the header, the table and the
// checksum, and leaves r at the start of the inner snapshot.
func readSessionSection(r io.Reader) (*sessionwire.SessionTable, error) {
	var header [sessionHeaderLen]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, sessionReadError("header", err)
	}
	if magic := string(header[:4]); magic != sessionMagic {
		return nil, invalidSnapshot("magic is %q, expected %q: not a snapshot of a state machine with sessions", magic, sessionMagic)
	}
	if version := binary.BigEndian.Uint16(header[4:6]); version != sessionVersion {
		return nil, invalidSnapshot("session format version %d is not supported, this build reads version %d", version, sessionVersion)
	}
	tableLen := binary.BigEndian.Uint64(header[6:14])
	table, err := readField(r, tableLen)
	if err != nil {
		return nil, sessionReadError("session table", err)
	}
	var checksum [sessionChecksumLen]byte
	if _, err := io.ReadFull(r, checksum[:]); err != nil {
		return nil, sessionReadError("session checksum", err)
	}
	computed := crc32.Update(crc32.Checksum(header[:], castagnoli), castagnoli, table)
	if stored := binary.BigEndian.Uint32(checksum[:]); stored != computed {
		return nil, invalidSnapshot("session checksum mismatch: stored %08x, computed %08x: the snapshot is damaged", stored, computed)
	}
	var decoded sessionwire.SessionTable
	if err := decoded.Unmarshal(table); err != nil {
		return nil, invalidSnapshot("session table: %v", err)
	}
	return &decoded, nil
}

// sessionReadError turns an error met while reading part of the session
// section into a Restore error. Only a short read means damaged data.
func sessionReadError(part string, err error) error {
	if errors.Is(err, ErrInvalidSnapshot) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalidSnapshot("data ends in the %s: the snapshot is truncated", part)
	}
	return fmt.Errorf("statemachine: restore snapshot: read %s: %w", part, err)
}

// EncodeSessionCommand returns the log command that wraps cmd for a
// Sessions state machine. clientID "" sends cmd without deduplication.
// Otherwise sequence numbers the client's commands from 1, and ack is the
// highest sequence number such that the client has received the reply to
// it and to every lower number.
func EncodeSessionCommand(clientID string, sequence, ack uint64, cmd []byte) []byte {
	sc := sessionwire.SessionCommand{ClientID: clientID, Sequence: sequence, Ack: ack, Command: cmd}
	return sc.Marshal()
}

// DecodeSessionResult decodes a result returned by Sessions.Apply. The
// result's Result field aliases b.
func DecodeSessionResult(b []byte) (sessionwire.SessionResult, error) {
	var res sessionwire.SessionResult
	if err := res.Unmarshal(b); err != nil {
		return sessionwire.SessionResult{}, fmt.Errorf("statemachine: decode session result: %w", err)
	}
	return res, nil
}
