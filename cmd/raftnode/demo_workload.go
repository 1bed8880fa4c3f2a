package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/natsraft/natsraft/statemachine"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// maxReportedErrors bounds the errors a workload keeps for its report.
const maxReportedErrors = 5

func demoKey(i int) string   { return fmt.Sprintf("key-%06d", i) }
func demoValue(i int) []byte { return fmt.Appendf(nil, "value-%d", i) }

// errorList collects the first maxReportedErrors errors and counts all.
type errorList struct {
	mu    sync.Mutex
	count int
	first []error
}

func (l *errorList) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if len(l.first) < maxReportedErrors {
		l.first = append(l.first, err)
	}
}

// writeReport is the outcome of writeKeys.
type writeReport struct {
	// acked[i] reports whether the write of key i was acknowledged.
	acked   []bool
	count   int
	errors  *errorList
	elapsed time.Duration
}

// writeKeys writes keys 0..n-1 with the given number of concurrent writers,
// each waiting for its write to be acknowledged before the next one.
func writeKeys(ctx context.Context, client *natstransport.Client, n, writers int, bar *progress) writeReport {
	r := writeReport{acked: make([]bool, n), errors: &errorList{}}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				// Each writer sets only the indexes it took, so acked
				// needs no lock.
				r.acked[i] = writeKey(ctx, client, i, r.errors)
				bar.add(1)
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	for _, ok := range r.acked {
		if ok {
			r.count++
		}
	}
	return r
}

// writeKey writes key i and reports whether the write was acknowledged.
func writeKey(ctx context.Context, client *natstransport.Client, i int, errs *errorList) bool {
	value, _, err := client.Propose(ctx, statemachine.EncodePut(demoKey(i), demoValue(i)))
	if err != nil {
		errs.add(fmt.Errorf("put %s: %w", demoKey(i), err))
		return false
	}
	res, err := statemachine.DecodeResult(value)
	if err != nil || res.Error != "" {
		errs.add(fmt.Errorf("put %s: invalid result: %v %s", demoKey(i), err, res.Error))
		return false
	}
	return true
}

// readReport is the outcome of readBack.
type readReport struct {
	checked int
	errors  *errorList
}

// readBack reads up to sample acknowledged keys, spread evenly over the
// written range, with linearizable reads and checks their values.
func readBack(ctx context.Context, client *natstransport.Client, acked []bool, sample, readers int) readReport {
	var keys []int
	for i, ok := range acked {
		if ok {
			keys = append(keys, i)
		}
	}
	if sample < len(keys) {
		step := float64(len(keys)) / float64(sample)
		picked := make([]int, 0, sample)
		for j := range sample {
			picked = append(picked, keys[int(float64(j)*step)])
		}
		keys = picked
	}

	r := readReport{checked: len(keys), errors: &errorList{}}
	work := make(chan int)
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := readKey(ctx, client, i); err != nil {
					r.errors.add(err)
				}
			}
		}()
	}
	for _, i := range keys {
		work <- i
	}
	close(work)
	wg.Wait()
	return r
}

// readKey reads key i and checks that it holds demoValue(i).
func readKey(ctx context.Context, client *natstransport.Client, i int) error {
	value, err := client.Read(ctx, statemachine.EncodeGet(demoKey(i)))
	if err != nil {
		return fmt.Errorf("get %s: %w", demoKey(i), err)
	}
	res, err := statemachine.DecodeResult(value)
	switch {
	case err != nil:
		return fmt.Errorf("get %s: invalid result: %w", demoKey(i), err)
	case res.Error != "":
		return fmt.Errorf("get %s: %s", demoKey(i), res.Error)
	case !res.Found:
		return fmt.Errorf("get %s: acknowledged key not found", demoKey(i))
	case !bytes.Equal(res.Value, demoValue(i)):
		return fmt.Errorf("get %s: value %q, expected %q", demoKey(i), res.Value, demoValue(i))
	}
	return nil
}
