package wal

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// readWholeLog returns the store's bounds, hard state and entries.
func readWholeLog(s *Store) (first, last uint64, hs wire.HardState, entries []wire.Entry, err error) {
	if first, err = s.FirstIndex(); err != nil {
		return
	}
	if last, err = s.LastIndex(); err != nil {
		return
	}
	if hs, err = s.HardState(); err != nil {
		return
	}
	for lo := first; lo != 0 && lo <= last; {
		var page []wire.Entry
		if page, err = s.Entries(lo, last+1, 64<<10); err != nil {
			return
		}
		entries = append(entries, page...)
		lo += uint64(len(page))
	}
	return
}

// flipTestFile is a file of the pristine store of TestRandomFileDamage.
type flipTestFile struct {
	name string
	data []byte
}

// TestRandomFileDamage flips one random bit in the files of a store per
// trial and checks that opening and reading the store either fails with
// raft.ErrCorrupt or returns the original data. The one exception is a
// flip in the last batch of the last segment, which Open cannot tell from
// a torn write: it may drop that batch and nothing else.
func TestRandomFileDamage(t *testing.T) {
	trials := 150
	if testing.Short() {
		trials = 30
	}
	pristine := t.TempDir()
	opts := testOptions()
	opts.SegmentSize = 16 << 10
	s := openTestStore(t, pristine, opts)
	const count, batch = 3000, 97
	all := make([]wire.Entry, 0, count)
	for i := uint64(1); i <= count; i++ {
		all = append(all, crashEntry(i))
	}
	for i := 0; i < count; i += batch {
		mustAppend(t, s, all[i:min(i+batch, count)])
	}
	if err := s.TruncatePrefix(500); err != nil {
		t.Fatalf("TruncatePrefix: %v", err)
	}
	if err := s.SetHardState(wire.HardState{Term: 4, Vote: "n2"}); err != nil {
		t.Fatalf("SetHardState: %v", err)
	}
	mustClose(t, s)
	lastBatchFirst := uint64(count - (count-1)%batch)

	var files []flipTestFile
	total := 0
	names, err := filepath.Glob(filepath.Join(pristine, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range names {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, flipTestFile{filepath.Base(path), data})
		total += len(data)
	}

	rng := rand.New(rand.NewPCG(7, 11))
	counts := map[string]int{}
	for trial := range trials {
		dir := t.TempDir()
		at := rng.IntN(total)
		var damaged string
		for _, f := range files {
			data := f.data
			if at >= 0 && at < len(data) {
				data = append([]byte(nil), data...)
				data[at] ^= 1 << rng.IntN(8)
				damaged = f.name
			}
			at -= len(f.data)
			if err := os.WriteFile(filepath.Join(dir, f.name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}

		outcome := checkDamagedStore(t, dir, opts, all, lastBatchFirst)
		counts[outcome]++
		if outcome == "wrong data" {
			t.Errorf("trial %d: a flip in %s made the store return data that differs from what was written", trial, damaged)
		}
	}
	t.Logf("%d trials on %d bytes in %d files: %v", trials, total, len(files), counts)
}

// checkDamagedStore opens and reads the store in dir, and classifies the
// result against all, the entries written, of which those from
// lastBatchFirst on were the last batch.
func checkDamagedStore(t *testing.T, dir string, opts Options, all []wire.Entry, lastBatchFirst uint64) string {
	s, err := Open(dir, opts)
	if err == nil {
		defer s.Close()
		var first, last uint64
		var hs wire.HardState
		var entries []wire.Entry
		first, last, hs, entries, err = readWholeLog(s)
		if err == nil {
			if first != 501 || hs.Term != 4 || hs.Vote != "n2" {
				return "wrong data"
			}
			for i, e := range entries {
				w := all[first-1+uint64(i)]
				if e.Index != w.Index || e.Term != w.Term || string(e.Data) != string(w.Data) {
					return "wrong data"
				}
			}
			switch last {
			case uint64(len(all)):
				return "unchanged"
			case lastBatchFirst - 1:
				return "last batch dropped"
			default:
				return "wrong data"
			}
		}
	}
	if !errors.Is(err, raft.ErrCorrupt) {
		t.Errorf("damaged store: %v, want an error matching raft.ErrCorrupt", err)
	}
	return "error"
}
