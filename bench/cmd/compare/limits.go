package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// maxLimitTime bounds each limit measurement.
const maxLimitTime = 3 * time.Second

// measureLimits measures the floors and ceilings that the results depend
// on. The NATS round trip and core publish rate are measured on an embedded
// server set up as raftnode bench sets up its own: no TCP listener, and
// in-process connections. The fsync latency is that of one 4 KiB write to
// a file in dir.
func measureLimits(ctx context.Context, dir string, payload int, duration time.Duration) (runResult, error) {
	d := min(duration, maxLimitTime)
	res := runResult{System: systemLimits, Payload: payload, DurationS: d.Seconds()}
	srv, err := embedded.Start(embedded.Options{Port: embedded.NoListener})
	if err != nil {
		return res, err
	}
	defer srv.Shutdown()

	rtt, err := measureRoundTrip(ctx, srv, payload, d)
	if err != nil {
		return res, fmt.Errorf("measure NATS round trip: %w", err)
	}
	res.NATSRoundTripP50Ms = milliseconds(rtt.quantile(0.50))
	res.NATSRoundTripP99Ms = milliseconds(rtt.quantile(0.99))

	res.NATSPublishPerSec, err = measurePublishRate(srv, payload, d)
	if err != nil {
		return res, fmt.Errorf("measure NATS publish rate: %w", err)
	}

	fsync, err := measureFsync(ctx, dir, d)
	if err != nil {
		return res, fmt.Errorf("measure fsync latency: %w", err)
	}
	res.FsyncP50Ms = milliseconds(fsync.quantile(0.50))
	res.FsyncP99Ms = milliseconds(fsync.quantile(0.99))
	return res, nil
}

// measureRoundTrip sends payload-byte requests one at a time from one
// connection to a responder on another for d.
func measureRoundTrip(ctx context.Context, srv *embedded.Server, payload int, d time.Duration) (*latencyHistogram, error) {
	responder, err := srv.Connect(nats.Name("compare rtt responder"))
	if err != nil {
		return nil, err
	}
	defer responder.Close()
	if _, err := responder.Subscribe("rtt", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		return nil, err
	}
	if err := responder.Flush(); err != nil {
		return nil, err
	}
	requester, err := srv.Connect(nats.Name("compare rtt requester"))
	if err != nil {
		return nil, err
	}
	defer requester.Close()

	data := make([]byte, payload)
	h := &latencyHistogram{}
	end := time.Now().Add(d)
	// The first requests set up the requester's reply subscription and are
	// not measured.
	for range 100 {
		if _, err := requester.RequestWithContext(ctx, "rtt", data); err != nil {
			return nil, err
		}
	}
	for time.Now().Before(end) {
		begin := time.Now()
		if _, err := requester.RequestWithContext(ctx, "rtt", data); err != nil {
			return nil, err
		}
		h.record(time.Since(begin))
	}
	return h, nil
}

// measurePublishRate publishes payload-byte messages from one connection
// for d and returns the rate at which a subscriber on another connection
// received them.
func measurePublishRate(srv *embedded.Server, payload int, d time.Duration) (float64, error) {
	sub, err := srv.Connect(nats.Name("compare publish subscriber"))
	if err != nil {
		return 0, err
	}
	defer sub.Close()
	var received atomic.Int64
	s, err := sub.Subscribe("pub", func(*nats.Msg) { received.Add(1) })
	if err != nil {
		return 0, err
	}
	// Messages that exceed the pending limits are dropped and not counted,
	// so the rate is what the subscriber could take.
	if err := s.SetPendingLimits(-1, -1); err != nil {
		return 0, err
	}
	if err := sub.Flush(); err != nil {
		return 0, err
	}
	pub, err := srv.Connect(nats.Name("compare publisher"))
	if err != nil {
		return 0, err
	}
	defer pub.Close()

	data := make([]byte, payload)
	start := time.Now()
	end := start.Add(d)
	for i := 0; ; i++ {
		if i%1024 == 0 && !time.Now().Before(end) {
			break
		}
		if err := pub.Publish("pub", data); err != nil {
			return 0, err
		}
	}
	if err := pub.Flush(); err != nil {
		return 0, err
	}
	if err := sub.Flush(); err != nil {
		return 0, err
	}
	return float64(received.Load()) / time.Since(start).Seconds(), nil
}

// measureFsync rewrites one 4 KiB block of a file in dir and syncs it, one
// write at a time, for d.
func measureFsync(ctx context.Context, dir string, d time.Duration) (*latencyHistogram, error) {
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		return nil, err
	}
	block := make([]byte, 4096)
	h := &latencyHistogram{}
	end := time.Now().Add(d)
	for time.Now().Before(end) && ctx.Err() == nil {
		begin := time.Now()
		if _, err := f.WriteAt(block, 0); err != nil {
			_ = f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, err
		}
		h.record(time.Since(begin))
		block[0]++
	}
	return h, errors.Join(f.Close(), ctx.Err())
}
