package msgp_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/raft/wire/msgp"
)

func TestSetLimitsMaxSize(t *testing.T) {
	data := msgp.AppendString(nil, "0123456789") // 11 bytes
	r := msgp.NewReader(data)
	if err := r.SetLimits(msgp.Limits{MaxSize: len(data)}); err != nil {
		t.Fatalf("input of exactly MaxSize bytes: %v", err)
	}
	r = msgp.NewReader(data)
	err := r.SetLimits(msgp.Limits{MaxSize: len(data) - 1})
	var le *msgp.LimitError
	if !errors.As(err, &le) {
		t.Fatalf("input of MaxSize+1 bytes: error %v, want a *msgp.LimitError", err)
	}
	if !errors.Is(err, msgp.ErrTooLarge) {
		t.Errorf("error %v does not match ErrTooLarge", err)
	}
	if !errors.Is(err, msgp.ErrMalformed) {
		t.Errorf("error %v does not match ErrMalformed", err)
	}
	if !strings.Contains(err.Error(), "input of 11 bytes exceeds the maximum message size of 10 bytes") {
		t.Errorf("error %q does not give both sizes", err)
	}
}

func TestZeroOrNegativeLimitsMeanNone(t *testing.T) {
	var b []byte
	b = msgp.AppendArrayHeader(b, 3)
	for range 3 {
		b = msgp.AppendString(b, "abc")
	}
	for _, limits := range []msgp.Limits{{}, {MaxSize: -1, MaxAlloc: -1}} {
		r := msgp.NewReader(b)
		if err := r.SetLimits(limits); err != nil {
			t.Fatalf("SetLimits(%+v): %v", limits, err)
		}
		if n, err := r.ReadListHeader(1 << 20); err != nil || n != 3 {
			t.Fatalf("limits %+v: ReadListHeader = %d, %v", limits, n, err)
		}
	}
}

func TestReadListHeaderChargesAllocation(t *testing.T) {
	var b []byte
	b = msgp.AppendArrayHeader(b, 4)
	for range 4 {
		b = msgp.AppendMapHeader(b, 0)
	}

	r := msgp.NewReader(b)
	if err := r.SetLimits(msgp.Limits{MaxAlloc: 4 * 48}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.ReadListHeader(48); err != nil || n != 4 {
		t.Fatalf("list of 4 x 48 bytes within a 192-byte limit: %d, %v", n, err)
	}

	r = msgp.NewReader(b)
	if err := r.SetLimits(msgp.Limits{MaxAlloc: 4*48 - 1}); err != nil {
		t.Fatal(err)
	}
	_, err := r.ReadListHeader(48)
	if !errors.Is(err, msgp.ErrTooLarge) || !errors.Is(err, msgp.ErrMalformed) {
		t.Fatalf("list of 4 x 48 bytes within a 191-byte limit: error %v, want ErrTooLarge and ErrMalformed", err)
	}
	if r.Offset() != 0 {
		t.Fatalf("failed ReadListHeader advanced the reader to %d", r.Offset())
	}
	if !strings.Contains(err.Error(), "list of 4 elements of 48 bytes needs 192 bytes") {
		t.Fatalf("error %q does not give the list's size", err)
	}
}

func TestReadStringChargesAllocation(t *testing.T) {
	var b []byte
	b = msgp.AppendString(b, "0123456789")
	b = msgp.AppendString(b, "0123456789")
	b = msgp.AppendString(b, "")

	r := msgp.NewReader(b)
	if err := r.SetLimits(msgp.Limits{MaxAlloc: 15}); err != nil {
		t.Fatal(err)
	}
	if s, err := r.ReadString(); err != nil || s != "0123456789" {
		t.Fatalf("first string within the limit: %q, %v", s, err)
	}
	offset := r.Offset()
	if _, err := r.ReadString(); !errors.Is(err, msgp.ErrTooLarge) {
		t.Fatalf("second string beyond the limit: error %v, want ErrTooLarge", err)
	}
	if r.Offset() != offset {
		t.Fatalf("failed ReadString moved the reader from %d to %d", offset, r.Offset())
	}
}

func TestLimitsAddUpAcrossReads(t *testing.T) {
	var b []byte
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendString(b, "abcd")
	b = msgp.AppendString(b, "efgh")

	// 2 elements of 16 bytes plus 4 + 4 bytes of strings is 40 bytes.
	r := msgp.NewReader(b)
	if err := r.SetLimits(msgp.Limits{MaxAlloc: 39}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadListHeader(16); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString(); !errors.Is(err, msgp.ErrTooLarge) {
		t.Fatalf("the read that passes 39 bytes in all: error %v, want ErrTooLarge", err)
	}
}

func TestResetRemovesLimits(t *testing.T) {
	b := msgp.AppendString(nil, "0123456789")
	r := msgp.NewReader(b)
	if err := r.SetLimits(msgp.Limits{MaxAlloc: 1}); err != nil {
		t.Fatal(err)
	}
	r.Reset(b)
	if s, err := r.ReadString(); err != nil || s != "0123456789" {
		t.Fatalf("ReadString after Reset: %q, %v; want no limit", s, err)
	}
}
