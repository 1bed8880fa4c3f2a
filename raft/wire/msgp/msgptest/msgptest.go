// Package msgptest checks generated message codecs. Tests of the packages
// that gen/ writes call CheckCodec for every message type. CheckCodec fills
// the message through reflection, which is fine in tests, and cross-checks
// the encoding against github.com/vmihailenco/msgpack/v5, an independent
// msgpack implementation.
package msgptest

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/raft/wire/msgp"
	"github.com/vmihailenco/msgpack/v5"
)

// Message is the codec part of a generated message.
type Message interface {
	MarshalAppend(b []byte) []byte
	Unmarshal(b []byte) error
	UnmarshalWithLimits(b []byte, limits msgp.Limits) error
	Size() int
}

// maxFillDepth bounds the nesting that Fill creates, so that messages that
// contain lists of themselves stay finite.
const maxFillDepth = 3

// Fill sets every field of the struct that msg points to to a non-zero
// value: integers of several encoded widths (negative ones for signed
// fields), strings, bytes, lists of two or three elements, and nested
// messages filled in turn. Values differ from field to field.
func Fill(msg any) {
	f := &filler{}
	f.fill(reflect.ValueOf(msg).Elem(), 0)
}

type filler struct{ n int }

// next returns a new counter value, which spreads values over the encoded
// widths: 1 byte, 2, 3, 5 and 9.
func (f *filler) next() uint64 {
	f.n++
	widths := []uint64{0, 1 << 7, 1 << 8, 1 << 16, 1 << 32}
	return widths[f.n%len(widths)] + uint64(f.n)
}

func (f *filler) fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Uint64:
		v.SetUint(f.next())
	case reflect.Int64:
		n := int64(f.next())
		if f.n%2 == 0 {
			n = -n
		}
		v.SetInt(n)
	case reflect.Int32:
		// Enums: 1 to 3, so that declared values and, for enums with fewer
		// values, undeclared ones travel.
		f.n++
		v.SetInt(int64(f.n%3 + 1))
	case reflect.Float64:
		v.SetFloat(float64(f.next()) + 0.25)
	case reflect.String:
		v.SetString("s" + strconv.Itoa(int(f.next())) + strings.Repeat("x", f.n%40))
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			f.n++
			b := make([]byte, 1+f.n%300)
			for i := range b {
				b[i] = byte(i + f.n)
			}
			v.SetBytes(b)
			return
		}
		if depth >= maxFillDepth {
			return
		}
		n := 2 + f.n%2
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			f.fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			f.fill(v.Field(i), depth+1)
		}
	default:
		panic("msgptest: cannot fill a " + v.Type().String())
	}
}

// CheckCodec runs every codec check on the message type that newMsg
// creates: round trip of a zero and a filled message, Size, allocation of
// MarshalAppend, decoding by vmihailenco/msgpack, unknown keys written by
// vmihailenco/msgpack, truncated input and trailing bytes.
func CheckCodec(t *testing.T, newMsg func() Message) {
	t.Helper()
	t.Run("zero", func(t *testing.T) { checkRoundTrip(t, newMsg, newMsg()) })
	full := newMsg()
	Fill(full)
	t.Run("filled", func(t *testing.T) { checkRoundTrip(t, newMsg, full) })
	t.Run("size", func(t *testing.T) { checkSize(t, full) })
	t.Run("vmihailenco decodes", func(t *testing.T) { checkForeignDecode(t, full) })
	t.Run("unknown keys skipped", func(t *testing.T) { checkUnknownKeys(t, newMsg, full) })
	t.Run("truncated", func(t *testing.T) { checkTruncated(t, newMsg, full) })
	t.Run("limits", func(t *testing.T) { checkLimits(t, newMsg, full) })
}

func encode(m Message) []byte { return m.MarshalAppend(nil) }

func checkRoundTrip(t *testing.T, newMsg func() Message, m Message) {
	data := encode(m)
	got := newMsg()
	Fill(got) // Unmarshal must reset the previous contents.
	if err := got.Unmarshal(data); err != nil {
		t.Fatalf("Unmarshal of own encoding % x: %v", data, err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip changed the message:\n got %+v\nwant %+v", got, m)
	}
	if again := encode(got); !bytes.Equal(again, data) {
		t.Fatalf("re-encoding differs:\n got % x\nwant % x", again, data)
	}
}

func checkSize(t *testing.T, m Message) {
	data := encode(m)
	if m.Size() != len(data) {
		t.Fatalf("Size() = %d, encoding has %d bytes", m.Size(), len(data))
	}
	buf := make([]byte, 3, 3+m.Size())
	out := m.MarshalAppend(buf)
	if &out[0] != &buf[0] {
		t.Fatal("MarshalAppend reallocated a buffer with room for Size() bytes")
	}
	if !bytes.Equal(out[3:], data) {
		t.Fatal("MarshalAppend to a non-empty buffer wrote a different encoding")
	}
	if RaceEnabled {
		return
	}
	if allocs := testing.AllocsPerRun(20, func() { m.MarshalAppend(buf[:0]) }); allocs != 0 {
		t.Fatalf("MarshalAppend into a large enough buffer: %v allocations, want 0", allocs)
	}
	if allocs := testing.AllocsPerRun(20, func() { m.MarshalAppend(nil) }); allocs != 1 {
		t.Fatalf("MarshalAppend(nil): %v allocations, want 1", allocs)
	}
}

func newForeignDecoder(data []byte) *msgpack.Decoder {
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	dec.UseLooseInterfaceDecoding(true)
	dec.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
	return dec
}

// checkForeignDecode decodes the encoding of a filled message with
// vmihailenco/msgpack and checks that every non-zero field is a key. Only
// a field of a message type without fields stays zero after Fill.
func checkForeignDecode(t *testing.T, m Message) {
	data := encode(m)
	var got map[any]any
	if err := newForeignDecoder(data).Decode(&got); err != nil {
		t.Fatalf("vmihailenco/msgpack cannot decode % x: %v", data, err)
	}
	v := reflect.ValueOf(m).Elem()
	fields := 0
	for i := range v.NumField() {
		if !v.Field(i).IsZero() {
			fields++
		}
	}
	if len(got) != fields {
		t.Fatalf("vmihailenco/msgpack decoded %d keys, want one per non-zero field (%d): %v", len(got), fields, got)
	}
	for k := range got {
		switch id := k.(type) {
		case int64:
			if id < 1 {
				t.Fatalf("key %d is not a positive field id", id)
			}
		case uint64:
		default:
			t.Fatalf("key %v (%T) is not an integer field id", k, k)
		}
	}
}

// unknownValues are extra map values, one of each msgpack type, keyed by
// field ids that no schema uses.
func unknownValues() map[any]any {
	ext := []byte{0xd4, 0x05, 0x01}                    // fixext1
	ext8 := []byte{0xc7, 0x03, 0x05, 0x01, 0x02, 0x03} // ext8
	deep := map[any]any{"a": []any{int64(1), map[any]any{int64(2): []any{"x", nil, true}}}}
	return map[any]any{
		uint64(100000): nil,
		uint64(100001): true,
		uint64(100002): int64(-5),
		uint64(100003): int64(-1 << 40),
		uint64(100004): uint64(1 << 63),
		uint64(100005): float32(1.5),
		uint64(100006): 2.5,
		uint64(100007): "unknown string",
		uint64(100008): []byte{1, 2, 3},
		uint64(100009): []any{int64(1), "two", []any{3.0, []byte{4}}},
		uint64(100010): deep,
		uint64(100011): msgpack.RawMessage(ext),
		uint64(100012): msgpack.RawMessage(ext8),
		uint64(100013): map[any]any{},
		uint64(100014): strings.Repeat("long", 100),
	}
}

// checkUnknownKeys re-encodes a filled message with vmihailenco/msgpack,
// which picks its own integer widths, adds unknown keys of every type and
// checks that the generated decoder returns the original message.
func checkUnknownKeys(t *testing.T, newMsg func() Message, m Message) {
	var fields map[any]any
	if err := newForeignDecoder(encode(m)).Decode(&fields); err != nil {
		t.Fatalf("vmihailenco/msgpack decode: %v", err)
	}
	for k, v := range unknownValues() {
		fields[k] = v
	}
	data, err := msgpack.Marshal(fields)
	if err != nil {
		t.Fatalf("vmihailenco/msgpack encode: %v", err)
	}
	got := newMsg()
	if err := got.Unmarshal(data); err != nil {
		t.Fatalf("Unmarshal of vmihailenco/msgpack encoding with unknown keys: %v", err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("decoding with unknown keys changed the message:\n got %+v\nwant %+v", got, m)
	}
}

func checkTruncated(t *testing.T, newMsg func() Message, m Message) {
	data := encode(m)
	for n := range len(data) {
		err := newMsg().Unmarshal(data[:n:n])
		if err == nil {
			t.Fatalf("Unmarshal of the first %d of %d bytes succeeded", n, len(data))
		}
		if !errors.Is(err, msgp.ErrMalformed) {
			t.Fatalf("Unmarshal of %d bytes: error %v does not wrap ErrMalformed", n, err)
		}
	}
	trailing := append(data[:len(data):len(data)], 0xc0)
	if err := newMsg().Unmarshal(trailing); !errors.Is(err, msgp.ErrMalformed) {
		t.Fatalf("Unmarshal with a trailing byte: error %v, want one wrapping ErrMalformed", err)
	}
}

// checkLimits decodes a filled message with limits at and below its size.
func checkLimits(t *testing.T, newMsg func() Message, m Message) {
	data := encode(m)
	got := newMsg()
	if err := got.UnmarshalWithLimits(data, msgp.Limits{MaxSize: len(data)}); err != nil {
		t.Fatalf("UnmarshalWithLimits with MaxSize equal to the encoding's %d bytes: %v", len(data), err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("UnmarshalWithLimits changed the message:\n got %+v\nwant %+v", got, m)
	}
	// MaxSize 0 means no limit, so a 1-byte encoding cannot be one byte short.
	if len(data) > 1 {
		err := newMsg().UnmarshalWithLimits(data, msgp.Limits{MaxSize: len(data) - 1})
		if !errors.Is(err, msgp.ErrTooLarge) || !errors.Is(err, msgp.ErrMalformed) {
			t.Fatalf("UnmarshalWithLimits with MaxSize one byte short: error %v, want ErrTooLarge and ErrMalformed", err)
		}
	}
	// A filled message holds a string or a list unless it has no fields of
	// those types, and then a 1-byte allocation limit changes nothing.
	err := newMsg().UnmarshalWithLimits(data, msgp.Limits{MaxAlloc: 1})
	if err != nil && !errors.Is(err, msgp.ErrTooLarge) {
		t.Fatalf("UnmarshalWithLimits with MaxAlloc 1: error %v, want nil or ErrTooLarge", err)
	}
}

// fuzzAllocLimit is the allocation limit CheckDecode tries: small enough
// that many inputs exceed it.
const fuzzAllocLimit = 64

// CheckDecode decodes data, which may be any input, as the message type
// that newMsg creates, and checks what every generated decoder guarantees.
// Decoding does not panic and fails only with errors wrapping
// msgp.ErrMalformed. A message it accepts encodes to exactly Size() bytes,
// which decode to the same encoding. Limits either reject the input with
// msgp.ErrTooLarge or decode the same message. Fuzz targets call it for
// every message type.
func CheckDecode(t *testing.T, newMsg func() Message, data []byte) {
	t.Helper()
	m := newMsg()
	err := m.Unmarshal(data)
	if err != nil {
		if !errors.Is(err, msgp.ErrMalformed) {
			t.Fatalf("%T: error %v does not wrap ErrMalformed", m, err)
		}
		if lerr := newMsg().UnmarshalWithLimits(data, msgp.Limits{MaxSize: len(data)}); lerr == nil {
			t.Fatalf("%T: UnmarshalWithLimits accepted input that Unmarshal rejects with %v", m, err)
		}
		return
	}
	enc := m.MarshalAppend(nil)
	if len(enc) != m.Size() {
		t.Fatalf("%T: Size() = %d, encoding has %d bytes", m, m.Size(), len(enc))
	}
	again := newMsg()
	if err := again.Unmarshal(enc); err != nil {
		t.Fatalf("%T: own encoding % x does not decode: %v", m, enc, err)
	}
	if enc2 := again.MarshalAppend(nil); !bytes.Equal(enc, enc2) {
		t.Fatalf("%T: encoding is not stable:\n% x\n% x", m, enc, enc2)
	}

	for _, limits := range []msgp.Limits{{MaxSize: len(data)}, {MaxAlloc: fuzzAllocLimit}} {
		limited := newMsg()
		err := limited.UnmarshalWithLimits(data, limits)
		switch {
		case err == nil:
			if !bytes.Equal(limited.MarshalAppend(nil), enc) {
				t.Fatalf("%T: UnmarshalWithLimits(%+v) decoded another message than Unmarshal", m, limits)
			}
		case !errors.Is(err, msgp.ErrTooLarge):
			t.Fatalf("%T: UnmarshalWithLimits(%+v) of input that Unmarshal accepts: error %v, want ErrTooLarge", m, limits, err)
		case limits.MaxAlloc == 0:
			t.Fatalf("%T: MaxSize equal to the input's length rejected it: %v", m, err)
		}
	}
}
