package main

// The histogram below is the one of raftnode bench
// (cmd/raftnode/bench_hist.go in the natsraft module), so that both sides
// report percentiles the same way.

import (
	"math"
	"math/bits"
	"time"
)

// histSubBits sets the histogram's resolution: each power of two is split
// into 2^histSubBits buckets, so a reported latency is at most 1/64 (1.6%)
// above the true value.
const histSubBits = 6

// histBuckets covers every uint64 nanosecond value.
const histBuckets = (64 - histSubBits) << histSubBits

// latencyHistogram is a log-linear histogram of durations in nanoseconds,
// in the manner of HdrHistogram: values below 2^histSubBits ns have a bucket
// each, and each larger power of two has 2^histSubBits buckets. Recording
// allocates nothing. It is not safe for concurrent use: each client owns
// one, and the owners merge them when the run is over.
type latencyHistogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    time.Duration
}

// histBucket returns the bucket of v nanoseconds.
func histBucket(v uint64) int {
	n := bits.Len64(v)
	if n <= histSubBits {
		return int(v)
	}
	shift := n - histSubBits - 1
	top := v >> shift // in [2^histSubBits, 2^(histSubBits+1))
	return (shift+1)<<histSubBits + int(top) - 1<<histSubBits
}

// histUpperBound returns the largest value in bucket i.
func histUpperBound(i int) uint64 {
	if i < 1<<histSubBits {
		return uint64(i)
	}
	shift := i>>histSubBits - 1
	top := uint64(i&(1<<histSubBits-1)) + 1<<histSubBits
	return (top+1)<<shift - 1
}

func (h *latencyHistogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histBucket(uint64(d))]++
	h.total++
	h.max = max(h.max, d)
}

func (h *latencyHistogram) merge(o *latencyHistogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns the latency below or at which a fraction q of the values
// lie, as the upper bound of the bucket that holds that rank, capped at the
// maximum. It returns 0 for an empty histogram.
func (h *latencyHistogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(histUpperBound(i)), h.max)
		}
	}
	return h.max
}
