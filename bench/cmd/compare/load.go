package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// The workload below is the one of raftnode bench (cmd/raftnode/bench_load.go
// in the natsraft module): the same key names, key choice, values, window and
// counting rules, so that both sides do the same work.

// loadGrace is how long operations that are still running at the end of
// the measured window may take to finish before their context is canceled.
const loadGrace = 30 * time.Second

// errorPause is how long a client waits after a failed operation, so that a
// client without a leader does not spin.
const errorPause = 10 * time.Millisecond

// maxReportedErrors bounds the error messages a run keeps.
const maxReportedErrors = 5

// loadConfig is the shape of a closed-loop workload: clients each wait for
// one write to be acknowledged before they send the next.
type loadConfig struct {
	clients  int
	keys     int
	payload  int
	warmup   time.Duration
	duration time.Duration
}

// putFunc writes value under key and returns once the write is
// acknowledged. Each client has its own, so it may keep client state.
type putFunc func(ctx context.Context, key string, value []byte) error

// loadReport holds the measurements of the window after the warm-up. Only
// operations that started and were acknowledged inside the window count in
// latency; errors counts the operations that started inside it and failed.
type loadReport struct {
	latency     *latencyHistogram
	errors      uint64
	errorSample []string
	window      time.Duration
	cpu         time.Duration
	peakRSS     int64
}

// clientStats holds one client's measurements.
type clientStats struct {
	latency latencyHistogram
	errors  uint64
	sample  []string
}

// runLoad runs cfg.clients clients, each calling the putFunc that newPut
// returns for it on keys drawn at random from cfg.keys keys, with values of
// cfg.payload bytes. Clients stop starting operations at the end of the
// measured window, which begins cfg.warmup after the start and lasts
// cfg.duration.
func runLoad(ctx context.Context, cfg loadConfig, newPut func(client int) putFunc) (loadReport, error) {
	keys := make([]string, cfg.keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%07d", i)
	}
	start := time.Now().Add(cfg.warmup)
	end := start.Add(cfg.duration)
	ctx, cancel := context.WithDeadline(ctx, end.Add(loadGrace))
	defer cancel()

	usage := make(chan windowUsage, 1)
	go func() { usage <- measureWindow(ctx, start, end) }()

	stats := make([]*clientStats, cfg.clients)
	var wg sync.WaitGroup
	for i := range cfg.clients {
		stats[i] = &clientStats{}
		put := newPut(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			runClient(ctx, i, keys, cfg.payload, start, end, put, stats[i])
		}()
	}
	wg.Wait()
	u := <-usage
	if u.err != nil {
		return loadReport{}, u.err
	}

	r := loadReport{latency: &latencyHistogram{}, window: end.Sub(start), cpu: u.cpu, peakRSS: u.peakRSS}
	for _, s := range stats {
		r.latency.merge(&s.latency)
		r.errors += s.errors
		for _, msg := range s.sample {
			if len(r.errorSample) < maxReportedErrors {
				r.errorSample = append(r.errorSample, msg)
			}
		}
	}
	return r, nil
}

// runClient sends writes one at a time until end and records those that
// started at or after start.
func runClient(ctx context.Context, id int, keys []string, payload int, start, end time.Time, put putFunc, s *clientStats) {
	rng := rand.New(rand.NewPCG(uint64(id), 0x5eed))
	value := make([]byte, payload)
	for i := range value {
		value[i] = byte(rng.Uint32())
	}
	for seq := uint64(0); ; seq++ {
		if payload >= 8 {
			binary.LittleEndian.PutUint64(value, seq)
		}
		key := keys[rng.IntN(len(keys))]
		begin := time.Now()
		if !begin.Before(end) || ctx.Err() != nil {
			return
		}
		err := put(ctx, key, value)
		done := time.Now()
		measured := !begin.Before(start)
		switch {
		case err != nil:
			if measured {
				s.errors++
				if len(s.sample) < maxReportedErrors {
					s.sample = append(s.sample, err.Error())
				}
			}
			if !sleepContext(ctx, errorPause) {
				return
			}
		case measured && !done.After(end):
			s.latency.record(done.Sub(begin))
		}
	}
}

// windowUsage is the CPU time used in the measured window and the peak
// memory at its end.
type windowUsage struct {
	cpu     time.Duration
	peakRSS int64
	err     error
}

func measureWindow(ctx context.Context, start, end time.Time) windowUsage {
	if !sleepContext(ctx, time.Until(start)) {
		return windowUsage{err: fmt.Errorf("load stopped before the measured window: %w", ctx.Err())}
	}
	cpu0, _, err0 := processUsage()
	if !sleepContext(ctx, time.Until(end)) {
		return windowUsage{err: fmt.Errorf("load stopped before the measured window ended: %w", ctx.Err())}
	}
	cpu1, peak, err1 := processUsage()
	if err := errors.Join(err0, err1); err != nil {
		return windowUsage{err: fmt.Errorf("read process usage: %w", err)}
	}
	return windowUsage{cpu: cpu1 - cpu0, peakRSS: peak}
}

// sleepContext waits for d or until ctx ends, and reports whether d elapsed.
func sleepContext(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
