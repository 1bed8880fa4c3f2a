package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
)

// machineInfo describes the machine and software of a comparison.
type machineInfo struct {
	nproc      int
	cpu        string
	memory     string
	kernel     string
	goVersion  string
	natsraft   string
	modules    []string
	loadBefore string
	loadAfter  string
}

// reportedModules are the modules whose versions the report names.
var reportedModules = []string{
	"github.com/hashicorp/raft",
	"github.com/hashicorp/raft-boltdb/v2",
	"go.etcd.io/bbolt",
	"github.com/nats-io/nats-server/v2",
	"github.com/nats-io/nats.go",
}

func describeMachine() machineInfo {
	m := machineInfo{
		nproc:      runtime.NumCPU(),
		cpu:        procField("/proc/cpuinfo", "model name"),
		memory:     memoryTotal(),
		goVersion:  runtime.Version(),
		loadBefore: readLoadAverage(),
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, name := range reportedModules {
			for _, dep := range info.Deps {
				if dep.Path == name {
					m.modules = append(m.modules, dep.Path+" "+dep.Version)
				}
			}
		}
	}
	return m
}

// procField returns the value of the first "name: value" line of a /proc
// file, or "unknown".
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, value, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(key) == name {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

// memoryTotal returns MemTotal of /proc/meminfo in GiB.
func memoryTotal() string {
	var kib int64
	if _, err := fmt.Sscanf(procField("/proc/meminfo", "MemTotal"), "%d kB", &kib); err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
}

// describeCheckout returns the commit of the natsraft checkout in the
// parent directory, which the bench module's replace directive points to
// when compare runs from bench/, and whether it has uncommitted changes.
func describeCheckout() string {
	out, err := exec.Command("git", "-C", "..", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown commit"
	}
	desc := strings.TrimSpace(string(out))
	if base, ok := strings.CutSuffix(desc, "-dirty"); ok {
		return "commit " + base + " with uncommitted changes"
	}
	return "commit " + desc
}

// readLoadAverage returns the 1, 5 and 15 minute load averages.
func readLoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(b))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
