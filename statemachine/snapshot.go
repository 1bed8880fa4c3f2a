package statemachine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// Snapshot format, version 1. Integers in the header and trailer are big
// endian. Lengths and revisions in records are unsigned varints.
//
//	header  magic "NRKV" (4 bytes), version (2 bytes), applied index (8),
//	        record count (8)
//	record  key length, key, value length, value, revision
//	trailer CRC-32C (Castagnoli) of the header and records (4 bytes)
//
// Records are sorted by key in ascending byte order, and keys are unique.
const (
	snapshotMagic   = "NRKV"
	snapshotVersion = 1
	headerLen       = 4 + 2 + 8 + 8
	trailerLen      = 4
	maxVarintLen    = binary.MaxVarintLen64
	// maxFieldLen bounds a key or value length read from a snapshot. It is a
	// sanity check against a damaged length, far above what a NATS message
	// can carry in one command.
	maxFieldLen = 1 << 30
)

// ErrInvalidSnapshot is wrapped by KV.Restore when the snapshot is damaged
// or not in a format this package reads.
var ErrInvalidSnapshot = errors.New("statemachine: invalid snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot writes the whole state to w in key order, so the same state
// always gives the same bytes. It holds the read lock while writing, so
// Apply waits until it returns.
func (kv *KV) Snapshot(w io.Writer) error {
	kv.mu.RLock()
	defer kv.mu.RUnlock()

	cw := &crcWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)

	header := make([]byte, 0, headerLen)
	header = append(header, snapshotMagic...)
	header = binary.BigEndian.AppendUint16(header, snapshotVersion)
	header = binary.BigEndian.AppendUint64(header, kv.applied)
	header = binary.BigEndian.AppendUint64(header, uint64(len(kv.data)))
	if _, err := bw.Write(header); err != nil {
		return fmt.Errorf("statemachine: write snapshot: %w", err)
	}

	scratch := make([]byte, 0, 3*maxVarintLen)
	for _, key := range kv.sortedKeysLocked() {
		if err := writeRecord(bw, scratch, key, kv.data[key]); err != nil {
			return fmt.Errorf("statemachine: write snapshot: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("statemachine: write snapshot: %w", err)
	}

	trailer := binary.BigEndian.AppendUint32(nil, cw.crc)
	if _, err := w.Write(trailer); err != nil {
		return fmt.Errorf("statemachine: write snapshot: %w", err)
	}
	return nil
}

// writeRecord writes one key's record; scratch is a buffer for the varints.
func writeRecord(w io.Writer, scratch []byte, key string, rec record) error {
	b := binary.AppendUvarint(scratch[:0], uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(rec.value)))
	if _, err := w.Write(b); err != nil {
		return err
	}
	if _, err := w.Write(rec.value); err != nil {
		return err
	}
	_, err := w.Write(binary.AppendUvarint(scratch[:0], rec.revision))
	return err
}

// crcWriter forwards writes to w and keeps the CRC-32C of what it wrote.
type crcWriter struct {
	w   io.Writer
	crc uint32
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	return n, err
}

// Restore replaces the whole state with a snapshot written by Snapshot,
// including the applied index. It reads r to the end and returns an error
// wrapping ErrInvalidSnapshot if the magic, version, records or checksum
// are wrong, if the data ends early or if data follows the trailer. On any
// error the state is unchanged.
func (kv *KV) Restore(r io.Reader) error {
	data, applied, err := readSnapshot(r)
	if err != nil {
		return err
	}

	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.data = data
	kv.applied = applied
	return nil
}

func invalidSnapshot(format string, args ...any) error {
	return fmt.Errorf("statemachine: restore snapshot: %s: %w", fmt.Sprintf(format, args...), ErrInvalidSnapshot)
}

// readSnapshot decodes and checks a whole snapshot.
func readSnapshot(r io.Reader) (map[string]record, uint64, error) {
	body := newBodyReader(r)

	var header [headerLen]byte
	if _, err := io.ReadFull(body, header[:]); err != nil {
		return nil, 0, readError("header", err)
	}
	if magic := string(header[:4]); magic != snapshotMagic {
		return nil, 0, invalidSnapshot("magic is %q, expected %q: not a key-value snapshot", magic, snapshotMagic)
	}
	if version := binary.BigEndian.Uint16(header[4:6]); version != snapshotVersion {
		return nil, 0, invalidSnapshot("format version %d is not supported, this build reads version %d", version, snapshotVersion)
	}
	applied := binary.BigEndian.Uint64(header[6:14])
	count := binary.BigEndian.Uint64(header[14:22])

	data := make(map[string]record, min(count, 1<<16))
	var prevKey string
	for i := range count {
		key, rec, err := readRecord(body, i)
		if err != nil {
			return nil, 0, err
		}
		if i > 0 && key <= prevKey {
			return nil, 0, invalidSnapshot("record %d: key %q does not sort after the previous key %q", i, key, prevKey)
		}
		data[key] = rec
		prevKey = key
	}

	if err := body.checkTrailer(); err != nil {
		return nil, 0, err
	}
	return data, applied, nil
}

// readRecord reads record number i.
func readRecord(body *bodyReader, i uint64) (string, record, error) {
	keyLen, err := binary.ReadUvarint(body)
	if err != nil {
		return "", record{}, readError(fmt.Sprintf("key length of record %d", i), err)
	}
	key, err := readField(body, keyLen)
	if err != nil {
		return "", record{}, readError(fmt.Sprintf("key of record %d", i), err)
	}
	valueLen, err := binary.ReadUvarint(body)
	if err != nil {
		return "", record{}, readError(fmt.Sprintf("value length of record %d", i), err)
	}
	value, err := readField(body, valueLen)
	if err != nil {
		return "", record{}, readError(fmt.Sprintf("value of record %d", i), err)
	}
	revision, err := binary.ReadUvarint(body)
	if err != nil {
		return "", record{}, readError(fmt.Sprintf("revision of record %d", i), err)
	}
	if revision == 0 {
		return "", record{}, invalidSnapshot("record %d (key %q) has revision 0, stored keys start at 1", i, key)
	}
	return string(key), record{value: value, revision: revision}, nil
}

// readField reads n bytes. It grows the buffer as data arrives, so a damaged
// length fails at the end of the data rather than allocating n bytes.
func readField(r io.Reader, n uint64) ([]byte, error) {
	if n > maxFieldLen {
		return nil, invalidSnapshot("length %d is above the limit of %d bytes", n, maxFieldLen)
	}
	buf := make([]byte, 0, min(n, 64<<10))
	for uint64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(n-uint64(len(buf)), uint64(cap(buf)))))
		}
		chunk := min(n-uint64(len(buf)), uint64(cap(buf)-len(buf)))
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+int(chunk)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// readError turns an error met while reading part into a Restore error.
func readError(part string, err error) error {
	if errors.Is(err, ErrInvalidSnapshot) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalidSnapshot("data ends in the %s: the snapshot is truncated", part)
	}
	var sourceErr *sourceError
	if errors.As(err, &sourceErr) {
		return fmt.Errorf("statemachine: restore snapshot: read %s: %w", part, sourceErr.err)
	}
	// binary.ReadUvarint reports a varint that overflows 64 bits.
	return invalidSnapshot("%s: %v", part, err)
}

// bodyReader reads the header and records of a snapshot and keeps the
// CRC-32C of the bytes it returned. It holds back the last trailerLen bytes
// of the source, so a reader of the body gets io.EOF where the trailer
// starts. checkTrailer then compares the two checksums.
type bodyReader struct {
	src io.Reader
	// buf[start:end] holds bytes read from src and not yet returned.
	buf        []byte
	start, end int
	// srcErr is io.EOF once src is at its end, or a *sourceError.
	srcErr error
	crc    uint32
}

// sourceError wraps an error of the snapshot's source reader, so that it is
// not taken for damaged data.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func newBodyReader(src io.Reader) *bodyReader {
	return &bodyReader{src: src, buf: make([]byte, 64<<10)}
}

// fill reads from src until more than trailerLen bytes are buffered or src
// has no more data.
func (b *bodyReader) fill() {
	for b.end-b.start <= trailerLen && b.srcErr == nil {
		if b.start > 0 {
			b.end = copy(b.buf, b.buf[b.start:b.end])
			b.start = 0
		}
		n, err := b.src.Read(b.buf[b.end:])
		b.end += n
		if err == io.EOF {
			b.srcErr = io.EOF
		} else if err != nil {
			b.srcErr = &sourceError{err}
		}
	}
}

// available returns how many buffered bytes belong to the body.
func (b *bodyReader) available() int {
	return max(0, b.end-b.start-trailerLen)
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b.fill()
	n := min(len(p), b.available())
	if n == 0 {
		// fill stops with nothing available only once src is done.
		return 0, b.srcErr
	}
	copy(p, b.buf[b.start:b.start+n])
	b.crc = crc32.Update(b.crc, castagnoli, p[:n])
	b.start += n
	return n, nil
}

// ReadByte lets binary.ReadUvarint read without a bufio.Reader.
func (b *bodyReader) ReadByte() (byte, error) {
	b.fill()
	if b.available() == 0 {
		return 0, b.srcErr
	}
	c := b.buf[b.start]
	b.crc = crc32.Update(b.crc, castagnoli, b.buf[b.start:b.start+1])
	b.start++
	return c, nil
}

// checkTrailer checks that the body has been read to its end and that the
// trailer holds its checksum.
func (b *bodyReader) checkTrailer() error {
	b.fill()
	if b.available() > 0 {
		return invalidSnapshot("unexpected data after the last record")
	}
	var sourceErr *sourceError
	if errors.As(b.srcErr, &sourceErr) {
		return fmt.Errorf("statemachine: restore snapshot: read checksum: %w", sourceErr.err)
	}
	if b.end-b.start != trailerLen {
		return invalidSnapshot("data ends in the checksum: the snapshot is truncated")
	}
	stored := binary.BigEndian.Uint32(b.buf[b.start:b.end])
	if stored != b.crc {
		return invalidSnapshot("checksum mismatch: stored %08x, computed %08x: the snapshot is damaged", stored, b.crc)
	}
	return nil
}
