package msgp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrMalformed is wrapped by every error that a Reader returns: the input
// is truncated, holds a value of the wrong type, or is not valid msgpack.
var ErrMalformed = errors.New("malformed msgpack")

// MaxDepth is the nesting depth of maps and arrays that generated decoders
// accept. Deeper input is rejected, so it cannot exhaust the stack.
const MaxDepth = 64

// Error describes malformed input and where the Reader found it.
// It wraps ErrMalformed.
type Error struct {
	// Offset is the byte position of the value that failed to decode.
	Offset int
	// Reason describes the problem, for example "expected str, found int".
	Reason string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("%v at byte %d: %s", ErrMalformed, e.Offset, e.Reason)
}

// Unwrap returns ErrMalformed.
func (e *Error) Unwrap() error { return ErrMalformed }

// Reader decodes msgpack values from a byte slice. Every read checks the
// bounds of the input and returns an *Error instead of panicking, and a
// failed read does not advance the reader.
//
// Every typed read (ReadUint64, ReadString, ReadMapHeader, ...) accepts nil
// and returns the zero value for it, because the schema treats nil like an
// absent field.
//
// A new Reader has no limits beyond the input's bounds and the nesting
// depth that callers pass to Skip. SetLimits adds a maximum input size and
// a maximum of memory that a decode may allocate, and a read that would
// exceed them returns a *LimitError.
type Reader struct {
	b   []byte
	off int
	// maxAlloc is Limits.MaxAlloc, or 0 for no limit, and allocated counts
	// the bytes charged against it so far.
	maxAlloc, allocated int
}

// NewReader returns a Reader positioned at the start of b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Reset positions r at the start of b and removes its limits.
func (r *Reader) Reset(b []byte) { *r = Reader{b: b} }

// Offset returns the number of bytes consumed so far.
func (r *Reader) Offset() int { return r.off }

// Len returns the number of bytes not yet consumed.
func (r *Reader) Len() int { return len(r.b) - r.off }

func (r *Reader) errorf(format string, args ...any) error {
	return &Error{Offset: r.off, Reason: fmt.Sprintf(format, args...)}
}

func (r *Reader) truncated(valueType string) error {
	return &Error{Offset: r.off, Reason: "input ends inside " + valueType}
}

// peek returns the next format byte without consuming it.
func (r *Reader) peek() (byte, error) {
	if r.off >= len(r.b) {
		return 0, &Error{Offset: r.off, Reason: "unexpected end of input"}
	}
	return r.b[r.off], nil
}

// IsNil reports whether the next value is nil.
func (r *Reader) IsNil() bool { return r.off < len(r.b) && r.b[r.off] == nilByte }

// ReadNil consumes a nil value.
func (r *Reader) ReadNil() error {
	c, err := r.peek()
	if err != nil {
		return err
	}
	if c != nilByte {
		return r.errorf("expected nil, found %s", typeName(c))
	}
	r.off++
	return nil
}

// uintN reads the n-byte big-endian unsigned integer that follows the
// format byte, without consuming anything on failure. An error names the
// value as valueType followed by part. The two are joined only on failure,
// so a successful read builds no string.
func (r *Reader) uintN(n int, valueType, part string) (uint64, error) {
	if len(r.b)-r.off-1 < n {
		return 0, r.truncated(valueType + part)
	}
	p := r.b[r.off+1 : r.off+1+n]
	switch n {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	default:
		return binary.BigEndian.Uint64(p), nil
	}
}

// readHeader reads a map or array header and checks the count against the
// remaining input: every element takes at least minBytes bytes.
func (r *Reader) readHeader(fix, c16, c32 byte, valueType string, minBytes int) (int, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	var n uint64
	var width int
	switch {
	case c&0xf0 == fix:
		n, width = uint64(c&0x0f), 0
	case c == c16:
		n, err = r.uintN(2, valueType, " header")
		width = 2
	case c == c32:
		n, err = r.uintN(4, valueType, " header")
		width = 4
	case c == nilByte:
		r.off++
		return 0, nil
	default:
		return 0, r.errorf("expected %s, found %s", valueType, typeName(c))
	}
	if err != nil {
		return 0, err
	}
	remaining := uint64(len(r.b) - r.off - 1 - width)
	if n > remaining/uint64(minBytes) {
		return 0, r.errorf("%s of %d elements exceeds the %d remaining bytes", valueType, n, remaining)
	}
	r.off += 1 + width
	return int(n), nil
}

// ReadMapHeader reads a map header and returns the number of key/value
// pairs, which it has checked against the remaining input.
func (r *Reader) ReadMapHeader() (int, error) {
	return r.readHeader(fixmapPrefix, map16, map32, "map", 2)
}

// ReadArrayHeader reads an array header and returns the number of
// elements, which it has checked against the remaining input.
func (r *Reader) ReadArrayHeader() (int, error) {
	return r.readHeader(fixarrayPrefix, array16, array32, "array", 1)
}

// readInteger reads an integer of any msgpack width. It returns the
// value's bits in v and reports in neg whether the value is negative, in
// which case v holds its two's complement.
func (r *Reader) readInteger() (v uint64, neg bool, err error) {
	c, err := r.peek()
	if err != nil {
		return 0, false, err
	}
	size := 1
	switch {
	case c < 0x80:
		v = uint64(c)
	case c >= negFixintMin:
		v, neg = uint64(int64(int8(c))), true
	case c == nilByte:
		v = 0
	case c >= uint8Byte && c <= uint64Byte:
		width := 1 << (c - uint8Byte)
		v, err = r.uintN(width, "integer", "")
		size += width
	case c >= int8Byte && c <= int64Byte:
		width := 1 << (c - int8Byte)
		var u uint64
		u, err = r.uintN(width, "integer", "")
		size += width
		switch width {
		case 1:
			v = uint64(int64(int8(u)))
		case 2:
			v = uint64(int64(int16(u)))
		case 4:
			v = uint64(int64(int32(u)))
		default:
			v = u
		}
		neg = int64(v) < 0
	default:
		return 0, false, r.errorf("expected integer, found %s", typeName(c))
	}
	if err != nil {
		return 0, false, err
	}
	r.off += size
	return v, neg, nil
}

// ReadUint64 reads an integer of any msgpack width. A negative value is an
// error.
func (r *Reader) ReadUint64() (uint64, error) {
	// Field ids and most small values are positive fixints.
	if r.off < len(r.b) && r.b[r.off] < 0x80 {
		r.off++
		return uint64(r.b[r.off-1]), nil
	}
	start := r.off
	v, neg, err := r.readInteger()
	if err != nil {
		return 0, err
	}
	if neg {
		r.off = start
		return 0, r.errorf("negative integer %d where an unsigned integer is expected", int64(v))
	}
	return v, nil
}

// ReadInt64 reads an integer of any msgpack width. An unsigned value above
// MaxInt64 is an error.
func (r *Reader) ReadInt64() (int64, error) {
	start := r.off
	v, neg, err := r.readInteger()
	if err != nil {
		return 0, err
	}
	if !neg && v > math.MaxInt64 {
		r.off = start
		return 0, r.errorf("integer %d overflows int64", v)
	}
	return int64(v), nil
}

// ReadInt32 reads an integer of any msgpack width that fits in an int32,
// as generated code does for enum values.
func (r *Reader) ReadInt32() (int32, error) {
	start := r.off
	v, err := r.ReadInt64()
	if err != nil {
		return 0, err
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.off = start
		return 0, r.errorf("integer %d overflows int32", v)
	}
	return int32(v), nil
}

// ReadBool reads a bool.
func (r *Reader) ReadBool() (bool, error) {
	c, err := r.peek()
	if err != nil {
		return false, err
	}
	switch c {
	case trueByte:
		r.off++
		return true, nil
	case falseByte, nilByte:
		r.off++
		return false, nil
	default:
		return false, r.errorf("expected bool, found %s", typeName(c))
	}
}

// ReadFloat64 reads a float64 or float32. An integer is accepted too,
// because some encoders write whole floats as integers. Integers beyond
// 2^53 lose precision.
func (r *Reader) ReadFloat64() (float64, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	switch c {
	case float64Byte:
		u, err := r.uintN(8, "float64", "")
		if err != nil {
			return 0, err
		}
		r.off += 9
		return math.Float64frombits(u), nil
	case float32Byte:
		u, err := r.uintN(4, "float32", "")
		if err != nil {
			return 0, err
		}
		r.off += 5
		return float64(math.Float32frombits(uint32(u))), nil
	}
	v, neg, err := r.readInteger()
	if err != nil {
		return 0, r.errorf("expected float, found %s", typeName(c))
	}
	if neg {
		return float64(int64(v)), nil
	}
	return float64(v), nil
}

// readRaw reads the payload of a str or bin value and returns it aliased.
func (r *Reader) readRaw(allowStr, allowBin bool, valueType string) ([]byte, error) {
	c, err := r.peek()
	if err != nil {
		return nil, err
	}
	var n uint64
	width := 0
	switch {
	case allowStr && c&0xe0 == fixstrPrefix:
		n = uint64(c & 0x1f)
	case allowStr && c >= str8 && c <= str32:
		width = 1 << (c - str8)
		n, err = r.uintN(width, valueType, " length")
	case allowBin && c >= bin8 && c <= bin32:
		width = 1 << (c - bin8)
		n, err = r.uintN(width, valueType, " length")
	case c == nilByte:
		r.off++
		return nil, nil
	default:
		return nil, r.errorf("expected %s, found %s", valueType, typeName(c))
	}
	if err != nil {
		return nil, err
	}
	start := r.off + 1 + width
	if n > uint64(len(r.b)-start) {
		return nil, r.errorf("%s of %d bytes exceeds the %d remaining bytes", valueType, n, len(r.b)-start)
	}
	end := start + int(n)
	r.off = end
	return r.b[start:end:end], nil
}

// ReadString reads a str value and returns a copy of it. When
// Limits.MaxAlloc is set, the copy counts against it.
func (r *Reader) ReadString() (string, error) {
	start := r.off
	p, err := r.readRaw(true, false, "str")
	if err != nil {
		return "", err
	}
	if !r.fits(uint64(len(p))) {
		r.off = start
		return "", r.allocError(start, uint64(len(p)), fmt.Sprintf("str of %d bytes", len(p)))
	}
	return string(p), nil
}

// ReadBytes reads a bin value (or a str value, which older encoders use for
// binary data). The result aliases the input: it shares memory with the
// slice the Reader reads, and its capacity ends at its length, so appending
// to it never overwrites the input. A zero-length value returns nil.
func (r *Reader) ReadBytes() ([]byte, error) {
	p, err := r.readRaw(true, true, "bin")
	if len(p) == 0 {
		p = nil
	}
	return p, err
}

// Skip consumes one value of any type, including nested maps and arrays
// up to depth levels deep.
func (r *Reader) Skip(depth int) error {
	start := r.off
	if err := r.skip(depth); err != nil {
		r.off = start
		return err
	}
	return nil
}

func (r *Reader) skip(depth int) error {
	c, err := r.peek()
	if err != nil {
		return err
	}
	switch {
	case c < 0x80 || c >= negFixintMin || c == nilByte || c == falseByte || c == trueByte:
		r.off++
	case c&0xe0 == fixstrPrefix || (c >= str8 && c <= str32) || (c >= bin8 && c <= bin32):
		_, err = r.readRaw(true, true, "str or bin")
	case c >= uint8Byte && c <= uint64Byte:
		return r.skipBytes(1 + 1<<(c-uint8Byte))
	case c >= int8Byte && c <= int64Byte:
		return r.skipBytes(1 + 1<<(c-int8Byte))
	case c == float32Byte:
		return r.skipBytes(5)
	case c == float64Byte:
		return r.skipBytes(9)
	case c >= fixext1 && c <= fixext16:
		return r.skipBytes(2 + 1<<(c-fixext1))
	case c >= ext8 && c <= ext32:
		width := 1 << (c - ext8)
		n, err := r.uintN(width, "ext", " length")
		if err != nil {
			return err
		}
		if n > uint64(len(r.b)) {
			return r.truncated("ext")
		}
		return r.skipBytes(1 + width + 1 + int(n))
	case c&0xf0 == fixmapPrefix || c == map16 || c == map32:
		return r.skipContainer(depth, 2, r.ReadMapHeader)
	case c&0xf0 == fixarrayPrefix || c == array16 || c == array32:
		return r.skipContainer(depth, 1, r.ReadArrayHeader)
	default:
		return r.errorf("invalid format byte 0x%02x", c)
	}
	return err
}

func (r *Reader) skipContainer(depth, perElement int, header func() (int, error)) error {
	if depth <= 0 {
		return r.errorf("nesting deeper than %d levels", MaxDepth)
	}
	n, err := header()
	if err != nil {
		return err
	}
	for i := 0; i < n*perElement; i++ {
		if err := r.skip(depth - 1); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) skipBytes(n int) error {
	if n > len(r.b)-r.off {
		return r.truncated(typeName(r.b[r.off]))
	}
	r.off += n
	return nil
}

// typeName names the msgpack type that format byte c starts.
func typeName(c byte) string {
	switch {
	case c < 0x80 || c >= negFixintMin || (c >= uint8Byte && c <= int64Byte):
		return "int"
	case c&0xf0 == fixmapPrefix || c == map16 || c == map32:
		return "map"
	case c&0xf0 == fixarrayPrefix || c == array16 || c == array32:
		return "array"
	case c&0xe0 == fixstrPrefix || (c >= str8 && c <= str32):
		return "str"
	case c == nilByte:
		return "nil"
	case c == falseByte || c == trueByte:
		return "bool"
	case c >= bin8 && c <= bin32:
		return "bin"
	case c == float32Byte || c == float64Byte:
		return "float"
	case (c >= ext8 && c <= ext32) || (c >= fixext1 && c <= fixext16):
		return "ext"
	default:
		return fmt.Sprintf("invalid format byte 0x%02x", c)
	}
}
