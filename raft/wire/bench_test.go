package wire_test

import (
	"bytes"
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
)

// appendEntries returns a request of n entries with 128-byte commands.
func appendEntries(n int) *wire.AppendEntriesRequest {
	m := &wire.AppendEntriesRequest{
		Cluster: "cluster-1", From: "n1", To: "n2", Term: 12,
		PrevLogIndex: 100000, PrevLogTerm: 11, LeaderCommit: 99990, Seq: 777,
	}
	data := bytes.Repeat([]byte("x"), 128)
	for i := range n {
		m.Entries = append(m.Entries, wire.Entry{Index: uint64(100001 + i), Term: 12, Data: data})
	}
	return m
}

func BenchmarkAppendEntriesMarshal(b *testing.B) {
	m := appendEntries(64)
	buf := make([]byte, 0, m.Size())
	b.SetBytes(int64(m.Size()))
	b.ReportAllocs()
	for b.Loop() {
		buf = m.MarshalAppend(buf[:0])
	}
}

func BenchmarkAppendEntriesUnmarshal(b *testing.B) {
	data := appendEntries(64).Marshal()
	var m wire.AppendEntriesRequest
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}
