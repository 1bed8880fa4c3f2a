package statemachine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine/kvwire"
)

// sampleKV returns a KV with a mix of keys and values, applied up to index 6.
func sampleKV(t *testing.T) *KV {
	a := newApplier(t)
	a.applyBatch(
		EncodePut("alpha", []byte("1")),
		EncodePut("alpha", []byte("2")),
		EncodePut("empty", nil),
		EncodePut("binary", []byte{0, 1, 2, 0xff, 0xc1}),
		EncodePut("large", bytes.Repeat([]byte("0123456789"), 20000)),
		EncodeIncrement("counter", 41),
	)
	return a.kv
}

func mustSnapshot(t *testing.T, kv *KV) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := kv.Snapshot(&buf); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return buf.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	source := sampleKV(t)
	data := mustSnapshot(t, source)

	restored := NewKV()
	if err := restored.Restore(bytes.NewReader(data)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if restored.Digest() != source.Digest() {
		t.Errorf("restored digest %s, want %s", restored.Digest(), source.Digest())
	}
	if restored.Len() != source.Len() {
		t.Errorf("restored Len = %d, want %d", restored.Len(), source.Len())
	}
	if restored.AppliedIndex() != 6 {
		t.Errorf("restored AppliedIndex = %d, want 6", restored.AppliedIndex())
	}

	result, err := restored.Read(EncodeGet("alpha"))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checkResult(t, "Get after Restore", mustDecodeResult(t, result),
		kvwire.Result{Found: true, Value: []byte("2"), Revision: 2})

	// The restored KV goes on from the snapshot's revisions and index.
	results, err := restored.Apply([]raft.Command{{Index: 7, Data: EncodeIncrement("counter", 1)}})
	if err != nil {
		t.Fatalf("Apply after Restore: %v", err)
	}
	checkResult(t, "Increment after Restore", mustDecodeResult(t, results[0]),
		kvwire.Result{Found: true, Value: []byte("42"), Revision: 2})
}

func TestSnapshotEmpty(t *testing.T) {
	data := mustSnapshot(t, NewKV())
	restored := sampleKV(t)
	if err := restored.Restore(bytes.NewReader(data)); err != nil {
		t.Fatalf("Restore of an empty snapshot: %v", err)
	}
	if restored.Len() != 0 || restored.AppliedIndex() != 0 {
		t.Errorf("after Restore of an empty snapshot: Len %d, AppliedIndex %d; want 0 and 0", restored.Len(), restored.AppliedIndex())
	}
	if restored.Digest() != NewKV().Digest() {
		t.Errorf("digest after Restore of an empty snapshot differs from an empty KV's")
	}
}

func TestSnapshotDeterministic(t *testing.T) {
	first := mustSnapshot(t, sampleKV(t))
	second := mustSnapshot(t, sampleKV(t))
	if !bytes.Equal(first, second) {
		t.Errorf("two snapshots of the same state differ (%d and %d bytes)", len(first), len(second))
	}

	x := newApplier(t)
	x.applyBatch(EncodePut("a", []byte("1")), EncodePut("b", []byte("2")), EncodePut("c", []byte("3")))
	y := newApplier(t)
	y.applyBatch(EncodePut("c", []byte("3")), EncodePut("a", []byte("1")), EncodePut("b", []byte("2")))
	if !bytes.Equal(mustSnapshot(t, x.kv), mustSnapshot(t, y.kv)) {
		t.Errorf("snapshots of the same contents applied in another order differ")
	}
}

func TestRestoreFromSmallReads(t *testing.T) {
	source := sampleKV(t)
	data := mustSnapshot(t, source)

	readers := map[string]func() *KV{
		"one byte at a time": func() *KV {
			kv := NewKV()
			if err := kv.Restore(iotest.OneByteReader(bytes.NewReader(data))); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			return kv
		},
		"data with EOF": func() *KV {
			kv := NewKV()
			if err := kv.Restore(iotest.DataErrReader(bytes.NewReader(data))); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			return kv
		},
	}
	for name, restore := range readers {
		if kv := restore(); kv.Digest() != source.Digest() {
			t.Errorf("%s: restored digest %s, want %s", name, kv.Digest(), source.Digest())
		}
	}
}

// checkRestoreFails fails the test unless restoring data into a KV returns
// an error matching ErrInvalidSnapshot that contains want, and leaves the
// KV as it was.
func checkRestoreFails(t *testing.T, what string, data []byte, want string) {
	t.Helper()
	kv := sampleKV(t)
	digest, applied := kv.Digest(), kv.AppliedIndex()

	err := kv.Restore(bytes.NewReader(data))
	if !errors.Is(err, ErrInvalidSnapshot) {
		t.Fatalf("%s: Restore = %v, want an error matching ErrInvalidSnapshot", what, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %q does not contain %q", what, err, want)
	}
	if kv.Digest() != digest || kv.AppliedIndex() != applied {
		t.Errorf("%s: failed Restore changed the state", what)
	}
}

func TestRestoreRejectsFlippedBytes(t *testing.T) {
	a := newApplier(t)
	a.applyBatch(EncodePut("a", []byte("one")), EncodePut("b", []byte("two")), EncodeIncrement("c", 3))
	data := mustSnapshot(t, a.kv)

	// CRC-32C detects every burst error of up to 32 bits, so each single
	// flipped byte must be rejected, whichever check catches it first.
	for i := range data {
		damaged := bytes.Clone(data)
		damaged[i] ^= 0xff
		checkRestoreFails(t, "byte "+strconv.Itoa(i)+" flipped", damaged, "")
	}
}

func TestRestoreRejectsTruncation(t *testing.T) {
	data := mustSnapshot(t, sampleKV(t))
	for _, n := range []int{0, 1, 3, headerLen - 1, headerLen, headerLen + 1, 100, len(data) / 2, len(data) - 5, len(data) - 4, len(data) - 1} {
		checkRestoreFails(t, "truncated to "+strconv.Itoa(n)+" bytes", data[:n], "")
	}
	checkRestoreFails(t, "truncated in the middle", data[:len(data)/2], "truncated")
	checkRestoreFails(t, "truncated in the checksum", data[:len(data)-2], "")
}

func TestRestoreRejectsTrailingData(t *testing.T) {
	data := mustSnapshot(t, sampleKV(t))
	checkRestoreFails(t, "extra byte", append(bytes.Clone(data), 0), "")
	checkRestoreFails(t, "snapshot twice", append(bytes.Clone(data), data...), "")
}

// sealSnapshot appends a valid checksum to body.
func sealSnapshot(body []byte) []byte {
	return binary.BigEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
}

// snapshotHeader returns a header with the given magic, version, applied
// index and record count.
func snapshotHeader(magic string, version uint16, applied, count uint64) []byte {
	b := []byte(magic)
	b = binary.BigEndian.AppendUint16(b, version)
	b = binary.BigEndian.AppendUint64(b, applied)
	return binary.BigEndian.AppendUint64(b, count)
}

func appendTestRecord(b []byte, key, value string, revision uint64) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	b = append(b, value...)
	return binary.AppendUvarint(b, revision)
}

func TestRestoreRejectsBadHeaders(t *testing.T) {
	checkRestoreFails(t, "bad magic", sealSnapshot(snapshotHeader("JUNK", 1, 0, 0)), `magic is "JUNK"`)
	checkRestoreFails(t, "unknown version", sealSnapshot(snapshotHeader("NRKV", 2, 0, 0)), "format version 2 is not supported")
	checkRestoreFails(t, "bad checksum", append(snapshotHeader("NRKV", 1, 0, 0), 0, 0, 0, 0), "checksum mismatch")
}

func TestRestoreRejectsBadRecords(t *testing.T) {
	header := snapshotHeader("NRKV", 1, 9, 2)

	unsorted := appendTestRecord(appendTestRecord(header, "b", "1", 1), "a", "1", 1)
	checkRestoreFails(t, "unsorted keys", sealSnapshot(unsorted), "does not sort after")

	duplicate := appendTestRecord(appendTestRecord(header, "a", "1", 1), "a", "2", 1)
	checkRestoreFails(t, "duplicate keys", sealSnapshot(duplicate), "does not sort after")

	zeroRevision := appendTestRecord(appendTestRecord(header, "a", "1", 1), "b", "1", 0)
	checkRestoreFails(t, "revision 0", sealSnapshot(zeroRevision), "revision 0")

	missing := appendTestRecord(header, "a", "1", 1)
	checkRestoreFails(t, "fewer records than counted", sealSnapshot(missing), "truncated")

	// A damaged length must fail at the end of the data, not allocate it.
	hugeValue := append(bytes.Clone(header), 1, 'a')
	hugeValue = binary.AppendUvarint(hugeValue, 1<<29)
	checkRestoreFails(t, "value length beyond the data", sealSnapshot(hugeValue), "truncated")

	tooLong := binary.AppendUvarint(bytes.Clone(header), maxFieldLen+1)
	checkRestoreFails(t, "key length above the limit", sealSnapshot(tooLong), "above the limit")
}

func TestRestoreValidRecords(t *testing.T) {
	body := appendTestRecord(appendTestRecord(snapshotHeader("NRKV", 1, 9, 2), "a", "x", 3), "b", "", 1)
	kv := NewKV()
	if err := kv.Restore(bytes.NewReader(sealSnapshot(body))); err != nil {
		t.Fatalf("Restore of a hand-built snapshot: %v", err)
	}
	if kv.Len() != 2 || kv.AppliedIndex() != 9 {
		t.Errorf("after Restore: Len %d, AppliedIndex %d; want 2 and 9", kv.Len(), kv.AppliedIndex())
	}
	result, err := kv.Read(EncodeGet("a"))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checkResult(t, "Get of a", mustDecodeResult(t, result), kvwire.Result{Found: true, Value: []byte("x"), Revision: 3})
}

func TestRestoreReportsReadErrors(t *testing.T) {
	data := mustSnapshot(t, sampleKV(t))
	kv := NewKV()
	err := kv.Restore(iotest.TimeoutReader(iotest.OneByteReader(bytes.NewReader(data))))
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("Restore from a failing reader = %v, want an error matching iotest.ErrTimeout", err)
	}
	if errors.Is(err, ErrInvalidSnapshot) {
		t.Errorf("Restore from a failing reader = %v, want it not to blame the snapshot", err)
	}
	if kv.Len() != 0 {
		t.Errorf("failed Restore left %d keys, want 0", kv.Len())
	}
}

func TestSnapshotReportsWriteErrors(t *testing.T) {
	kv := sampleKV(t)
	failing := errors.New("disk full")
	if err := kv.Snapshot(failingWriter{failing}); !errors.Is(err, failing) {
		t.Errorf("Snapshot to a failing writer = %v, want an error matching %v", err, failing)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }
