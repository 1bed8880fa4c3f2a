package wire_test

import (
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/raft/wire/msgp/msgptest"
)

// voteRequest returns a VoteRequest as a candidate sends it.
func voteRequest() *wire.VoteRequest {
	return &wire.VoteRequest{
		Cluster: "cluster-1", From: "n1", To: "n2", Term: 12,
		LastLogIndex: 100000, LastLogTerm: 11, PreVote: true,
	}
}

// codecCase is one message of the codec comparison. newMsg returns a new
// zero message of the same type.
type codecCase struct {
	name   string
	msg    wire.Message
	newMsg func() wire.Message
}

func codecCases() []codecCase {
	return []codecCase{
		{"AppendEntries64x128B", appendEntries(64), func() wire.Message { return new(wire.AppendEntriesRequest) }},
		{"VoteRequest", voteRequest(), func() wire.Message { return new(wire.VoteRequest) }},
	}
}

// BenchmarkCodec compares the generated codec with the reflection-based
// msgpack.Marshal and msgpack.Unmarshal of github.com/vmihailenco/msgpack/v5
// on the same Go structs. The generated encoder appends to a reused buffer,
// as the transport does; msgpack.Marshal returns a new slice. Sub-benchmark
// names use key=value form, so "benchstat -col /codec" compares the codecs.
func BenchmarkCodec(b *testing.B) {
	for _, c := range codecCases() {
		genData := c.msg.MarshalAppend(nil)
		refData, err := msgpack.Marshal(c.msg)
		if err != nil {
			b.Fatal(err)
		}
		prefix := "msg=" + c.name + "/codec="

		b.Run(prefix+"generated/op=encode", func(b *testing.B) {
			buf := make([]byte, 0, c.msg.Size())
			b.ReportAllocs()
			for b.Loop() {
				buf = c.msg.MarshalAppend(buf[:0])
			}
		})
		b.Run(prefix+"generated/op=decode", func(b *testing.B) {
			m := c.newMsg()
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Unmarshal(genData); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(prefix+"generated/op=roundtrip", func(b *testing.B) {
			buf := make([]byte, 0, c.msg.Size())
			m := c.newMsg()
			b.ReportAllocs()
			for b.Loop() {
				buf = c.msg.MarshalAppend(buf[:0])
				if err := m.Unmarshal(buf); err != nil {
					b.Fatal(err)
				}
			}
		})

		b.Run(prefix+"vmihailenco/op=encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := msgpack.Marshal(c.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(prefix+"vmihailenco/op=decode", func(b *testing.B) {
			m := c.newMsg()
			b.ReportAllocs()
			for b.Loop() {
				reflect.ValueOf(m).Elem().SetZero()
				if err := msgpack.Unmarshal(refData, m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(prefix+"vmihailenco/op=roundtrip", func(b *testing.B) {
			m := c.newMsg()
			b.ReportAllocs()
			for b.Loop() {
				data, err := msgpack.Marshal(c.msg)
				if err != nil {
					b.Fatal(err)
				}
				reflect.ValueOf(m).Elem().SetZero()
				if err := msgpack.Unmarshal(data, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCodecComparisonSameWork checks that both codecs of BenchmarkCodec
// round-trip every benchmarked message unchanged, so they do the same work.
func TestCodecComparisonSameWork(t *testing.T) {
	for _, c := range codecCases() {
		gen := c.newMsg()
		if err := gen.Unmarshal(c.msg.MarshalAppend(nil)); err != nil {
			t.Fatalf("%s: generated decode: %v", c.name, err)
		}
		if !reflect.DeepEqual(gen, c.msg) {
			t.Errorf("%s: the generated codec changed the message", c.name)
		}
		data, err := msgpack.Marshal(c.msg)
		if err != nil {
			t.Fatalf("%s: vmihailenco encode: %v", c.name, err)
		}
		ref := c.newMsg()
		if err := msgpack.Unmarshal(data, ref); err != nil {
			t.Fatalf("%s: vmihailenco decode: %v", c.name, err)
		}
		if !reflect.DeepEqual(ref, c.msg) {
			t.Errorf("%s: vmihailenco/msgpack changed the message", c.name)
		}
	}
}

// TestCodecAllocations checks the allocation counts that the benchmark
// reports: none to encode into a reused buffer, one to encode into a new
// slice, and for decoding one per list plus one per non-empty string.
func TestCodecAllocations(t *testing.T) {
	if msgptest.RaceEnabled {
		t.Skip("the race detector adds allocations")
	}
	cases := []struct {
		c      codecCase
		decode float64
	}{
		// The entries slice, and the cluster, from and to strings.
		{codecCases()[0], 4},
		// The cluster, from and to strings.
		{codecCases()[1], 3},
	}
	for _, tc := range cases {
		m := tc.c.msg
		buf := make([]byte, 0, m.Size())
		if n := testing.AllocsPerRun(100, func() { buf = m.MarshalAppend(buf[:0]) }); n != 0 {
			t.Errorf("%s: MarshalAppend into a reused buffer: %v allocations, want 0", tc.c.name, n)
		}
		if n := testing.AllocsPerRun(100, func() { buf = m.MarshalAppend(nil) }); n != 1 {
			t.Errorf("%s: MarshalAppend(nil): %v allocations, want 1", tc.c.name, n)
		}
		data := m.MarshalAppend(nil)
		target := tc.c.newMsg()
		if n := testing.AllocsPerRun(100, func() { _ = target.Unmarshal(data) }); n != tc.decode {
			t.Errorf("%s: Unmarshal: %v allocations, want %v", tc.c.name, n, tc.decode)
		}
	}
}
