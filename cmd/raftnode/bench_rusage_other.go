//go:build !unix

package main

import (
	"errors"
	"time"
)

// processUsage is not implemented where getrusage is missing, so bench
// reports zero CPU time and peak memory there.
func processUsage() (cpu time.Duration, peakRSS int64, err error) {
	return 0, 0, errors.New("getrusage is not available on this system")
}
