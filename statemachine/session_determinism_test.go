package statemachine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine/sessionwire"
)

// randomSessionStream returns n log commands from a few clients that
// retry, acknowledge late, fall silent long enough to expire, and whose
// times go back now and then, as they do across a leader change.
func randomSessionStream(seed uint64, n int, ttl time.Duration) []raft.Command {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	type client struct {
		id       string
		next     uint64 // next sequence number
		acked    uint64
		inflight []uint64
	}
	clients := make([]*client, 6)
	for i := range clients {
		clients[i] = &client{id: fmt.Sprintf("client-%d", i), next: 1}
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	cmds := make([]raft.Command, 0, n)
	for i := range n {
		switch r := rng.IntN(100); {
		case r < 5:
			now -= int64(ttl) / 2 // a leader with a slower clock
		case r < 10:
			now += int64(ttl) + int64(time.Second) // a long pause: sessions expire
		default:
			now += int64(rng.IntN(int(time.Second)))
		}
		c := clients[rng.IntN(len(clients))]
		var data []byte
		switch r := rng.IntN(100); {
		case r < 10:
			data = EncodeSessionCommand("", 0, 0, EncodeIncrement("shared", 1))
		case r < 30 && len(c.inflight) > 0:
			// A retry of a command still waiting for its reply.
			seq := c.inflight[rng.IntN(len(c.inflight))]
			data = EncodeSessionCommand(c.id, seq, c.acked, EncodeIncrement(c.id, 1))
		case r < 45 && len(c.inflight) > 0:
			// The reply of the oldest command arrives.
			c.acked = c.inflight[0]
			c.inflight = c.inflight[1:]
			continue
		default:
			seq := c.next
			c.next++
			c.inflight = append(c.inflight, seq)
			data = EncodeSessionCommand(c.id, seq, c.acked, EncodeIncrement(c.id, int64(rng.IntN(10)-3)))
		}
		cmds = append(cmds, raft.Command{Index: uint64(i + 1), Term: 1, Data: data, Time: now})
	}
	return cmds
}

// applyInBatches applies cmds to s in batches of random sizes drawn from
// seed, and returns the concatenated results.
func applyInBatches(t *testing.T, s *Sessions, cmds []raft.Command, seed uint64) [][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var results [][]byte
	for len(cmds) > 0 {
		n := min(len(cmds), 1+rng.IntN(20))
		out, err := s.Apply(cmds[:n])
		require.NoError(t, err)
		results = append(results, out...)
		cmds = cmds[n:]
	}
	return results
}

// TestSessionsExpireIdenticallyOnEveryNode applies the same command stream
// to three independent instances in differently sized batches, as three
// nodes would, and checks that results, session tables and digests agree,
// and that sessions were removed along the way.
func TestSessionsExpireIdenticallyOnEveryNode(t *testing.T) {
	const ttl = time.Minute
	options := map[string]SessionOptions{
		// Without eviction, only the TTL removes sessions.
		"ttl":            {TTL: ttl},
		"ttl and limits": {TTL: ttl, MaxSessions: 4, MaxResultsPerSession: 3},
	}
	for name, opts := range options {
		for _, seed := range []uint64{1, 2, 3, 42} {
			t.Run(fmt.Sprintf("%s seed %d", name, seed), func(t *testing.T) {
				cmds := randomSessionStream(seed, 3000, ttl)
				nodes := make([]*Sessions, 3)
				results := make([][][]byte, 3)
				for i := range nodes {
					nodes[i] = WithSessions(NewKV(), opts)
					results[i] = applyInBatches(t, nodes[i], cmds, seed*10+uint64(i))
				}

				wantClock, wantTable := nodes[0].Table()
				for i := 1; i < len(nodes); i++ {
					assert.Equal(t, results[0], results[i], "results of node %d", i)
					clock, table := nodes[i].Table()
					assert.Equal(t, wantClock, clock, "session clock of node %d", i)
					assert.Equal(t, wantTable, table, "session table of node %d", i)
					assert.Equal(t, nodes[0].Digest(), nodes[i].Digest(), "session digest of node %d", i)
					assert.Equal(t, nodes[0].Inner().(*KV).Digest(), nodes[i].Inner().(*KV).Digest(), "key-value digest of node %d", i)
				}
				assert.Positive(t, countStatus(t, results[0], sessionwire.StatusSessionExpired),
					"commands rejected because their session was removed")
				assert.Positive(t, countStatus(t, results[0], sessionwire.StatusDuplicate), "retries answered from the record")
			})
		}
	}
}

// countStatus counts the results with the given status.
func countStatus(t *testing.T, results [][]byte, status sessionwire.Status) int {
	t.Helper()
	n := 0
	for _, b := range results {
		res, err := DecodeSessionResult(b)
		require.NoError(t, err)
		if res.Status == status {
			n++
		}
	}
	return n
}
