package statemachine

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine/kvwire"
)

// applier feeds commands to a KV with increasing indexes.
type applier struct {
	t    *testing.T
	kv   *KV
	next uint64
}

func newApplier(t *testing.T) *applier {
	return &applier{t: t, kv: NewKV(), next: 1}
}

// apply applies one command and returns its decoded result.
func (a *applier) apply(data []byte) kvwire.Result {
	a.t.Helper()
	return a.applyBatch(data)[0]
}

// applyBatch applies the commands as one batch and returns their decoded
// results.
func (a *applier) applyBatch(data ...[]byte) []kvwire.Result {
	a.t.Helper()
	cmds := make([]raft.Command, len(data))
	for i := range data {
		cmds[i] = raft.Command{Index: a.next, Term: 1, Data: data[i]}
		a.next++
	}
	encoded, err := a.kv.Apply(cmds)
	if err != nil {
		a.t.Fatalf("Apply: %v", err)
	}
	if len(encoded) != len(cmds) {
		a.t.Fatalf("Apply returned %d results for %d commands", len(encoded), len(cmds))
	}
	results := make([]kvwire.Result, len(encoded))
	for i := range encoded {
		results[i] = mustDecodeResult(a.t, encoded[i])
	}
	return results
}

func (a *applier) read(key string) kvwire.Result {
	a.t.Helper()
	encoded, err := a.kv.Read(EncodeGet(key))
	if err != nil {
		a.t.Fatalf("Read(%q): %v", key, err)
	}
	return mustDecodeResult(a.t, encoded)
}

func mustDecodeResult(t *testing.T, b []byte) kvwire.Result {
	t.Helper()
	result, err := DecodeResult(b)
	if err != nil {
		t.Fatalf("DecodeResult: %v", err)
	}
	return result
}

// checkResult fails the test unless got equals want field by field.
func checkResult(t *testing.T, what string, got, want kvwire.Result) {
	t.Helper()
	if got.Found != want.Found || !bytes.Equal(got.Value, want.Value) || got.Revision != want.Revision ||
		got.Swapped != want.Swapped || (got.Error == "") != (want.Error == "") {
		t.Errorf("%s = %s, want %s", what, formatResult(got), formatResult(want))
	}
	if want.Error != "" && !strings.Contains(got.Error, want.Error) {
		t.Errorf("%s: error %q does not contain %q", what, got.Error, want.Error)
	}
}

func formatResult(r kvwire.Result) string {
	return fmt.Sprintf("{found %v, value %q, revision %d, swapped %v, error %q}", r.Found, r.Value, r.Revision, r.Swapped, r.Error)
}

func TestPutAndGet(t *testing.T) {
	a := newApplier(t)

	checkResult(t, "Get of absent key", a.read("k"), kvwire.Result{})
	checkResult(t, "first Put", a.apply(EncodePut("k", []byte("v1"))),
		kvwire.Result{Value: []byte("v1"), Revision: 1})
	checkResult(t, "Get after Put", a.read("k"), kvwire.Result{Found: true, Value: []byte("v1"), Revision: 1})
	checkResult(t, "second Put", a.apply(EncodePut("k", []byte("v2"))),
		kvwire.Result{Found: true, Value: []byte("v2"), Revision: 2})
	checkResult(t, "Get after second Put", a.read("k"), kvwire.Result{Found: true, Value: []byte("v2"), Revision: 2})
	checkResult(t, "Get of other key", a.read("other"), kvwire.Result{})

	if a.kv.Len() != 1 {
		t.Errorf("Len = %d, want 1", a.kv.Len())
	}
}

func TestGetThroughLog(t *testing.T) {
	a := newApplier(t)
	a.apply(EncodePut("k", []byte("v")))
	checkResult(t, "Get applied from the log", a.apply(EncodeGet("k")),
		kvwire.Result{Found: true, Value: []byte("v"), Revision: 1})
	checkResult(t, "Get after the logged Get", a.read("k"), kvwire.Result{Found: true, Value: []byte("v"), Revision: 1})
}

func TestPutTwiceShowsTwoRevisions(t *testing.T) {
	a := newApplier(t)
	put := EncodePut("k", []byte("same"))
	a.apply(put)
	a.apply(put)
	checkResult(t, "Get after the same Put twice", a.read("k"),
		kvwire.Result{Found: true, Value: []byte("same"), Revision: 2})
}

func TestPutEmptyValue(t *testing.T) {
	a := newApplier(t)
	a.apply(EncodePut("k", nil))
	checkResult(t, "Get of empty value", a.read("k"), kvwire.Result{Found: true, Revision: 1})
}

func TestDelete(t *testing.T) {
	a := newApplier(t)

	checkResult(t, "Delete of absent key", a.apply(EncodeDelete("k")), kvwire.Result{})

	a.apply(EncodePut("k", []byte("v1")))
	a.apply(EncodePut("k", []byte("v2")))
	checkResult(t, "Delete of existing key", a.apply(EncodeDelete("k")),
		kvwire.Result{Found: true, Value: []byte("v2"), Revision: 2})
	checkResult(t, "Get after Delete", a.read("k"), kvwire.Result{})
	checkResult(t, "second Delete", a.apply(EncodeDelete("k")), kvwire.Result{})

	checkResult(t, "Put after Delete", a.apply(EncodePut("k", []byte("v3"))),
		kvwire.Result{Value: []byte("v3"), Revision: 1})
	if a.kv.Len() != 1 {
		t.Errorf("Len = %d, want 1", a.kv.Len())
	}
}

func TestCompareAndSet(t *testing.T) {
	a := newApplier(t)

	checkResult(t, "CAS expecting absent on absent key",
		a.apply(EncodeCompareAndSet("k", nil, true, []byte("v1"))),
		kvwire.Result{Value: []byte("v1"), Revision: 1, Swapped: true})
	checkResult(t, "CAS expecting absent on existing key",
		a.apply(EncodeCompareAndSet("k", nil, true, []byte("other"))),
		kvwire.Result{Found: true, Value: []byte("v1"), Revision: 1})
	checkResult(t, "CAS with wrong expected value",
		a.apply(EncodeCompareAndSet("k", []byte("wrong"), false, []byte("other"))),
		kvwire.Result{Found: true, Value: []byte("v1"), Revision: 1})
	checkResult(t, "CAS with matching expected value",
		a.apply(EncodeCompareAndSet("k", []byte("v1"), false, []byte("v2"))),
		kvwire.Result{Found: true, Value: []byte("v2"), Revision: 2, Swapped: true})
	checkResult(t, "Get after CAS", a.read("k"), kvwire.Result{Found: true, Value: []byte("v2"), Revision: 2})

	checkResult(t, "CAS with expected value on absent key",
		a.apply(EncodeCompareAndSet("absent", []byte("v1"), false, []byte("x"))),
		kvwire.Result{})
	checkResult(t, "CAS with empty expected value on absent key",
		a.apply(EncodeCompareAndSet("absent", nil, false, []byte("x"))),
		kvwire.Result{})
	checkResult(t, "Get of absent key after failed CAS", a.read("absent"), kvwire.Result{})

	a.apply(EncodePut("empty", nil))
	checkResult(t, "CAS with empty expected value on empty value",
		a.apply(EncodeCompareAndSet("empty", nil, false, []byte("filled"))),
		kvwire.Result{Found: true, Value: []byte("filled"), Revision: 2, Swapped: true})
}

func TestIncrement(t *testing.T) {
	a := newApplier(t)

	checkResult(t, "Increment of absent key", a.apply(EncodeIncrement("n", 5)),
		kvwire.Result{Value: []byte("5"), Revision: 1})
	checkResult(t, "Increment by a negative delta", a.apply(EncodeIncrement("n", -7)),
		kvwire.Result{Found: true, Value: []byte("-2"), Revision: 2})
	checkResult(t, "Increment by 0", a.apply(EncodeIncrement("n", 0)),
		kvwire.Result{Found: true, Value: []byte("-2"), Revision: 3})

	a.apply(EncodePut("p", []byte("40")))
	checkResult(t, "Increment of a Put value", a.apply(EncodeIncrement("p", 2)),
		kvwire.Result{Found: true, Value: []byte("42"), Revision: 2})
}

func TestIncrementErrors(t *testing.T) {
	cases := []struct {
		name  string
		value string
		delta int64
		error string
	}{
		{"not a number", "abc", 1, "is not a decimal int64"},
		{"empty value", "", 1, "is not a decimal int64"},
		{"float", "1.5", 1, "is not a decimal int64"},
		{"hexadecimal", "0x10", 1, "is not a decimal int64"},
		{"out of range", "9223372036854775808", 1, "is not a decimal int64"},
		{"overflow", "9223372036854775807", 1, "overflows int64"},
		{"underflow", "-9223372036854775808", -1, "overflows int64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newApplier(t)
			a.apply(EncodePut("n", []byte(c.value)))

			checkResult(t, "Increment", a.apply(EncodeIncrement("n", c.delta)),
				kvwire.Result{Found: true, Value: []byte(c.value), Revision: 1, Error: c.error})
			checkResult(t, "Get after failed Increment", a.read("n"),
				kvwire.Result{Found: true, Value: []byte(c.value), Revision: 1})
		})
	}
}

func TestIncrementLimits(t *testing.T) {
	a := newApplier(t)
	a.apply(EncodeIncrement("n", math.MaxInt64))
	checkResult(t, "Get at MaxInt64", a.read("n"),
		kvwire.Result{Found: true, Value: []byte("9223372036854775807"), Revision: 1})
	checkResult(t, "Increment from MaxInt64 to MinInt64", a.apply(EncodeIncrement("n", math.MinInt64)),
		kvwire.Result{Found: true, Value: []byte("-1"), Revision: 2})
}

func TestInvalidCommands(t *testing.T) {
	cases := []struct {
		name  string
		data  []byte
		error string
	}{
		{"not msgpack", []byte{0xc1, 0xff, 0x00}, "invalid command"},
		{"truncated", EncodePut("key", []byte("value"))[:5], "invalid command"},
		{"empty key", EncodePut("", []byte("v")), "key is empty"},
		{"unknown op", (&kvwire.Command{Op: kvwire.Op(99), Key: "k"}).Marshal(), "invalid command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newApplier(t)
			a.apply(EncodePut("k", []byte("v")))
			before := a.kv.Digest()

			first := a.apply(c.data)
			checkResult(t, "result", first, kvwire.Result{Error: c.error})
			second := a.apply(c.data)
			if first.Error != second.Error {
				t.Errorf("same invalid command gave errors %q and %q, want the same", first.Error, second.Error)
			}
			if after := a.kv.Digest(); after != before {
				t.Errorf("invalid command changed the digest from %s to %s", before, after)
			}
			if got := a.kv.AppliedIndex(); got != 3 {
				t.Errorf("AppliedIndex = %d, want 3: invalid commands still count as applied", got)
			}
		})
	}
}

func TestReadRejectsWrites(t *testing.T) {
	a := newApplier(t)
	before := a.kv.Digest()

	for _, query := range [][]byte{EncodePut("k", []byte("v")), EncodeDelete("k"), EncodeIncrement("k", 1), {0xc1}} {
		encoded, err := a.kv.Read(query)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		result := mustDecodeResult(t, encoded)
		if !strings.Contains(result.Error, "invalid query") {
			t.Errorf("Read of a non-Get query: error %q, want one containing %q", result.Error, "invalid query")
		}
	}
	if after := a.kv.Digest(); after != before {
		t.Errorf("Read changed the digest from %s to %s", before, after)
	}

	encoded, err := a.kv.Read(EncodeGet(""))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checkResult(t, "Get of the empty key", mustDecodeResult(t, encoded), kvwire.Result{Error: "key is empty"})
}

func TestApplyOrderAcrossBatches(t *testing.T) {
	a := newApplier(t)
	results := a.applyBatch(
		EncodePut("k", []byte("1")),
		EncodeIncrement("k", 10),
		EncodeCompareAndSet("k", []byte("11"), false, []byte("x")),
	)
	checkResult(t, "result 3 of batch 1", results[2],
		kvwire.Result{Found: true, Value: []byte("x"), Revision: 3, Swapped: true})

	results = a.applyBatch(
		EncodePut("k", []byte("7")),
		EncodeIncrement("k", 1),
		EncodeDelete("k"),
		EncodeIncrement("k", 1),
	)
	checkResult(t, "Increment in batch 2", results[1], kvwire.Result{Found: true, Value: []byte("8"), Revision: 5})
	checkResult(t, "Delete in batch 2", results[2], kvwire.Result{Found: true, Value: []byte("8"), Revision: 5})
	checkResult(t, "Increment after Delete", results[3], kvwire.Result{Value: []byte("1"), Revision: 1})

	if got := a.kv.AppliedIndex(); got != 7 {
		t.Errorf("AppliedIndex = %d, want 7", got)
	}
}

func TestApplyRejectsIndexOrder(t *testing.T) {
	kv := NewKV()
	if _, err := kv.Apply([]raft.Command{{Index: 5, Term: 1, Data: EncodePut("a", []byte("1"))}}); err != nil {
		t.Fatalf("Apply at index 5: %v", err)
	}
	before := kv.Digest()

	batches := map[string][]raft.Command{
		"same index again": {{Index: 5, Data: EncodePut("a", []byte("2"))}},
		"lower index":      {{Index: 3, Data: EncodePut("a", []byte("2"))}},
		"unordered batch": {
			{Index: 6, Data: EncodePut("a", []byte("2"))},
			{Index: 6, Data: EncodePut("b", []byte("2"))},
		},
	}
	for name, cmds := range batches {
		results, err := kv.Apply(cmds)
		if !errors.Is(err, ErrIndexOrder) {
			t.Errorf("%s: Apply = %d results, %v; want an error matching ErrIndexOrder", name, len(results), err)
		}
	}
	if after := kv.Digest(); after != before {
		t.Errorf("rejected batches changed the digest from %s to %s", before, after)
	}
	if got := kv.AppliedIndex(); got != 5 {
		t.Errorf("AppliedIndex = %d, want 5", got)
	}

	// Indexes may skip, because entries that are not commands never reach
	// the state machine.
	if _, err := kv.Apply([]raft.Command{{Index: 9, Data: EncodePut("a", []byte("3"))}}); err != nil {
		t.Errorf("Apply at index 9 after 5: %v", err)
	}
}

func TestValueNotAliased(t *testing.T) {
	a := newApplier(t)
	cmd := EncodePut("k", []byte("original"))
	a.apply(cmd)
	// Overwrite the command buffer, as a reused network buffer would.
	for i := range cmd {
		cmd[i] = 0
	}
	checkResult(t, "Get after the command buffer changed", a.read("k"),
		kvwire.Result{Found: true, Value: []byte("original"), Revision: 1})
}

func TestDigest(t *testing.T) {
	build := func(cmds ...[]byte) *KV {
		a := newApplier(t)
		for _, cmd := range cmds {
			a.apply(cmd)
		}
		return a.kv
	}

	empty1, empty2 := NewKV().Digest(), NewKV().Digest()
	if empty1 != empty2 || len(empty1) != 64 {
		t.Errorf("empty digests %q and %q, want equal 64-digit hex", empty1, empty2)
	}

	// The same contents reached in a different order give the same digest.
	x := build(EncodePut("a", []byte("1")), EncodePut("b", []byte("2")))
	y := build(EncodePut("b", []byte("2")), EncodePut("a", []byte("1")))
	if x.Digest() != y.Digest() {
		t.Errorf("same contents: digests %s and %s differ", x.Digest(), y.Digest())
	}

	differ := map[string]*KV{
		"other value":    build(EncodePut("a", []byte("1")), EncodePut("b", []byte("3"))),
		"other revision": build(EncodePut("a", []byte("1")), EncodePut("b", []byte("2")), EncodePut("b", []byte("2"))),
		"extra key":      build(EncodePut("a", []byte("1")), EncodePut("b", []byte("2")), EncodePut("c", nil)),
		"missing key":    build(EncodePut("a", []byte("1"))),
	}
	for name, kv := range differ {
		if kv.Digest() == x.Digest() {
			t.Errorf("%s: digest %s equals the reference digest", name, kv.Digest())
		}
	}

	// Key "ab" with an empty value and key "a" with value "b" concatenate
	// to the same bytes; the digest must still tell them apart.
	joined := build(EncodePut("ab", nil))
	split := build(EncodePut("a", []byte("b")))
	if joined.Digest() == split.Digest() {
		t.Errorf("key and value boundary: digests of {ab: \"\"} and {a: \"b\"} are both %s", joined.Digest())
	}
}

func TestConcurrentReadsDuringApply(t *testing.T) {
	a := newApplier(t)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				encoded, err := a.kv.Read(EncodeGet("counter"))
				if err != nil {
					t.Errorf("Read: %v", err)
					return
				}
				if _, err := DecodeResult(encoded); err != nil {
					t.Errorf("DecodeResult: %v", err)
					return
				}
				_ = a.kv.Digest()
				_ = a.kv.Len()
				_ = a.kv.AppliedIndex()
			}
		})
	}
	for range 500 {
		a.apply(EncodeIncrement("counter", 1))
	}
	close(done)
	wg.Wait()
	checkResult(t, "Get of counter", a.read("counter"), kvwire.Result{Found: true, Value: []byte("500"), Revision: 500})
}

func TestApplyResultUnusedSkipsResult(t *testing.T) {
	withResults, without := NewKV(), NewKV()
	cmds := []raft.Command{
		{Index: 1, Term: 1, Data: EncodePut("a", []byte("1"))},
		{Index: 2, Term: 1, Data: EncodeIncrement("n", 5)},
		{Index: 3, Term: 1, Data: EncodePut("a", []byte("2"))},
	}
	full, err := withResults.Apply(cmds)
	if err != nil {
		t.Fatal(err)
	}
	unused := make([]raft.Command, len(cmds))
	for i, c := range cmds {
		c.ResultUnused = i != 1
		unused[i] = c
	}
	partial, err := without.Apply(unused)
	if err != nil {
		t.Fatal(err)
	}

	if len(partial) != len(cmds) {
		t.Fatalf("got %d results for %d commands", len(partial), len(cmds))
	}
	if partial[0] != nil || partial[2] != nil {
		t.Errorf("results of commands with ResultUnused = %q, %q; want nil", partial[0], partial[2])
	}
	if !bytes.Equal(partial[1], full[1]) {
		t.Errorf("result of the command without ResultUnused = %q, want %q", partial[1], full[1])
	}
	if withResults.Digest() != without.Digest() {
		t.Error("ResultUnused changed the state")
	}
}
