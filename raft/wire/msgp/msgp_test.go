package msgp_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/raft/wire/msgp"
	"github.com/natsraft/natsraft/raft/wire/msgp/msgptest"
	"github.com/vmihailenco/msgpack/v5"
)

func foreignDecode(t *testing.T, data []byte) any {
	t.Helper()
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	dec.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
	v, err := dec.DecodeInterfaceLoose()
	if err != nil {
		t.Fatalf("vmihailenco/msgpack cannot decode % x: %v", data, err)
	}
	return v
}

func TestAppendUintSmallestEncoding(t *testing.T) {
	cases := []struct {
		v    uint64
		size int
	}{
		{0, 1}, {127, 1}, {128, 2}, {255, 2}, {256, 3}, {65535, 3},
		{65536, 5}, {math.MaxUint32, 5}, {math.MaxUint32 + 1, 9}, {math.MaxUint64, 9},
	}
	for _, c := range cases {
		b := msgp.AppendUint(nil, c.v)
		if len(b) != c.size || msgp.UintSize(c.v) != c.size {
			t.Errorf("AppendUint(%d) = % x (%d bytes), UintSize %d; want %d bytes", c.v, b, len(b), msgp.UintSize(c.v), c.size)
		}
		if got := foreignDecode(t, b); got != c.v && got != int64(c.v) {
			t.Errorf("vmihailenco/msgpack decoded AppendUint(%d) as %v", c.v, got)
		}
		r := msgp.NewReader(b)
		if got, err := r.ReadUint64(); err != nil || got != c.v || r.Len() != 0 {
			t.Errorf("ReadUint64 of % x = %d, %v", b, got, err)
		}
	}
}

func TestAppendIntSmallestEncoding(t *testing.T) {
	cases := []struct {
		v    int64
		size int
	}{
		{0, 1}, {127, 1}, {128, 2}, {-1, 1}, {-32, 1}, {-33, 2}, {-128, 2}, {-129, 3},
		{math.MinInt16, 3}, {math.MinInt16 - 1, 5}, {math.MinInt32, 5}, {math.MinInt32 - 1, 9},
		{math.MinInt64, 9}, {math.MaxInt64, 9},
	}
	for _, c := range cases {
		b := msgp.AppendInt(nil, c.v)
		if len(b) != c.size || msgp.IntSize(c.v) != c.size {
			t.Errorf("AppendInt(%d) = % x (%d bytes), IntSize %d; want %d bytes", c.v, b, len(b), msgp.IntSize(c.v), c.size)
		}
		got := foreignDecode(t, b)
		if got != c.v && got != uint64(c.v) {
			t.Errorf("vmihailenco/msgpack decoded AppendInt(%d) as %v (%T)", c.v, got, got)
		}
		r := msgp.NewReader(b)
		if got, err := r.ReadInt64(); err != nil || got != c.v || r.Len() != 0 {
			t.Errorf("ReadInt64 of % x = %d, %v", b, got, err)
		}
	}
}

func TestAppendStringsAndBytes(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("a", n)
		b := msgp.AppendString(nil, s)
		if len(b) != msgp.StringSize(s) {
			t.Errorf("AppendString of %d bytes wrote %d, StringSize says %d", n, len(b), msgp.StringSize(s))
		}
		if got := foreignDecode(t, b); got != s {
			t.Errorf("vmihailenco/msgpack decoded a %d-byte string wrongly", n)
		}
		r := msgp.NewReader(b)
		if got, err := r.ReadString(); err != nil || got != s {
			t.Errorf("ReadString of %d bytes: %v", n, err)
		}

		raw := []byte(s)
		b = msgp.AppendBytes(nil, raw)
		if len(b) != msgp.BytesSize(raw) {
			t.Errorf("AppendBytes of %d bytes wrote %d, BytesSize says %d", n, len(b), msgp.BytesSize(raw))
		}
		dec := msgpack.NewDecoder(bytes.NewReader(b))
		if got, err := dec.DecodeBytes(); err != nil || !bytes.Equal(got, raw) || dec.Buffered().(*bytes.Reader).Len() != 0 {
			t.Errorf("vmihailenco/msgpack decoded %d bin bytes wrongly", n)
		}
		r = msgp.NewReader(b)
		if got, err := r.ReadBytes(); err != nil || !bytes.Equal(got, raw) {
			t.Errorf("ReadBytes of %d bytes: %v", n, err)
		}
	}
}

func TestHeadersAndScalars(t *testing.T) {
	for _, n := range []int{0, 15, 16, 65535, 65536} {
		if got := len(msgp.AppendMapHeader(nil, n)); got != msgp.MapHeaderSize(n) {
			t.Errorf("AppendMapHeader(%d) wrote %d bytes, MapHeaderSize says %d", n, got, msgp.MapHeaderSize(n))
		}
		if got := len(msgp.AppendArrayHeader(nil, n)); got != msgp.ArrayHeaderSize(n) {
			t.Errorf("AppendArrayHeader(%d) wrote %d bytes, ArrayHeaderSize says %d", n, got, msgp.ArrayHeaderSize(n))
		}
	}
	var b []byte
	b = msgp.AppendArrayHeader(b, 5)
	b = msgp.AppendBool(b, true)
	b = msgp.AppendBool(b, false)
	b = msgp.AppendNil(b)
	b = msgp.AppendFloat64(b, -2.5)
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendUint(b, 1)
	b = msgp.AppendString(b, "x")
	// The integer type of the decoded key is vmihailenco's choice, so
	// compare the printed form.
	want := "[true false <nil> -2.5 map[1:x]]"
	if got := fmt.Sprint(foreignDecode(t, b)); got != want {
		t.Fatalf("vmihailenco/msgpack decoded %s, want %s", got, want)
	}

	r := msgp.NewReader(b)
	if n, err := r.ReadArrayHeader(); err != nil || n != 5 {
		t.Fatalf("ReadArrayHeader = %d, %v", n, err)
	}
	if v, err := r.ReadBool(); err != nil || !v {
		t.Fatalf("ReadBool = %v, %v", v, err)
	}
	if v, err := r.ReadBool(); err != nil || v {
		t.Fatalf("ReadBool = %v, %v", v, err)
	}
	if !r.IsNil() || r.ReadNil() != nil {
		t.Fatal("IsNil/ReadNil did not consume nil")
	}
	if v, err := r.ReadFloat64(); err != nil || v != -2.5 {
		t.Fatalf("ReadFloat64 = %v, %v", v, err)
	}
	if n, err := r.ReadMapHeader(); err != nil || n != 1 {
		t.Fatalf("ReadMapHeader = %d, %v", n, err)
	}
	if err := r.Skip(msgp.MaxDepth); err != nil {
		t.Fatal(err)
	}
	if err := r.Skip(msgp.MaxDepth); err != nil || r.Len() != 0 {
		t.Fatalf("Skip left %d bytes: %v", r.Len(), err)
	}
}

func TestReadFloat64Widths(t *testing.T) {
	cases := map[string]func(*msgpack.Encoder) error{
		"float32": func(e *msgpack.Encoder) error { return e.EncodeFloat32(1.5) },
		"float64": func(e *msgpack.Encoder) error { return e.EncodeFloat64(1.5) },
	}
	for name, write := range cases {
		var buf bytes.Buffer
		if err := write(msgpack.NewEncoder(&buf)); err != nil {
			t.Fatal(err)
		}
		r := msgp.NewReader(buf.Bytes())
		if v, err := r.ReadFloat64(); err != nil || v != 1.5 {
			t.Errorf("%s: ReadFloat64 = %v, %v", name, v, err)
		}
	}
	r := msgp.NewReader([]byte{0xd0, 0xfe}) // int8 -2
	if v, err := r.ReadFloat64(); err != nil || v != -2 {
		t.Errorf("ReadFloat64 of an integer = %v, %v", v, err)
	}
}

func TestReadNilAsZero(t *testing.T) {
	nilByte := []byte{0xc0}
	reads := map[string]func(r *msgp.Reader) (any, error){
		"ReadUint64":      func(r *msgp.Reader) (any, error) { return r.ReadUint64() },
		"ReadInt64":       func(r *msgp.Reader) (any, error) { return r.ReadInt64() },
		"ReadBool":        func(r *msgp.Reader) (any, error) { return r.ReadBool() },
		"ReadFloat64":     func(r *msgp.Reader) (any, error) { return r.ReadFloat64() },
		"ReadString":      func(r *msgp.Reader) (any, error) { return r.ReadString() },
		"ReadMapHeader":   func(r *msgp.Reader) (any, error) { return r.ReadMapHeader() },
		"ReadArrayHeader": func(r *msgp.Reader) (any, error) { return r.ReadArrayHeader() },
	}
	for name, read := range reads {
		r := msgp.NewReader(nilByte)
		v, err := read(&r)
		if err != nil || !reflect.ValueOf(v).IsZero() || r.Len() != 0 {
			t.Errorf("%s of nil = %v, %v, %d bytes left", name, v, err, r.Len())
		}
	}
	r := msgp.NewReader(nilByte)
	if v, err := r.ReadBytes(); err != nil || v != nil {
		t.Errorf("ReadBytes of nil = %v, %v", v, err)
	}
}

func TestReaderTypeErrors(t *testing.T) {
	str := msgp.AppendString(nil, "x")
	r := msgp.NewReader(str)
	_, err := r.ReadUint64()
	var merr *msgp.Error
	if !errors.As(err, &merr) || !errors.Is(err, msgp.ErrMalformed) {
		t.Fatalf("ReadUint64 of a string: error %v, want a *msgp.Error wrapping ErrMalformed", err)
	}
	if merr.Offset != 0 || !strings.Contains(merr.Reason, "found str") {
		t.Fatalf("error = %+v, want offset 0 and the type found", merr)
	}
	if r.Offset() != 0 {
		t.Fatalf("failed read advanced the reader to %d", r.Offset())
	}
	neg := msgp.NewReader(msgp.AppendInt(nil, -1))
	if _, err := neg.ReadUint64(); err == nil {
		t.Fatal("ReadUint64 accepted -1")
	}
	huge := msgp.NewReader(msgp.AppendUint(nil, math.MaxUint64))
	if _, err := huge.ReadInt64(); err == nil {
		t.Fatal("ReadInt64 accepted 2^64-1")
	}
	wide := msgp.NewReader(msgp.AppendInt(nil, math.MaxInt32+1))
	if _, err := wide.ReadInt32(); err == nil {
		t.Fatal("ReadInt32 accepted 2^31")
	}
	bin := msgp.NewReader(msgp.AppendBytes(nil, []byte("x")))
	if _, err := bin.ReadString(); err == nil {
		t.Fatal("ReadString accepted bin")
	}
	oldStr := msgp.NewReader(str)
	if v, err := oldStr.ReadBytes(); err != nil || string(v) != "x" {
		t.Fatalf("ReadBytes of str = %q, %v; want the raw bytes", v, err)
	}
	invalid := msgp.NewReader([]byte{0xc1})
	if err := invalid.Skip(msgp.MaxDepth); !errors.Is(err, msgp.ErrMalformed) {
		t.Fatalf("Skip of the never-used byte 0xc1: error %v", err)
	}
}

// allValues returns one encoded value of every msgpack type and width.
func allValues(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	add := func(write func(*msgpack.Encoder) error) {
		var buf bytes.Buffer
		if err := write(msgpack.NewEncoder(&buf)); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf.Bytes())
	}
	add(func(e *msgpack.Encoder) error { return e.EncodeNil() })
	add(func(e *msgpack.Encoder) error { return e.EncodeBool(true) })
	add(func(e *msgpack.Encoder) error { return e.EncodeUint8(200) })
	add(func(e *msgpack.Encoder) error { return e.EncodeUint16(2000) })
	add(func(e *msgpack.Encoder) error { return e.EncodeUint32(200000) })
	add(func(e *msgpack.Encoder) error { return e.EncodeUint64(1 << 40) })
	add(func(e *msgpack.Encoder) error { return e.EncodeInt8(-100) })
	add(func(e *msgpack.Encoder) error { return e.EncodeInt16(-1000) })
	add(func(e *msgpack.Encoder) error { return e.EncodeInt32(-100000) })
	add(func(e *msgpack.Encoder) error { return e.EncodeInt64(-1 << 40) })
	add(func(e *msgpack.Encoder) error { return e.EncodeFloat32(1.5) })
	add(func(e *msgpack.Encoder) error { return e.EncodeFloat64(2.5) })
	add(func(e *msgpack.Encoder) error { return e.EncodeString(strings.Repeat("s", 40)) })
	add(func(e *msgpack.Encoder) error { return e.EncodeString(strings.Repeat("s", 300)) })
	add(func(e *msgpack.Encoder) error { return e.EncodeBytes([]byte{1, 2, 3}) })
	add(func(e *msgpack.Encoder) error { return e.EncodeBytes(make([]byte, 70000)) })
	add(func(e *msgpack.Encoder) error {
		return e.Encode([]any{1, "a", map[string]any{"k": []any{nil, true}}})
	})
	add(func(e *msgpack.Encoder) error { return e.Encode(make([]int, 20)) })
	add(func(e *msgpack.Encoder) error {
		if err := e.EncodeExtHeader(5, 1); err != nil {
			return err
		}
		_, err := e.Writer().Write([]byte{0})
		return err
	})
	add(func(e *msgpack.Encoder) error {
		if err := e.EncodeExtHeader(5, 3); err != nil {
			return err
		}
		_, err := e.Writer().Write([]byte{1, 2, 3})
		return err
	})
	return out
}

func TestSkipEveryType(t *testing.T) {
	for _, v := range allValues(t) {
		r := msgp.NewReader(v)
		if err := r.Skip(msgp.MaxDepth); err != nil || r.Len() != 0 {
			t.Errorf("Skip of % x: %v, %d bytes left", v[:min(len(v), 8)], err, r.Len())
		}
	}
}

func TestSkipTruncatedEveryPrefix(t *testing.T) {
	for _, v := range allValues(t) {
		for n := range len(v) {
			r := msgp.NewReader(v[:n:n])
			if err := r.Skip(msgp.MaxDepth); !errors.Is(err, msgp.ErrMalformed) {
				t.Fatalf("Skip of %d of %d bytes of % x: error %v", n, len(v), v[:min(len(v), 8)], err)
			}
			if r.Offset() != 0 {
				t.Fatalf("failed Skip advanced the reader to %d", r.Offset())
			}
		}
	}
}

func TestSkipDepthLimit(t *testing.T) {
	deep := bytes.Repeat([]byte{0x91}, 10)
	deep = append(deep, 0x90)
	r := msgp.NewReader(deep)
	if err := r.Skip(10); !errors.Is(err, msgp.ErrMalformed) {
		t.Fatalf("Skip of 11 nested arrays at depth 10: error %v", err)
	}
	r.Reset(deep)
	if err := r.Skip(11); err != nil {
		t.Fatalf("Skip of 11 nested arrays at depth 11: %v", err)
	}
}

func TestHugeClaimsRejectedBeforeAllocating(t *testing.T) {
	cases := map[string][]byte{
		"bin32":   {0xc6, 0xff, 0xff, 0xff, 0xff, 1},
		"str32":   {0xdb, 0xff, 0xff, 0xff, 0xff, 1},
		"array32": {0xdd, 0xff, 0xff, 0xff, 0xff, 1},
		"map32":   {0xdf, 0xff, 0xff, 0xff, 0xff, 1, 2},
		"ext32":   {0xc9, 0xff, 0xff, 0xff, 0xff, 1, 2},
	}
	for name, data := range cases {
		reads := []func(r *msgp.Reader) error{
			func(r *msgp.Reader) error { _, err := r.ReadBytes(); return err },
			func(r *msgp.Reader) error { _, err := r.ReadString(); return err },
			func(r *msgp.Reader) error { _, err := r.ReadArrayHeader(); return err },
			func(r *msgp.Reader) error { _, err := r.ReadMapHeader(); return err },
			func(r *msgp.Reader) error { return r.Skip(msgp.MaxDepth) },
		}
		for _, read := range reads {
			r := msgp.NewReader(data)
			if err := read(&r); err == nil {
				t.Errorf("%s: a read accepted a length beyond the input", name)
			}
		}
	}
	if msgptest.RaceEnabled {
		return
	}
	// The error itself allocates, but the claimed 4 GiB must not.
	data := cases["bin32"]
	allocs := testing.AllocsPerRun(100, func() {
		r := msgp.NewReader(data)
		_, _ = r.ReadBytes()
	})
	if allocs > 4 {
		t.Fatalf("rejecting a huge bin length took %v allocations", allocs)
	}
}

func TestReadsDoNotAllocate(t *testing.T) {
	if msgptest.RaceEnabled {
		t.Skip("the race detector adds allocations")
	}
	var b []byte
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendUint(b, 1)
	b = msgp.AppendBytes(b, []byte("payload"))
	b = msgp.AppendUint(b, 2)
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendInt(b, -7)
	b = msgp.AppendString(b, "skipped")
	allocs := testing.AllocsPerRun(100, func() {
		r := msgp.NewReader(b)
		_, _ = r.ReadMapHeader()
		_, _ = r.ReadUint64()
		_, _ = r.ReadBytes()
		_, _ = r.ReadUint64()
		_ = r.Skip(msgp.MaxDepth)
	})
	if allocs != 0 {
		t.Fatalf("reads allocated %v times, want 0", allocs)
	}
}

func FuzzSkip(f *testing.F) {
	f.Add([]byte{0x92, 0xa1, 'x', 0xc7, 0x01, 0x05, 0x00})
	f.Add([]byte{0xdf, 0x00, 0x00, 0x00, 0x01, 0x01, 0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := msgp.NewReader(data)
		for r.Len() > 0 {
			before := r.Len()
			if err := r.Skip(msgp.MaxDepth); err != nil {
				if !errors.Is(err, msgp.ErrMalformed) || r.Len() != before {
					t.Fatalf("Skip failed with %v and moved from %d to %d remaining bytes", err, before, r.Len())
				}
				return
			}
			if r.Len() >= before {
				t.Fatal("Skip succeeded without consuming input")
			}
		}
	})
}
