package raft

import (
	"github.com/natsraft/natsraft/raft/wire"
)

// stream is the replication stream to one follower: it fills AppendEntries
// envelopes with entries from the log, splits them by bytes, and publishes
// them without waiting for acknowledgements. The core bounds how many
// envelopes are in flight.
type stream struct {
	n     *Node
	peer  string
	queue chan Envelope
	// dropped counts envelopes dropped on a full queue. It is nil when
	// metrics are off.
	dropped Counter
}

func newStream(n *Node, peer string) *stream {
	return &stream{n: n, peer: peer, queue: make(chan Envelope, 2*n.cfg.MaxInflightMessages+16), dropped: n.metrics.droppedCounter(peer)}
}

// enqueue queues env without blocking the node loop. A full queue drops
// env, which Raft treats as a lost message: the follower's next response
// or the next heartbeat makes the leader resend.
func (s *stream) enqueue(env Envelope) {
	select {
	case s.queue <- env:
	default:
		if s.dropped != nil {
			s.dropped.Add(1)
		}
		s.n.log.Debug("replication queue full, dropping append", "peer", s.peer, "index", env.Lo)
	}
}

func (s *stream) run() {
	defer s.n.wg.Done()
	for {
		var env Envelope
		select {
		case env = <-s.queue:
		case <-s.n.stopped:
			return
		}
		s.publish(env)
	drain:
		for {
			select {
			case env = <-s.queue:
				s.publish(env)
			default:
				break drain
			}
		}
		s.n.flushTransport()
	}
}

// publish sends the entries [env.Lo, env.Hi) as one or more AppendEntries
// of at most MaxBytesPerMessage each.
func (s *stream) publish(env Envelope) {
	tmpl := env.Msg.(*wire.AppendEntriesRequest)
	prev, prevTerm := tmpl.PrevLogIndex, tmpl.PrevLogTerm
	budget := s.n.cfg.MaxBytesPerMessage - tmpl.Size() - 16
	for lo := env.Lo; lo < env.Hi; {
		ents, err := s.n.readEntries(lo, env.Hi, budget)
		if err != nil {
			s.n.log.Debug("read entries for replication", "peer", s.peer, "index", lo, "err", err)
			return
		}
		last := ents[len(ents)-1]
		// A leader never truncates its own log, and the node loop clears
		// leaderTerm before it applies a truncation. So if this node still
		// leads in the envelope's term after the read, the entries read are
		// that leader's log. Otherwise the envelope is stale and is dropped.
		if s.n.leaderTerm.Load() != tmpl.Term || (last.Index == env.Hi-1 && last.Term != env.HiTerm) {
			return
		}
		m := *tmpl
		m.PrevLogIndex, m.PrevLogTerm = prev, prevTerm
		m.Entries = ents
		err = s.send(&m)
		s.n.metrics.messageSent(m.Kind(), err)
		if err != nil {
			s.n.log.Debug("send append", "peer", s.peer, "index", lo, "err", err)
			return
		}
		prev, prevTerm = last.Index, last.Term
		lo = last.Index + 1
	}
}

// send hands m to the transport: to every follower at once on the
// broadcast stream, to s.peer otherwise.
func (s *stream) send(m *wire.AppendEntriesRequest) error {
	if s.peer == BroadcastTo {
		return s.n.broadcaster.Broadcast(m)
	}
	return s.n.tr.Send(s.peer, m)
}
