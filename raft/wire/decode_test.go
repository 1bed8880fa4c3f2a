package wire_test

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/vmihailenco/msgpack/v5"
)

func TestEncodingBytes(t *testing.T) {
	m := &wire.VoteRequest{Term: 5, PreVote: true, Cluster: "c"}
	// A map of 3 pairs: 1 => "c", 4 => 5, 7 => true, in schema order.
	want := []byte{0x83, 0x01, 0xa1, 'c', 0x04, 0x05, 0x07, 0xc3}
	if got := m.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("Marshal = % x, want % x", got, want)
	}
	if got := (&wire.VoteRequest{}).Marshal(); !bytes.Equal(got, []byte{0x80}) {
		t.Fatalf("zero message = % x, want an empty map 80", got)
	}
	big := &wire.Entry{Index: 1 << 40, Type: wire.EntryTypeConfig}
	want = []byte{0x82, 0x01, 0xcf, 0, 0, 1, 0, 0, 0, 0, 0, 0x03, 0x02}
	if got := big.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("Marshal = % x, want % x", got, want)
	}
}

// encodeVoteRequest writes a VoteRequest map with vmihailenco/msgpack,
// letting write encode the value of field 4 (term).
func encodeVoteRequest(t *testing.T, write func(*msgpack.Encoder) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := enc.EncodeMapLen(1); err != nil {
		t.Fatal(err)
	}
	if err := enc.EncodeUint8(4); err != nil {
		t.Fatal(err)
	}
	if err := write(enc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeIntegerWidths(t *testing.T) {
	cases := map[string]func(*msgpack.Encoder) error{
		"uint8":  func(e *msgpack.Encoder) error { return e.EncodeUint8(42) },
		"uint16": func(e *msgpack.Encoder) error { return e.EncodeUint16(42) },
		"uint32": func(e *msgpack.Encoder) error { return e.EncodeUint32(42) },
		"uint64": func(e *msgpack.Encoder) error { return e.EncodeUint64(42) },
		"int8":   func(e *msgpack.Encoder) error { return e.EncodeInt8(42) },
		"int16":  func(e *msgpack.Encoder) error { return e.EncodeInt16(42) },
		"int32":  func(e *msgpack.Encoder) error { return e.EncodeInt32(42) },
		"int64":  func(e *msgpack.Encoder) error { return e.EncodeInt64(42) },
	}
	for name, write := range cases {
		t.Run(name, func(t *testing.T) {
			var m wire.VoteRequest
			if err := m.Unmarshal(encodeVoteRequest(t, write)); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if m.Term != 42 {
				t.Fatalf("Term = %d, want 42", m.Term)
			}
		})
	}
}

func TestDecodeNegativeUintRejected(t *testing.T) {
	data := encodeVoteRequest(t, func(e *msgpack.Encoder) error { return e.EncodeInt64(-1) })
	err := new(wire.VoteRequest).Unmarshal(data)
	if !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("error %v does not wrap ErrMalformed", err)
	}
	if !strings.Contains(err.Error(), "VoteRequest.Term") {
		t.Fatalf("error %q does not name the field VoteRequest.Term", err)
	}
}

func TestDecodeWrongTypeNamesField(t *testing.T) {
	data := encodeVoteRequest(t, func(e *msgpack.Encoder) error { return e.EncodeString("5") })
	err := new(wire.VoteRequest).Unmarshal(data)
	if !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("error %v does not wrap ErrMalformed", err)
	}
	if !strings.Contains(err.Error(), "VoteRequest.Term") || !strings.Contains(err.Error(), "found str") {
		t.Fatalf("error %q does not name the field and the type found", err)
	}

	// A bad field inside a list element names the element.
	entries := []byte{0x81, 0x07, 0x92, 0x80, 0x81, 0x04, 0x05} // entries: [{}, {data: 5}]
	err = new(wire.AppendEntriesRequest).Unmarshal(entries)
	if err == nil || !strings.Contains(err.Error(), "AppendEntriesRequest.Entries[1]: decode wire.Entry.Data") {
		t.Fatalf("error %v does not name AppendEntriesRequest.Entries[1] and Entry.Data", err)
	}
}

func TestDecodeNilAsZero(t *testing.T) {
	// {1: nil, 4: nil, 7: nil, 9: nil}: a string, a uint, a list and bytes.
	data := []byte{0x84, 0x01, 0xc0, 0x04, 0xc0, 0x07, 0xc0, 0x09, 0xc0}
	var m wire.AppendEntriesRequest
	if err := m.Unmarshal(data); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if m.Cluster != "" || m.Term != 0 || m.Entries != nil || m.Seq != 0 {
		t.Fatalf("nil values did not decode as zero: %+v", m)
	}
	var s wire.InstallSnapshotRequest
	if err := s.Unmarshal([]byte{0x82, 0x07, 0xc0, 0x09, 0xc0}); err != nil {
		t.Fatalf("Unmarshal of nil message and bytes fields: %v", err)
	}
}

func TestDecodeHugeLengthClaims(t *testing.T) {
	// Each input declares a length of 2^32-1 and then ends.
	cases := []struct {
		name string
		msg  wire.Message
		data []byte
	}{
		{"bytes field", &wire.Entry{}, []byte{0x81, 0x04, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00}},
		{"string field", &wire.AppendEntriesRequest{}, []byte{0x81, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x00}},
		{"list field", &wire.AppendEntriesRequest{}, []byte{0x81, 0x07, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x80}},
		{"string list", &wire.Configuration{}, []byte{0x81, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xa0}},
		{"map header", &wire.AppendEntriesRequest{}, []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02}},
		{"unknown array", &wire.AppendEntriesRequest{}, []byte{0x81, 0x63, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x80}},
		{"unknown ext", &wire.AppendEntriesRequest{}, []byte{0x81, 0x63, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x05}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.msg.Unmarshal(c.data); !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("error %v, want one wrapping ErrMalformed", err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 10 {
				_ = c.msg.Unmarshal(c.data)
			}
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
				t.Fatalf("10 rejected decodes allocated %d bytes; the length was not checked before allocating", n)
			}
		})
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	nested := func(levels int) []byte {
		// {99: [[[...[]...]]]}: an unknown field holding nested arrays.
		b := []byte{0x81, 0x63}
		for range levels {
			b = append(b, 0x91)
		}
		return append(b, 0x90)
	}
	if err := new(wire.VoteRequest).Unmarshal(nested(30)); err != nil {
		t.Fatalf("30 nested arrays: %v", err)
	}
	err := new(wire.VoteRequest).Unmarshal(nested(100000))
	if !errors.Is(err, wire.ErrMalformed) || !strings.Contains(err.Error(), "nesting") {
		t.Fatalf("100000 nested arrays: error %v, want a nesting error wrapping ErrMalformed", err)
	}
}

func TestDecodeSkipsUnknownFieldIDs(t *testing.T) {
	// {1000: "x", 4: 7, 70000: {1: [1, 2]}}
	data := []byte{0x83, 0xcd, 0x03, 0xe8, 0xa1, 'x', 0x04, 0x07,
		0xce, 0x00, 0x01, 0x11, 0x70, 0x81, 0x01, 0x92, 0x01, 0x02}
	var m wire.VoteRequest
	if err := m.Unmarshal(data); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if m.Term != 7 {
		t.Fatalf("Term = %d, want 7", m.Term)
	}
}

func TestDecodeRejectsNonIntegerKey(t *testing.T) {
	err := new(wire.VoteRequest).Unmarshal([]byte{0x81, 0xa1, 'a', 0x01})
	if !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("string key: error %v, want one wrapping ErrMalformed", err)
	}
}

func TestUnmarshalBytesAliasInput(t *testing.T) {
	data := (&wire.Entry{Index: 1, Data: []byte("abc")}).Marshal()
	var e wire.Entry
	if err := e.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] = 'X'
	if string(e.Data) != "abX" {
		t.Fatalf("Data = %q after changing the input, want the aliased %q", e.Data, "abX")
	}
	if cap(e.Data) != len(e.Data) {
		t.Fatalf("cap(Data) = %d, want %d so that append copies", cap(e.Data), len(e.Data))
	}
}

func TestUnmarshalResetsMessage(t *testing.T) {
	m := wire.StatusResponse{Node: "n1", Voters: []string{"a"}}
	if err := m.Unmarshal((&wire.StatusResponse{Term: 3}).Marshal()); err != nil {
		t.Fatal(err)
	}
	if m.Node != "" || m.Voters != nil || m.Term != 3 {
		t.Fatalf("Unmarshal kept old fields: %+v", m)
	}
}

func TestGettersNilSafe(t *testing.T) {
	var m *wire.InstallSnapshotRequest
	if m.GetTerm() != 0 || m.GetData() != nil || m.GetDone() || m.GetCluster() != "" {
		t.Fatal("getters on a nil message returned non-zero values")
	}
	if len(m.GetConfiguration().Voters) != 0 {
		t.Fatal("GetConfiguration on a nil message returned voters")
	}
	m = &wire.InstallSnapshotRequest{Term: 4, Configuration: wire.Configuration{Voters: []string{"a"}}}
	if m.GetTerm() != 4 || m.GetConfiguration().Voters[0] != "a" {
		t.Fatal("getters did not return the fields")
	}
}

func TestNamesAndKinds(t *testing.T) {
	if s := wire.EntryTypeNoop.String(); s != "Noop" {
		t.Fatalf("EntryTypeNoop.String() = %q", s)
	}
	if s := wire.EntryType(9).String(); s != "EntryType(9)" {
		t.Fatalf("EntryType(9).String() = %q", s)
	}
	if s := wire.ErrorCodeNotLeader.String(); s != "NotLeader" {
		t.Fatalf("ErrorCodeNotLeader.String() = %q", s)
	}
	if s := wire.KindVoteRequest.String(); s != "VoteRequest" {
		t.Fatalf("KindVoteRequest.String() = %q", s)
	}
	if wire.KindEntry != 1 {
		t.Fatalf("KindEntry = %d, want 1", wire.KindEntry)
	}
	if wire.NewMessage(0) != nil || wire.NewMessage(1000) != nil {
		t.Fatal("NewMessage returned a message for an unknown kind")
	}
	for k := wire.Kind(1); wire.NewMessage(k) != nil; k++ {
		if got := wire.NewMessage(k).Kind(); got != k {
			t.Fatalf("NewMessage(%v).Kind() = %v", k, got)
		}
	}
}
