package msgp

import (
	"errors"
	"fmt"
)

// ErrTooLarge is wrapped by the errors of a Reader whose input or
// allocations exceed its Limits. Those errors wrap ErrMalformed too, so code
// that drops malformed input drops oversized input as well.
var ErrTooLarge = errors.New("message exceeds decode limits")

// Limits bound the input and the memory of one decode. The zero value sets
// no bound beyond the two that every Reader applies: a declared length (of a
// str, bin, array or map) never exceeds the remaining input, and nesting
// stops at MaxDepth.
type Limits struct {
	// MaxSize is the largest input accepted, in bytes. Because every
	// declared length is checked against the remaining input, no declared
	// length can exceed MaxSize either. Zero means no limit.
	MaxSize int
	// MaxAlloc is the most memory, in bytes, that a decode may allocate
	// for list elements and string copies. The Reader checks it before
	// each allocation. Bytes fields alias the input and do not count.
	// Without MaxAlloc, an input of n bytes can allocate about 48n bytes:
	// a list element takes at least one byte of input, but the Go size of
	// its type in memory (48 bytes for a wire.Entry on 64-bit platforms).
	// Zero means no limit.
	MaxAlloc int
}

// LimitError reports input or allocations beyond a Reader's Limits. It
// matches ErrTooLarge and ErrMalformed.
type LimitError struct {
	// Offset is the byte position of the value that exceeded the limit.
	Offset int
	// Reason describes the limit and the size that exceeded it.
	Reason string
}

// Error implements the error interface.
func (e *LimitError) Error() string {
	return fmt.Sprintf("%v at byte %d: %s", ErrTooLarge, e.Offset, e.Reason)
}

// Unwrap returns ErrTooLarge and ErrMalformed.
func (e *LimitError) Unwrap() []error { return []error{ErrTooLarge, ErrMalformed} }

// SetLimits makes r enforce limits from now on, and returns a *LimitError
// if r's input is longer than limits.MaxSize. Negative limits are treated
// as zero, which means no limit.
func (r *Reader) SetLimits(limits Limits) error {
	r.maxAlloc = max(limits.MaxAlloc, 0)
	r.allocated = 0
	if limits.MaxSize > 0 && len(r.b) > limits.MaxSize {
		return &LimitError{Offset: 0, Reason: fmt.Sprintf("input of %d bytes exceeds the maximum message size of %d bytes", len(r.b), limits.MaxSize)}
	}
	return nil
}

// fits reports whether n more bytes of allocations fit within
// Limits.MaxAlloc, and counts them if they do.
func (r *Reader) fits(n uint64) bool {
	if r.maxAlloc == 0 {
		return true
	}
	if n > uint64(r.maxAlloc-r.allocated) {
		return false
	}
	r.allocated += int(n)
	return true
}

// allocError returns the *LimitError for an allocation of n bytes, found
// at offset and described by allocation, that does not fit.
func (r *Reader) allocError(offset int, n uint64, allocation string) error {
	return &LimitError{Offset: offset, Reason: fmt.Sprintf("%s needs %d bytes of memory, but only %d of the %d-byte allocation limit are left",
		allocation, n, r.maxAlloc-r.allocated, r.maxAlloc)}
}

// ReadListHeader reads an array header for a list whose elements take
// elemSize bytes each in memory, as generated decoders do before they
// allocate the list. It returns the number of elements, checked against the
// remaining input and, when Limits.MaxAlloc is set, counted against it.
// A failed read does not advance the reader.
func (r *Reader) ReadListHeader(elemSize int) (int, error) {
	start := r.off
	n, err := r.ReadArrayHeader()
	if err != nil || n == 0 {
		return n, err
	}
	if size := uint64(n) * uint64(elemSize); !r.fits(size) {
		r.off = start
		return 0, r.allocError(start, size, fmt.Sprintf("list of %d elements of %d bytes", n, elemSize))
	}
	return n, nil
}
