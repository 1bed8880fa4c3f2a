package raft

import (
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"time"
)

// Config holds a node's settings. Zero values take the documented defaults;
// Validate reports values that cannot work.
type Config struct {
	// ID is this node's id, unique in its cluster: letters, digits, '-' and
	// '_' (it becomes a NATS subject token). Required.
	ID string
	// Cluster is the cluster's id, same rules as ID. Messages of other
	// clusters are dropped. Required.
	Cluster string
	// Peers is the initial set of voting members, including ID. It is used
	// when the log holds no configuration yet. Required.
	Peers []string

	// ElectionTimeout is the minimum time a follower waits without hearing
	// from a leader before it campaigns; each wait is drawn at random from
	// [ElectionTimeout, 2*ElectionTimeout). A leader that has not heard from
	// a quorum for ElectionTimeout steps down. Default 1s; it must be at
	// least twice HeartbeatInterval.
	ElectionTimeout time.Duration
	// HeartbeatInterval is the time between a leader's heartbeats.
	// Default 100ms.
	HeartbeatInterval time.Duration
	// TickInterval is the resolution of the node's clock; the two timeouts
	// above are rounded to whole ticks. Default HeartbeatInterval/4.
	TickInterval time.Duration

	// MaxEntriesPerMessage bounds the entries in one AppendEntries.
	// Default 1024.
	MaxEntriesPerMessage int
	// MaxBytesPerMessage bounds the encoded size of one AppendEntries in
	// bytes; larger batches are split. It must not exceed the NATS server's
	// max payload. Default 512 KiB. A single entry larger than this is sent
	// alone and fails if it exceeds the max payload.
	MaxBytesPerMessage int
	// MaxInflightMessages bounds the AppendEntries sent to one follower and
	// not yet acknowledged. Default 4. While the window is full, new entries
	// wait and leave together in the next AppendEntries, so a small window
	// batches more. On a 2-core machine with three nodes and the NATS
	// server in one process, 4 gave 1.3 to 4 times the throughput of 64 at
	// 256 clients with the bbolt store, and as much or more with the memory
	// store. Raise it when the round trip to followers is long.
	MaxInflightMessages int
	// MaxInflightBytes bounds the encoded size of the entries sent to one
	// follower and not yet acknowledged. Default 4 MiB. An AppendEntries
	// always carries at least one entry, so a single larger entry still
	// goes out alone.
	MaxInflightBytes int
	// MaxInflightBatches bounds the batches of proposals a leader has
	// appended and not yet committed. While that many wait for a quorum,
	// new proposals stay queued and leave together in the next batch, so
	// under load each batch carries everything that arrived during one
	// commit: one log write and one AppendEntries per follower for many
	// proposals. A lone proposal is appended at once. Default 1. A batch
	// contains at most MaxEntriesPerMessage proposals. With one batch in
	// flight, at most that many proposals commit per round trip to a
	// quorum, so raise it when that round trip is long. On a 2-core
	// machine with three nodes and the NATS server in one process, 1 gave
	// 1.7 to 1.8 times the throughput of an unbounded count at 16 to 256
	// clients with the wal store. With the memory store it gave 1.05 to
	// 1.3 times.
	MaxInflightBatches int
	// MaxPendingProposals bounds the proposals queued for the node loop;
	// beyond it Propose waits within its context. Default 8192.
	MaxPendingProposals int
	// MaxUnappliedEntries bounds the entries a leader holds appended but not
	// yet applied, whether uncommitted or waiting for the state machine.
	// While the bound is reached, new proposals wait in the queue.
	// Default 65536.
	MaxUnappliedEntries int
	// MaxUnappliedBytes bounds the command bytes of those entries in the
	// same way. Default 64 MiB.
	MaxUnappliedBytes int
	// ApplyBatchSize bounds the commands passed to one StateMachine.Apply
	// call. Default 1024.
	ApplyBatchSize int
	// DisablePreVote turns off the pre-vote poll. Pre-vote keeps a node
	// that was partitioned away from raising the term and deposing a
	// working leader when it returns.
	DisablePreVote bool
	// Broadcast lets the leader publish new entries once for all followers
	// while they are in step, when the transport implements Broadcaster.
	// Otherwise the leader sends every AppendEntries to each follower
	// separately. Default false, because on a 2-core machine with every node
	// and the NATS server in one process, raftnode bench measured no
	// throughput gain with it at 256 clients and about 10 µs more latency at
	// one client.
	Broadcast bool
	// Logger receives the node's logs. Default slog.Default().
	Logger *slog.Logger
	// Metrics receives the node's metrics, listed on the Metrics interface.
	// Nil turns metrics off, and each hook then costs one nil check.
	Metrics Metrics
	// RandSeed seeds the election timeout jitter; 0 picks a random seed.
	RandSeed uint64
}

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = time.Second
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 100 * time.Millisecond
	}
	if c.TickInterval == 0 {
		c.TickInterval = c.HeartbeatInterval / 4
	}
	if c.MaxEntriesPerMessage == 0 {
		c.MaxEntriesPerMessage = 1024
	}
	if c.MaxBytesPerMessage == 0 {
		c.MaxBytesPerMessage = 512 << 10
	}
	if c.MaxInflightMessages == 0 {
		c.MaxInflightMessages = 4
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = 4 << 20
	}
	if c.MaxInflightBatches == 0 {
		c.MaxInflightBatches = 1
	}
	if c.MaxPendingProposals == 0 {
		c.MaxPendingProposals = 8192
	}
	if c.MaxUnappliedEntries == 0 {
		c.MaxUnappliedEntries = 65536
	}
	if c.MaxUnappliedBytes == 0 {
		c.MaxUnappliedBytes = 64 << 20
	}
	if c.ApplyBatchSize == 0 {
		c.ApplyBatchSize = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first invalid setting, naming the value and the fix.
// Zero values are valid: they take defaults.
func (c Config) Validate() error {
	if !tokenPattern.MatchString(c.ID) {
		return fmt.Errorf("raft: invalid node id %q: use letters, digits, '-' and '_' only", c.ID)
	}
	if c.ID == "client" || c.ID == "all" {
		return fmt.Errorf("raft: invalid node id %q: the names \"client\" and \"all\" are reserved for subjects; choose another", c.ID)
	}
	if !tokenPattern.MatchString(c.Cluster) {
		return fmt.Errorf("raft: invalid cluster id %q: use letters, digits, '-' and '_' only", c.Cluster)
	}
	if len(c.Peers) == 0 {
		return fmt.Errorf("raft: no peers configured: list every voting member, including %q", c.ID)
	}
	seen := map[string]bool{}
	for _, p := range c.Peers {
		if !tokenPattern.MatchString(p) || p == "client" || p == "all" {
			return fmt.Errorf("raft: invalid peer id %q: use letters, digits, '-' and '_' only, and not \"client\" or \"all\"", p)
		}
		if seen[p] {
			return fmt.Errorf("raft: peer %q is listed twice in Peers", p)
		}
		seen[p] = true
	}
	if !slices.Contains(c.Peers, c.ID) {
		return fmt.Errorf("raft: peers %v do not include this node %q: add it", c.Peers, c.ID)
	}
	d := c.withDefaults()
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"ElectionTimeout", c.ElectionTimeout}, {"HeartbeatInterval", c.HeartbeatInterval}, {"TickInterval", c.TickInterval}} {
		if f.v < 0 {
			return fmt.Errorf("raft: invalid %s %v: must be positive (or zero for the default)", f.name, f.v)
		}
	}
	if d.ElectionTimeout < 2*d.HeartbeatInterval {
		return fmt.Errorf("raft: ElectionTimeout %v is less than twice HeartbeatInterval %v: raise it to at least %v",
			d.ElectionTimeout, d.HeartbeatInterval, 2*d.HeartbeatInterval)
	}
	if d.TickInterval > d.HeartbeatInterval {
		return fmt.Errorf("raft: TickInterval %v exceeds HeartbeatInterval %v: lower it", d.TickInterval, d.HeartbeatInterval)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxEntriesPerMessage", c.MaxEntriesPerMessage}, {"MaxBytesPerMessage", c.MaxBytesPerMessage},
		{"MaxInflightMessages", c.MaxInflightMessages}, {"MaxInflightBytes", c.MaxInflightBytes},
		{"MaxInflightBatches", c.MaxInflightBatches}, {"MaxPendingProposals", c.MaxPendingProposals},
		{"MaxUnappliedEntries", c.MaxUnappliedEntries}, {"MaxUnappliedBytes", c.MaxUnappliedBytes},
		{"ApplyBatchSize", c.ApplyBatchSize},
	} {
		if f.v < 0 {
			return fmt.Errorf("raft: invalid %s %d: must be positive (or zero for the default)", f.name, f.v)
		}
	}
	if d.MaxBytesPerMessage < 1024 {
		return fmt.Errorf("raft: MaxBytesPerMessage %d is below 1024 bytes: raise it", d.MaxBytesPerMessage)
	}
	return nil
}

// ticks converts d to whole ticks, at least min.
func ticks(d, tick time.Duration, min int) int {
	n := int(d / tick)
	if n < min {
		n = min
	}
	return n
}
