package wal

import (
	"fmt"
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
)

// BenchmarkAppend appends 128-byte entries in batches, each batch one
// Append, and reports entries per second. With sync=on every batch is
// synced with one fdatasync, so the numbers depend mostly on the disk's
// sync latency. sync=off (Options.NoSync) shows the CPU cost alone.
func BenchmarkAppend(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		for _, batch := range []int{1, 64, 1024} {
			name := fmt.Sprintf("sync=on/batch=%d", batch)
			if noSync {
				name = fmt.Sprintf("sync=off/batch=%d", batch)
			}
			b.Run(name, func(b *testing.B) { benchmarkAppend(b, batch, noSync) })
		}
	}
}

func benchmarkAppend(b *testing.B, batch int, noSync bool) {
	opts := testOptions()
	opts.NoSync = noSync
	s, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	data := make([]byte, 128)
	entries := make([]wire.Entry, batch)
	next := uint64(1)
	b.SetBytes(int64(batch * len(data)))
	for b.Loop() {
		for i := range entries {
			entries[i] = wire.Entry{Index: next, Term: 1, Type: wire.EntryTypeCommand, Data: data}
			next++
		}
		if err := s.Append(entries); err != nil {
			b.Fatal(err)
		}
		// Compact as a node does after snapshots, so that old segments
		// are deleted.
		if next%(1<<16) < uint64(batch) {
			if err := s.TruncatePrefix(next - 4096); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkEntries reads 256 entries of 128 bytes per call.
func BenchmarkEntries(b *testing.B) {
	s, err := Open(b.TempDir(), testOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const count = 10000
	entries := make([]wire.Entry, count)
	for i := range entries {
		entries[i] = wire.Entry{Index: uint64(i + 1), Term: 1, Type: wire.EntryTypeCommand, Data: make([]byte, 128)}
	}
	if err := s.Append(entries); err != nil {
		b.Fatal(err)
	}
	lo := uint64(1)
	for b.Loop() {
		if _, err := s.Entries(lo, lo+256, 0); err != nil {
			b.Fatal(err)
		}
		lo = lo%(count-256) + 1
	}
	b.ReportMetric(float64(b.N*256)/b.Elapsed().Seconds(), "entries/s")
}
