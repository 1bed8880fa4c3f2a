package raft

import "github.com/natsraft/natsraft/raft/wire"

// coalesceAcks merges the successful AppendEntries responses in envs that
// go to the same leader in the same term into one, carrying the highest
// match index and heartbeat round. A follower that persisted many
// AppendEntries in one write then acknowledges them with one message.
// Other messages keep their order; a merged acknowledgement takes the place
// of the last one it replaces.
func coalesceAcks(envs []Envelope) []Envelope {
	type key struct {
		to   string
		term uint64
	}
	var last map[key]int // index in envs of the last success per key
	for i, env := range envs {
		m, ok := env.Msg.(*wire.AppendEntriesResponse)
		if !ok || !m.Success {
			continue
		}
		if last == nil {
			last = make(map[key]int)
		}
		last[key{env.To, m.Term}] = i
	}
	if len(last) == 0 || len(last) == countAcks(envs) {
		return envs
	}
	out := envs[:0:0]
	for i, env := range envs {
		m, ok := env.Msg.(*wire.AppendEntriesResponse)
		if !ok || !m.Success {
			out = append(out, env)
			continue
		}
		k := key{env.To, m.Term}
		j := last[k]
		if i != j {
			// Fold this acknowledgement into the last one of its key.
			final := envs[j].Msg.(*wire.AppendEntriesResponse)
			final.MatchIndex = max(final.MatchIndex, m.MatchIndex)
			final.Seq = max(final.Seq, m.Seq)
			final.LastLogIndex = max(final.LastLogIndex, m.LastLogIndex)
			continue
		}
		out = append(out, env)
	}
	return out
}

func countAcks(envs []Envelope) int {
	n := 0
	for _, env := range envs {
		if m, ok := env.Msg.(*wire.AppendEntriesResponse); ok && m.Success {
			n++
		}
	}
	return n
}
