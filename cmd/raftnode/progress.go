package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress report intervals: a terminal line is redrawn often, while plain
// lines (stderr redirected to a file or a pipe) are written rarely so that
// they stay readable.
const (
	progressRedraw    = 100 * time.Millisecond
	progressPlainLine = time.Second
	progressBarWidth  = 30
)

// progress reports how many of total operations are done: on a terminal as
// one line that is redrawn in place, otherwise as a plain line every
// progressPlainLine.
type progress struct {
	w        io.Writer
	terminal bool
	label    string
	total    int
	start    time.Time

	done     atomic.Int64
	stopOnce sync.Once
	stop     chan struct{}
	stopped  chan struct{}
}

// startProgress starts reporting on w until finish is called.
func startProgress(w io.Writer, terminal bool, label string, total int) *progress {
	p := &progress{
		w:        w,
		terminal: terminal,
		label:    label,
		total:    total,
		start:    time.Now(),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	go p.run()
	return p
}

// add counts n more operations as done. It is safe for concurrent use.
func (p *progress) add(n int) { p.done.Add(int64(n)) }

// finish writes the final state and stops reporting.
func (p *progress) finish() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.stopped
}

func (p *progress) run() {
	defer close(p.stopped)
	interval := progressPlainLine
	if p.terminal {
		interval = progressRedraw
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-p.stop:
			p.report(true)
			return
		case <-ticker.C:
			p.report(false)
		}
	}
}

// report writes the current state. On a terminal it redraws the line, and
// the final report ends it with a newline.
func (p *progress) report(final bool) {
	done := int(p.done.Load())
	elapsed := time.Since(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	percent := 100
	if p.total > 0 {
		percent = done * 100 / p.total
	}
	if !p.terminal {
		fmt.Fprintf(p.w, "%s: %d/%d (%d%%), %.0f ops/s, %s\n", p.label, done, p.total, percent, rate, elapsed.Round(time.Millisecond))
		return
	}
	filled := progressBarWidth * percent / 100
	bar := strings.Repeat("#", filled) + strings.Repeat("-", progressBarWidth-filled)
	// "\r" returns to the start of the line and "\x1b[K" clears what a
	// longer previous line left behind.
	fmt.Fprintf(p.w, "\r%-8s [%s] %d/%d %3d%% %7.0f ops/s\x1b[K", p.label, bar, done, p.total, percent, rate)
	if final {
		fmt.Fprintln(p.w)
	}
}
