package main

import (
	"runtime"
	"syscall"
	"time"
)

// processUsage returns the CPU time (user plus system) that this process
// has used so far and its peak resident set size in bytes. It is the same
// measurement as raftnode bench makes.
func processUsage() (cpu time.Duration, peakRSS int64, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// Darwin reports ru_maxrss in bytes, Linux and the BSDs in KiB.
	peakRSS = int64(ru.Maxrss)
	if runtime.GOOS != "darwin" && runtime.GOOS != "ios" {
		peakRSS *= 1024
	}
	return cpu, peakRSS, nil
}
