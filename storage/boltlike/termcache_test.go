package boltlike

import "testing"

// checkTerms fails the test unless the cache returns want[index] for every
// index in want, and a miss for every index in missing.
func checkTerms(t *testing.T, step string, c *termCache, want map[uint64]uint64, missing ...uint64) {
	t.Helper()
	for index, term := range want {
		if got, ok := c.lookup(index); !ok || got != term {
			t.Errorf("%s: lookup(%d) = %d, %v; want %d, true", step, index, got, ok, term)
		}
	}
	for _, index := range missing {
		if got, ok := c.lookup(index); ok {
			t.Errorf("%s: lookup(%d) = %d, true; want a miss", step, index, got)
		}
	}
}

func TestTermCache(t *testing.T) {
	var c termCache
	checkTerms(t, "empty", &c, nil, 0, 1)

	// Entries 5 to 14: terms 1 (5-7), 2 (8-11), 4 (12-14).
	for index := uint64(5); index <= 14; index++ {
		term := uint64(1)
		switch {
		case index >= 12:
			term = 4
		case index >= 8:
			term = 2
		}
		c.add(index, term)
	}
	checkTerms(t, "after adds", &c, map[uint64]uint64{5: 1, 7: 1, 8: 2, 11: 2, 12: 4, 14: 4}, 4, 15)

	c.truncateSuffix(9)
	checkTerms(t, "after truncateSuffix(9)", &c, map[uint64]uint64{5: 1, 8: 2}, 9, 12)
	c.add(9, 5)
	checkTerms(t, "after add(9, 5)", &c, map[uint64]uint64{8: 2, 9: 5}, 10)

	c.truncatePrefix(8)
	checkTerms(t, "after truncatePrefix(8)", &c, map[uint64]uint64{8: 2, 9: 5}, 5, 7)
	c.truncatePrefix(9)
	checkTerms(t, "after truncatePrefix(9)", &c, map[uint64]uint64{9: 5}, 8)

	c.truncateSuffix(9)
	checkTerms(t, "after truncateSuffix to empty", &c, nil, 9)
	c.add(20, 6)
	checkTerms(t, "after restart at 20", &c, map[uint64]uint64{20: 6}, 19, 21)

	// An index that skips ahead restarts the cache.
	c.add(30, 7)
	checkTerms(t, "after a gap", &c, map[uint64]uint64{30: 7}, 20)

	c.truncatePrefix(31)
	checkTerms(t, "after truncatePrefix past the end", &c, nil, 30, 31)
}

func TestTermCacheDropsOldestRuns(t *testing.T) {
	var c termCache
	for index := uint64(1); index <= maxTermRuns+10; index++ {
		c.add(index, index)
	}
	if len(c.runs) > maxTermRuns {
		t.Fatalf("cache holds %d runs, want at most %d", len(c.runs), maxTermRuns)
	}
	checkTerms(t, "after many runs", &c, map[uint64]uint64{maxTermRuns: maxTermRuns, maxTermRuns + 10: maxTermRuns + 10}, 1)
}
