package memory

import (
	"math/rand/v2"
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/storage/storagetest"
)

// TestChunkBoundaries drives a LogStore through random appends and
// truncations that cross chunk boundaries and compares every read with a
// plain slice holding the same log.
func TestChunkBoundaries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := NewLogStore()
	var model []wire.Entry // model[i] has index first+i
	first := uint64(1)
	next := uint64(1)
	for step := range 400 {
		switch op := rng.IntN(10); {
		case op < 6:
			n := 1 + rng.IntN(3*chunkLen)
			batch := storagetest.MakeEntries(next, next+uint64(n), uint64(step))
			if err := s.Append(batch); err != nil {
				t.Fatalf("step %d: Append(%d, %d): %v", step, next, n, err)
			}
			model = append(model, batch...)
			next += uint64(n)
		case op < 8 && len(model) > 0:
			from := first + uint64(rng.IntN(len(model)))
			if err := s.TruncateSuffix(from); err != nil {
				t.Fatalf("step %d: TruncateSuffix(%d): %v", step, from, err)
			}
			model = model[:from-first]
			next = from
		default:
			upTo := first + uint64(rng.IntN(len(model)+2))
			if err := s.TruncatePrefix(upTo); err != nil {
				t.Fatalf("step %d: TruncatePrefix(%d): %v", step, upTo, err)
			}
			if upTo >= next-1 {
				model = nil
				next = upTo + 1
			} else {
				model = model[upTo+1-first:]
			}
			first = upTo + 1
		}
		checkAgainstModel(t, step, s, model, first, next-1, rng)
	}
}

func checkAgainstModel(t *testing.T, step int, s *LogStore, model []wire.Entry, first, last uint64, rng *rand.Rand) {
	t.Helper()
	gotFirst, _ := s.FirstIndex()
	gotLast, _ := s.LastIndex()
	if gotFirst != first || gotLast != last {
		t.Fatalf("step %d: bounds [%d, %d], want [%d, %d]", step, gotFirst, gotLast, first, last)
	}
	if len(model) == 0 {
		return
	}
	lo := first + uint64(rng.IntN(len(model)))
	hi := lo + uint64(rng.IntN(int(last-lo)+2))
	got, err := s.Entries(lo, hi, 0)
	if err != nil {
		t.Fatalf("step %d: Entries(%d, %d): %v", step, lo, hi, err)
	}
	want := model[lo-first : hi-first]
	if len(got) != len(want) {
		t.Fatalf("step %d: Entries(%d, %d) returned %d entries, want %d", step, lo, hi, len(got), len(want))
	}
	for i := range got {
		if got[i].Index != want[i].Index || got[i].Term != want[i].Term || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("step %d: entry %d = %d/%d, want %d/%d", step, lo+uint64(i), got[i].Index, got[i].Term, want[i].Index, want[i].Term)
		}
	}
	idx := first + uint64(rng.IntN(len(model)))
	if term, err := s.Term(idx); err != nil || term != model[idx-first].Term {
		t.Fatalf("step %d: Term(%d) = %d, %v, want %d", step, idx, term, err, model[idx-first].Term)
	}
	if len(s.chunks) > (s.head+s.n)/chunkLen+1 {
		t.Fatalf("step %d: %d chunks kept for %d entries from offset %d", step, len(s.chunks), s.n, s.head)
	}
}
