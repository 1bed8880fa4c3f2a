package msgp

import (
	"math"
	"strconv"
)

// Format bytes of the msgpack specification.
const (
	fixmapPrefix   = 0x80
	fixarrayPrefix = 0x90
	fixstrPrefix   = 0xa0
	nilByte        = 0xc0
	falseByte      = 0xc2
	trueByte       = 0xc3
	bin8           = 0xc4
	bin16          = 0xc5
	bin32          = 0xc6
	ext8           = 0xc7
	ext16          = 0xc8
	ext32          = 0xc9
	float32Byte    = 0xca
	float64Byte    = 0xcb
	uint8Byte      = 0xcc
	uint16Byte     = 0xcd
	uint32Byte     = 0xce
	uint64Byte     = 0xcf
	int8Byte       = 0xd0
	int16Byte      = 0xd1
	int32Byte      = 0xd2
	int64Byte      = 0xd3
	fixext1        = 0xd4
	fixext16       = 0xd8
	str8           = 0xd9
	str16          = 0xda
	str32          = 0xdb
	array16        = 0xdc
	array32        = 0xdd
	map16          = 0xde
	map32          = 0xdf
	negFixintMin   = 0xe0
)

// Encoded sizes of the fixed-size values.
const (
	// NilSize is the encoded size of nil.
	NilSize = 1
	// BoolSize is the encoded size of a bool.
	BoolSize = 1
	// Float64Size is the encoded size of a float64.
	Float64Size = 9
)

// checkLength panics when n cannot be written as a msgpack length, which
// the format limits to 32 bits. Slices and strings that long are a caller
// bug: no message that large fits in a NATS payload.
func checkLength(n int) {
	if n < 0 || uint64(n) > math.MaxUint32 {
		panic("msgp: length " + strconv.Itoa(n) + " exceeds the msgpack maximum of 2^32-1")
	}
}

// appendLength appends a str, map or array header: the fix format when n
// fits in fixMax, else the 8-bit (when the type has one, c8 != 0), 16-bit
// or 32-bit format.
func appendLength(b []byte, n int, fix, fixMax byte, c8, c16, c32 byte) []byte {
	checkLength(n)
	switch {
	case n <= int(fixMax):
		return append(b, fix|byte(n))
	case c8 != 0 && n <= math.MaxUint8:
		return append(b, c8, byte(n))
	case n <= math.MaxUint16:
		return append(b, c16, byte(n>>8), byte(n))
	default:
		return append(b, c32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// lengthSize returns the size of the header that appendLength writes.
func lengthSize(n int, fixMax int, has8 bool) int {
	switch {
	case n <= fixMax:
		return 1
	case has8 && n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	default:
		return 5
	}
}

// AppendMapHeader appends the header of a map with n key/value pairs.
// It panics if n is negative or above 2^32-1.
func AppendMapHeader(b []byte, n int) []byte {
	return appendLength(b, n, fixmapPrefix, 15, 0, map16, map32)
}

// MapHeaderSize returns the encoded size of a map header for n pairs.
func MapHeaderSize(n int) int { return lengthSize(n, 15, false) }

// AppendArrayHeader appends the header of an array of n elements.
// It panics if n is negative or above 2^32-1.
func AppendArrayHeader(b []byte, n int) []byte {
	return appendLength(b, n, fixarrayPrefix, 15, 0, array16, array32)
}

// ArrayHeaderSize returns the encoded size of an array header for n elements.
func ArrayHeaderSize(n int) int { return lengthSize(n, 15, false) }

// AppendUint appends v as a msgpack integer in its smallest encoding.
func AppendUint(b []byte, v uint64) []byte {
	switch {
	case v < 0x80:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, uint8Byte, byte(v))
	case v <= math.MaxUint16:
		return append(b, uint16Byte, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(b, uint32Byte, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	default:
		return append(b, uint64Byte, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
			byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
}

// UintSize returns the encoded size of v written by AppendUint.
func UintSize(v uint64) int {
	switch {
	case v < 0x80:
		return 1
	case v <= math.MaxUint8:
		return 2
	case v <= math.MaxUint16:
		return 3
	case v <= math.MaxUint32:
		return 5
	default:
		return 9
	}
}

// AppendInt appends v as a msgpack integer in its smallest encoding:
// non-negative values use the unsigned formats, as AppendUint does.
func AppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return AppendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, int8Byte, byte(v))
	case v >= math.MinInt16:
		return append(b, int16Byte, byte(v>>8), byte(v))
	case v >= math.MinInt32:
		return append(b, int32Byte, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	default:
		return append(b, int64Byte, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
			byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
}

// IntSize returns the encoded size of v written by AppendInt.
func IntSize(v int64) int {
	switch {
	case v >= 0:
		return UintSize(uint64(v))
	case v >= -32:
		return 1
	case v >= math.MinInt8:
		return 2
	case v >= math.MinInt16:
		return 3
	case v >= math.MinInt32:
		return 5
	default:
		return 9
	}
}

// AppendBool appends v.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, trueByte)
	}
	return append(b, falseByte)
}

// AppendNil appends nil.
func AppendNil(b []byte) []byte { return append(b, nilByte) }

// AppendFloat64 appends v in the float64 format (9 bytes).
func AppendFloat64(b []byte, v float64) []byte {
	u := math.Float64bits(v)
	return append(b, float64Byte, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
		byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

// AppendString appends s in the str format.
// It panics if s is longer than 2^32-1 bytes.
func AppendString(b []byte, s string) []byte {
	b = appendLength(b, len(s), fixstrPrefix, 31, str8, str16, str32)
	return append(b, s...)
}

// StringSize returns the encoded size of s written by AppendString.
func StringSize(s string) int { return lengthSize(len(s), 31, true) + len(s) }

// AppendBytes appends v in the bin format.
// It panics if v is longer than 2^32-1 bytes.
func AppendBytes(b []byte, v []byte) []byte {
	checkLength(len(v))
	n := len(v)
	switch {
	case n <= math.MaxUint8:
		b = append(b, bin8, byte(n))
	case n <= math.MaxUint16:
		b = append(b, bin16, byte(n>>8), byte(n))
	default:
		b = append(b, bin32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, v...)
}

// BytesSize returns the encoded size of v written by AppendBytes.
func BytesSize(v []byte) int { return lengthSize(len(v), -1, true) + len(v) }
