//go:build !race

package msgptest

// RaceEnabled reports whether the race detector is on. The detector adds
// allocations of its own, so allocation counts are checked only without it.
const RaceEnabled = false
