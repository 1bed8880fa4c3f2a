package natstransport

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// Errors returned by the transport and the client server.
var (
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("natstransport: closed")
	// ErrMessageTooLarge is returned by Send for a message larger than the
	// max payload. The caller sends fewer entries per message, or smaller
	// snapshot chunks.
	ErrMessageTooLarge = errors.New("natstransport: message larger than max payload")
)

// maxPooledBuffer is the largest encode buffer kept for reuse, so one large
// snapshot chunk does not pin its buffer for the life of the process.
const maxPooledBuffer = 1 << 20

var _ raft.Transport = (*Transport)(nil)

// Transport carries Raft peer messages over core NATS. It publishes each
// message to "<prefix>.<cluster>.<to>.<suffix>" and receives on
// "<prefix>.<cluster>.<node>.>", where the suffix comes from the wire schema
// ("append", "append.resp", "vote", ...).
//
// Send, Flush, SetPeers, MaxPayload and Stats are safe for concurrent use.
type Transport struct {
	nc   *nats.Conn
	cfg  Config
	log  *slog.Logger
	base string // "<prefix>.<cluster>.<node>."
	// broadcastBase is "<prefix>.<cluster>.all.", the root of the subjects
	// of messages to every node.
	broadcastBase string

	// peers is the set of accepted senders, replaced whole by SetPeers.
	peers atomic.Pointer[map[string]struct{}]
	// subjects caches outgoing subjects by recipient and kind. The map is
	// never modified after it is stored; subjectsMu serializes the writers
	// that replace it.
	subjects   atomic.Pointer[map[subjectKey]string]
	subjectsMu sync.Mutex

	bufs sync.Pool // *[]byte encode buffers

	closed atomic.Bool
	mu     sync.Mutex // guards sub, broadcastSub and finalDropped
	sub    *nats.Subscription
	// broadcastSub receives the messages sent to every node.
	broadcastSub *nats.Subscription
	// finalDropped is the subscription's slow-consumer drop count at Close.
	finalDropped uint64

	counters counters
	drops    dropLog
}

type subjectKey struct {
	to   string
	kind wire.Kind
}

// counters are the transport's statistics, updated atomically.
type counters struct {
	sent, sendErrors, received                                    atomic.Uint64
	malformed, unknownSubject, wrongCluster, wrongTo, unknownFrom atomic.Uint64
}

// Stats are a transport's counters since New.
type Stats struct {
	// Sent is the number of messages handed to the connection.
	Sent uint64
	// SendErrors is the number of Send calls that failed.
	SendErrors uint64
	// Received is the number of messages passed to the handler.
	Received uint64
	// DroppedMalformed counts received messages that failed to decode.
	DroppedMalformed uint64
	// DroppedUnknownSubject counts messages on a subject the schema does
	// not define.
	DroppedUnknownSubject uint64
	// DroppedWrongCluster counts messages whose cluster id is not ours.
	DroppedWrongCluster uint64
	// DroppedWrongRecipient counts messages whose recipient id is not this
	// node.
	DroppedWrongRecipient uint64
	// DroppedUnknownSender counts messages from a node not in the peer set.
	DroppedUnknownSender uint64
	// DroppedSlowConsumer counts messages NATS discarded because the
	// subscription's pending limits were reached.
	DroppedSlowConsumer uint64
}

// New returns a transport for the node cfg.Node on the caller's connection.
// It does not subscribe until Start. The caller keeps ownership of nc:
// the transport never closes it.
func New(nc *nats.Conn, cfg Config) (*Transport, error) {
	if nc == nil {
		return nil, errors.New("natstransport: nil connection: pass a connected *nats.Conn")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Transport{
		nc:   nc,
		cfg:  cfg,
		log:  cfg.Logger.With("node", cfg.Node, "cluster", cfg.Cluster),
		base: nodeBase(cfg.Prefix, cfg.Cluster, cfg.Node) + ".",

		broadcastBase: nodeBase(cfg.Prefix, cfg.Cluster, broadcastToken) + ".",
	}
	t.drops.log = t.log
	t.SetPeers(cfg.Peers)
	empty := map[subjectKey]string{}
	t.subjects.Store(&empty)
	return t, nil
}

// SetPeers replaces the set of node ids whose messages are accepted. Call it
// when the cluster's membership changes. Ids that are not valid node ids
// never match a sender.
func (t *Transport) SetPeers(peers []string) {
	set := make(map[string]struct{}, len(peers))
	for _, p := range peers {
		set[p] = struct{}{}
	}
	t.peers.Store(&set)
}

// Start subscribes to this node's peer subjects and to the cluster's
// broadcast subjects, and passes each accepted message to h. NATS calls h
// from one goroutine per subscription, so h must be safe for two concurrent
// calls. Byte slices in a message (entry data, snapshot chunks)
// belong to that message alone, so h may keep them.
func (t *Transport) Start(h wire.PeerHandler) error {
	if h == nil {
		return errors.New("natstransport: start: nil handler")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return ErrClosed
	}
	if t.sub != nil {
		return errors.New("natstransport: start: already started")
	}

	sub, err := t.subscribe(t.base, &filter{t: t, h: h, base: t.base})
	if err != nil {
		return err
	}
	bsub, err := t.subscribe(t.broadcastBase, &filter{t: t, h: h, base: t.broadcastBase, broadcast: true})
	if err != nil {
		_ = sub.Unsubscribe()
		return err
	}
	t.sub, t.broadcastSub = sub, bsub
	subject := t.base + ">"
	t.log.Info("transport started", "subject", subject)
	return nil
}

// subscribe subscribes to every subject under base and hands the messages
// to f, with the configured pending limits.
func (t *Transport) subscribe(base string, f *filter) (*nats.Subscription, error) {
	subject := base + ">"
	sub, err := t.nc.Subscribe(subject, func(m *nats.Msg) { t.receive(m, f) })
	if err != nil {
		return nil, fmt.Errorf("natstransport: subscribe to %s: %w", subject, err)
	}
	if err := sub.SetPendingLimits(t.cfg.PendingMessages, t.cfg.PendingBytes); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("natstransport: set pending limits on %s: %w", subject, err)
	}
	return sub, nil
}

// receive decodes and dispatches one message from a peer subscription.
func (t *Transport) receive(m *nats.Msg, f *filter) {
	if t.closed.Load() {
		return
	}
	suffix := strings.TrimPrefix(m.Subject, f.base)
	// The node's client subjects "<node>.client.<suffix>" match the peer
	// wildcard too. They belong to the ClientServer, so they are skipped
	// here without counting.
	if strings.HasPrefix(suffix, clientToken+".") {
		return
	}
	err := wire.DispatchPeerWithLimits(suffix, m.Data, t.decodeLimits(), f)
	switch {
	case err == nil:
	case errors.Is(err, wire.ErrUnknownSubject):
		t.counters.unknownSubject.Add(1)
		t.drops.report(reasonUnknownSubject, "subject", m.Subject, "error", err)
	default:
		t.counters.malformed.Add(1)
		t.drops.report(reasonMalformed, "subject", m.Subject, "size", len(m.Data), "error", err)
	}
}

// Send publishes msg to the node to. It returns once the message is in the
// connection's write buffer, which nats.go's flusher goroutine writes to the
// network.
//
// NOTE: nats.go (v1.56.0) writes to the socket inside Publish when its write
// buffer passes its limit (32 KiB by default), so a large message or a burst
// can make Send wait for the network.
func (t *Transport) Send(to string, msg wire.Message) error {
	if t.closed.Load() {
		return ErrClosed
	}
	subject, err := t.subject(to, msg.Kind())
	if err != nil {
		t.counters.sendErrors.Add(1)
		return err
	}
	size := msg.Size()
	if limit := t.MaxPayload(); size > limit {
		t.counters.sendErrors.Add(1)
		return fmt.Errorf("natstransport: send to %s on %s: %d bytes exceed the max payload of %d bytes: %w",
			to, subject, size, limit, ErrMessageTooLarge)
	}

	bp, _ := t.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	data := msg.MarshalAppend((*bp)[:0])
	// Publish copies data into the connection's buffer, so the encode
	// buffer can be reused as soon as it returns.
	err = t.nc.Publish(subject, data)
	if cap(data) <= maxPooledBuffer {
		*bp = data[:0]
		t.bufs.Put(bp)
	}
	if err != nil {
		t.counters.sendErrors.Add(1)
		if errors.Is(err, nats.ErrMaxPayload) {
			return fmt.Errorf("natstransport: send to %s on %s: %d bytes: %w: %w", to, subject, len(data), ErrMessageTooLarge, err)
		}
		return fmt.Errorf("natstransport: send to %s on %s: %w", to, subject, err)
	}
	t.counters.sent.Add(1)
	return nil
}

// Broadcast publishes msg once on "<prefix>.<cluster>.all.<suffix>", from
// where NATS delivers it to every node of the cluster. msg's To field must
// be empty; each receiver accepts it as addressed to itself. It implements
// raft.Broadcaster.
func (t *Transport) Broadcast(msg wire.Message) error {
	return t.Send(broadcastToken, msg)
}

// subject returns the subject for a message of kind to node to, building and
// caching it on first use.
func (t *Transport) subject(to string, kind wire.Kind) (string, error) {
	key := subjectKey{to: to, kind: kind}
	if s, ok := (*t.subjects.Load())[key]; ok {
		return s, nil
	}

	if to != broadcastToken {
		if err := validateNodeID("recipient", to); err != nil {
			return "", err
		}
	}
	suffix, ok := wire.PeerSubject(kind)
	if !ok {
		return "", fmt.Errorf("natstransport: send to %s: message kind %v is not a peer message", to, kind)
	}
	s := nodeBase(t.cfg.Prefix, t.cfg.Cluster, to) + "." + suffix

	t.subjectsMu.Lock()
	defer t.subjectsMu.Unlock()
	old := *t.subjects.Load()
	next := make(map[subjectKey]string, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = s
	t.subjects.Store(&next)
	return s, nil
}

// MaxPayload returns the largest encoded message Send accepts, in bytes:
// Config.MaxPayload if set, else the connected server's limit.
func (t *Transport) MaxPayload() int {
	if t.cfg.MaxPayload > 0 {
		return t.cfg.MaxPayload
	}
	return int(t.nc.MaxPayload())
}

// Flush does nothing and returns nil. Every Send already wakes nats.go's
// flusher goroutine, which writes all buffered messages in one write.
//
// nats.go (v1.56.0) offers no exported way to push its write buffer out
// without a round trip: Conn.Flush and Conn.FlushTimeout send PING and wait
// for the server's PONG. Waiting for that after each batch would add a round
// trip to every replication step without making delivery more certain, since
// core NATS does not acknowledge messages to their publisher.
func (t *Transport) Flush() error {
	return nil
}

// Close unsubscribes from the peer subjects. After Close, Send returns
// ErrClosed and no new message reaches the handler, but a handler call in
// progress may still be running when Close returns. Close does not close
// the connection. It is safe to call more than once.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Swap(true) {
		return nil
	}
	if t.sub == nil {
		return nil
	}
	t.finalDropped = t.droppedLocked()
	err := errors.Join(t.sub.Unsubscribe(), t.broadcastSub.Unsubscribe())
	t.sub, t.broadcastSub = nil, nil
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("natstransport: close: unsubscribe: %w", err)
	}
	t.log.Info("transport closed")
	return nil
}

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	s := Stats{
		Sent:                  t.counters.sent.Load(),
		SendErrors:            t.counters.sendErrors.Load(),
		Received:              t.counters.received.Load(),
		DroppedMalformed:      t.counters.malformed.Load(),
		DroppedUnknownSubject: t.counters.unknownSubject.Load(),
		DroppedWrongCluster:   t.counters.wrongCluster.Load(),
		DroppedWrongRecipient: t.counters.wrongTo.Load(),
		DroppedUnknownSender:  t.counters.unknownFrom.Load(),
	}
	t.mu.Lock()
	s.DroppedSlowConsumer = t.finalDropped
	if t.sub != nil {
		s.DroppedSlowConsumer = t.droppedLocked()
	}
	t.mu.Unlock()
	return s
}

// droppedLocked returns the slow-consumer drops of both subscriptions; the
// caller holds t.mu and the subscriptions are open.
func (t *Transport) droppedLocked() uint64 {
	var total uint64
	for _, sub := range []*nats.Subscription{t.sub, t.broadcastSub} {
		if n, err := sub.Dropped(); err == nil {
			total += uint64(n)
		}
	}
	return total
}

// decodeLimits bounds what decoding one received message may take: its
// size is at most the max payload, and its decoded lists at most
// decodeAllocFactor times that.
func (t *Transport) decodeLimits() wire.Limits {
	max := t.MaxPayload()
	return wire.Limits{MaxSize: max, MaxAlloc: decodeAllocFactor * max}
}

// decodeAllocFactor is the memory a decode may allocate per byte of the
// max payload. A wire.Entry takes 56 bytes in memory (64-bit platforms) and
// as little as 1 byte on the wire (an empty map), so a hostile list of
// empty entries could allocate 56 bytes per input byte. Real entries carry an index, term and time (about 25 bytes for an
// empty no-op), so a batch of them allocates at most about 2.3 bytes per
// byte; 8 leaves room for them and bounds the hostile case.
const decodeAllocFactor = 8
