package natstransport

import (
	"bytes"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// newTransport creates and starts a transport on its own connection.
func newTransport(t *testing.T, s *embedded.Server, cfg Config) (*Transport, *recorder, *nats.Conn) {
	t.Helper()
	nc := connect(t, s)
	tr, err := New(nc, cfg)
	if err != nil {
		t.Fatalf("new transport %s: %v", cfg.Node, err)
	}
	rec := newRecorder()
	if err := tr.Start(rec); err != nil {
		t.Fatalf("start transport %s: %v", cfg.Node, err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	flush(t, nc)
	return tr, rec, nc
}

// peerMessages returns one message of every peer kind from "a" to "b".
func peerMessages() []wire.Message {
	const c, from, to = testCluster, "a", "b"
	return []wire.Message{
		&wire.VoteRequest{Cluster: c, From: from, To: to, Term: 3, LastLogIndex: 10, LastLogTerm: 2, PreVote: true, Transfer: true},
		&wire.VoteResponse{Cluster: c, From: from, To: to, Term: 3, Granted: true, PreVote: true},
		&wire.AppendEntriesRequest{Cluster: c, From: from, To: to, Term: 3, PrevLogIndex: 9, PrevLogTerm: 2, LeaderCommit: 8, Seq: 5,
			Entries: []wire.Entry{
				{Index: 10, Term: 3, Type: wire.EntryTypeCommand, Data: []byte("set x 1")},
				{Index: 11, Term: 3, Type: wire.EntryTypeNoop},
			}},
		&wire.AppendEntriesResponse{Cluster: c, From: from, To: to, Term: 3, Success: true, MatchIndex: 11, ConflictIndex: 4, ConflictTerm: 1, LastLogIndex: 11, Seq: 5},
		&wire.InstallSnapshotRequest{Cluster: c, From: from, To: to, Term: 3, LastIndex: 100, LastTerm: 2,
			Configuration: wire.Configuration{Voters: []string{"a", "b", "c"}}, Offset: 4096, Data: []byte("chunk"), Done: true},
		&wire.InstallSnapshotResponse{Cluster: c, From: from, To: to, Term: 3, Success: true, NextOffset: 4101, LastIndex: 100},
		&wire.TimeoutNowRequest{Cluster: c, From: from, To: to, Term: 3},
	}
}

func TestTransportDeliversEveryKind(t *testing.T) {
	s := startServer(t, embedded.Options{})
	a, _, _ := newTransport(t, s, testConfig("a", "b"))
	b, recB, _ := newTransport(t, s, testConfig("b", "a"))

	msgs := peerMessages()
	for _, m := range msgs {
		if err := a.Send("b", m); err != nil {
			t.Fatalf("send %v: %v", m.Kind(), err)
		}
	}
	if err := a.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	for _, want := range msgs {
		got := recB.next(t)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("received %v %+v, want %+v", got.Kind(), got, want)
		}
	}

	if got := a.Stats().Sent; got != uint64(len(msgs)) {
		t.Errorf("sender stats: sent %d, want %d", got, len(msgs))
	}
	if got := b.Stats().Received; got != uint64(len(msgs)) {
		t.Errorf("receiver stats: received %d, want %d", got, len(msgs))
	}
}

func TestTransportRepliesReachSender(t *testing.T) {
	s := startServer(t, embedded.Options{})
	_, recA, _ := newTransport(t, s, testConfig("a", "b"))
	b, _, _ := newTransport(t, s, testConfig("b", "a"))

	resp := &wire.AppendEntriesResponse{Cluster: testCluster, From: "b", To: "a", Term: 1, Success: true, MatchIndex: 4}
	if err := b.Send("a", resp); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := recA.next(t); !reflect.DeepEqual(got, resp) {
		t.Fatalf("received %+v, want %+v", got, resp)
	}
}

func TestTransportDropsForeignTraffic(t *testing.T) {
	s := startServer(t, embedded.Options{})
	b, recB, _ := newTransport(t, s, testConfig("b", "a"))
	raw := connect(t, s)

	vote := func(cluster, from, to string) []byte {
		return (&wire.VoteRequest{Cluster: cluster, From: from, To: to, Term: 1}).Marshal()
	}
	valid := (&wire.AppendEntriesRequest{Cluster: testCluster, From: "a", To: "b", Term: 1,
		Entries: []wire.Entry{{Index: 1, Term: 1, Data: []byte("payload")}}}).Marshal()

	base := "natsraft." + testCluster + ".b."
	publish := []struct {
		subject string
		data    []byte
	}{
		{base + "vote", vote("other", "a", "b")},          // wrong cluster
		{base + "vote", vote(testCluster, "z", "b")},      // unknown sender
		{base + "vote", vote(testCluster, "a", "c")},      // wrong recipient
		{base + "append", []byte{0xc1, 0xff, 0x00, 0x13}}, // garbage
		{base + "append", valid[:len(valid)-3]},           // truncated
		{base + "bogus", vote(testCluster, "a", "b")},     // unknown subject
		{base + "vote.resp.extra", []byte{0x80}},          // unknown subject
		{base + "client.propose", []byte{0x80}},           // the ClientServer's, ignored
	}
	for _, p := range publish {
		if err := raw.Publish(p.subject, p.data); err != nil {
			t.Fatalf("publish %s: %v", p.subject, err)
		}
	}
	// NATS keeps one publisher's order on one subscription, so once this
	// message arrives every message above has been handled.
	sentinel := &wire.TimeoutNowRequest{Cluster: testCluster, From: "a", To: "b", Term: 9}
	if err := raw.Publish(base+"timeout_now", sentinel.Marshal()); err != nil {
		t.Fatalf("publish sentinel: %v", err)
	}
	if got := recB.next(t); !reflect.DeepEqual(got, sentinel) {
		t.Fatalf("first delivered message %+v, want the sentinel %+v", got, sentinel)
	}

	st := b.Stats()
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"received", st.Received, 1},
		{"wrong cluster", st.DroppedWrongCluster, 1},
		{"unknown sender", st.DroppedUnknownSender, 1},
		{"wrong recipient", st.DroppedWrongRecipient, 1},
		{"malformed", st.DroppedMalformed, 2},
		{"unknown subject", st.DroppedUnknownSubject, 2},
		{"slow consumer", st.DroppedSlowConsumer, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestTransportSetPeers(t *testing.T) {
	s := startServer(t, embedded.Options{})
	a, _, ncA := newTransport(t, s, testConfig("a", "b"))
	b, recB, _ := newTransport(t, s, testConfig("b", "a"))

	b.SetPeers([]string{"c"})
	if err := a.Send("b", &wire.TimeoutNowRequest{Cluster: testCluster, From: "a", To: "b", Term: 1}); err != nil {
		t.Fatalf("send: %v", err)
	}
	// A message from the new peer c, published on the same connection, is
	// handled after a's.
	fromC := &wire.TimeoutNowRequest{Cluster: testCluster, From: "c", To: "b", Term: 2}
	if err := ncA.Publish("natsraft.c1.b.timeout_now", fromC.Marshal()); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if got := recB.next(t).(*wire.TimeoutNowRequest); got.From != "c" {
		t.Fatalf("delivered a message from %q, want only c's", got.From)
	}
	if got := b.Stats().DroppedUnknownSender; got != 1 {
		t.Fatalf("dropped unknown sender: %d, want 1", got)
	}
}

func TestTransportRejectsOversize(t *testing.T) {
	s := startServer(t, embedded.Options{MaxPayload: 8192})
	big := func(n int) wire.Message {
		return &wire.InstallSnapshotRequest{Cluster: testCluster, From: "a", To: "b", Data: make([]byte, n)}
	}

	cfg := testConfig("a", "b")
	cfg.MaxPayload = 1024
	small, _, _ := newTransport(t, s, cfg)
	if err := small.Send("b", big(2000)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("send 2000 bytes with max payload 1024: %v, want ErrMessageTooLarge", err)
	}
	if err := small.Send("b", big(500)); err != nil {
		t.Fatalf("send 500 bytes with max payload 1024: %v", err)
	}

	// Without a configured limit the server's applies.
	server, _, _ := newTransport(t, s, testConfig("b", "a"))
	if got := server.MaxPayload(); got != 8192 {
		t.Fatalf("max payload %d, want the server's 8192", got)
	}
	if err := server.Send("a", big(9000)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("send 9000 bytes to a server limited to 8192: %v, want ErrMessageTooLarge", err)
	}

	// A configured limit above the server's is caught by nats.go.
	cfg = testConfig("c", "a")
	cfg.MaxPayload = 1 << 20
	loose, _, _ := newTransport(t, s, cfg)
	err := loose.Send("a", big(9000))
	if !errors.Is(err, ErrMessageTooLarge) || !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("send 9000 bytes past the server's limit: %v, want ErrMessageTooLarge and nats.ErrMaxPayload", err)
	}
	if got := loose.Stats().SendErrors; got != 1 {
		t.Fatalf("send errors %d, want 1", got)
	}
}

func TestTransportSendErrors(t *testing.T) {
	s := startServer(t, embedded.Options{})
	a, _, _ := newTransport(t, s, testConfig("a", "b"))

	if err := a.Send("b.x", &wire.TimeoutNowRequest{}); err == nil {
		t.Error("send to a recipient id with a dot: want error")
	}
	if err := a.Send("client", &wire.TimeoutNowRequest{}); err == nil {
		t.Error("send to the reserved id client: want error")
	}
	if err := a.Send("b", &wire.ProposeRequest{}); err == nil {
		t.Error("send a client message as a peer message: want error")
	}
	if err := a.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := a.Send("b", &wire.TimeoutNowRequest{}); !errors.Is(err, ErrClosed) {
		t.Errorf("send after close: %v, want ErrClosed", err)
	}
	if err := a.Start(newRecorder()); !errors.Is(err, ErrClosed) {
		t.Errorf("start after close: %v, want ErrClosed", err)
	}
}

func TestTransportCloseStopsDelivery(t *testing.T) {
	s := startServer(t, embedded.Options{})
	a, _, _ := newTransport(t, s, testConfig("a", "b"))
	b, recB, ncB := newTransport(t, s, testConfig("b", "a"))

	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// A subscription on the same subject shows the message went out.
	probe, err := ncB.SubscribeSync("natsraft.c1.b.timeout_now")
	if err != nil {
		t.Fatalf("subscribe probe: %v", err)
	}
	flush(t, ncB)
	if err := a.Send("b", &wire.TimeoutNowRequest{Cluster: testCluster, From: "a", To: "b"}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if _, err := probe.NextMsg(waitTimeout); err != nil {
		t.Fatalf("probe: %v", err)
	}
	select {
	case m := <-recB.msgs:
		t.Fatalf("closed transport delivered %+v", m)
	default:
	}
	if ncB.IsClosed() {
		t.Fatal("transport closed the caller's connection")
	}
}

func TestTransportStartTwice(t *testing.T) {
	s := startServer(t, embedded.Options{})
	a, _, _ := newTransport(t, s, testConfig("a", "b"))
	if err := a.Start(newRecorder()); err == nil {
		t.Fatal("second start: want error")
	}
}

func TestTransportConcurrentSend(t *testing.T) {
	s := startServer(t, embedded.Options{})
	a, _, _ := newTransport(t, s, testConfig("a", "b", "c"))
	_, recB, _ := newTransport(t, s, testConfig("b", "a"))
	_, recC, _ := newTransport(t, s, testConfig("c", "a"))

	const perPeer = 200
	var wg sync.WaitGroup
	for _, peer := range []string{"b", "c"} {
		wg.Go(func() {
			for i := range perPeer {
				m := &wire.AppendEntriesRequest{Cluster: testCluster, From: "a", To: peer, Term: 1, Seq: uint64(i),
					Entries: []wire.Entry{{Index: uint64(i + 1), Term: 1, Data: bytes.Repeat([]byte{byte(i)}, i)}}}
				if err := a.Send(peer, m); err != nil {
					t.Errorf("send to %s: %v", peer, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, rec := range []*recorder{recB, recC} {
		for i := range perPeer {
			m := rec.next(t).(*wire.AppendEntriesRequest)
			// One publisher's messages arrive in order.
			if m.Seq != uint64(i) || len(m.Entries[0].Data) != i {
				t.Fatalf("message %d: seq %d with %d data bytes", i, m.Seq, len(m.Entries[0].Data))
			}
		}
	}
}

func TestTransportDropLogRateLimited(t *testing.T) {
	s := startServer(t, embedded.Options{})
	var buf syncBuffer
	cfg := testConfig("b", "a")
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	b, recB, _ := newTransport(t, s, cfg)
	raw := connect(t, s)

	for range 10 {
		if err := raw.Publish("natsraft.c1.b.append", []byte{0xc1}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	sentinel := &wire.TimeoutNowRequest{Cluster: testCluster, From: "a", To: "b"}
	if err := raw.Publish("natsraft.c1.b.timeout_now", sentinel.Marshal()); err != nil {
		t.Fatalf("publish: %v", err)
	}
	recB.next(t)

	if got := b.Stats().DroppedMalformed; got != 10 {
		t.Fatalf("dropped malformed %d, want 10", got)
	}
	if n := strings.Count(buf.String(), "dropped message"); n != 1 {
		t.Fatalf("%d log lines for 10 drops within the interval, want 1:\n%s", n, buf.String())
	}
}

func TestConfigValidation(t *testing.T) {
	s := startServer(t, embedded.Options{})
	nc := connect(t, s)
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing cluster", Config{Node: "a"}, "missing cluster"},
		{"missing node", Config{Cluster: "c"}, "missing node"},
		{"dot in node", Config{Cluster: "c", Node: "a.b"}, `invalid node id "a.b"`},
		{"wildcard in cluster", Config{Cluster: "c*", Node: "a"}, `invalid cluster id "c*"`},
		{"reserved node", Config{Cluster: "c", Node: "client"}, "reserved"},
		{"reserved peer", Config{Cluster: "c", Node: "a", Peers: []string{"client"}}, "reserved"},
		{"space in peer", Config{Cluster: "c", Node: "a", Peers: []string{"b c"}}, `invalid peer id "b c"`},
		{"empty prefix token", Config{Prefix: "acme..raft", Cluster: "c", Node: "a"}, "invalid subject prefix"},
		{"wildcard prefix", Config{Prefix: "acme.>", Cluster: "c", Node: "a"}, "invalid subject prefix"},
		{"negative max payload", Config{Cluster: "c", Node: "a", MaxPayload: -1}, "invalid max payload"},
		{"negative pending", Config{Cluster: "c", Node: "a", PendingBytes: -2}, "invalid pending limits"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(nc, c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}

	if _, err := New(nc, Config{Prefix: "acme.raft-1", Cluster: "c_1", Node: "n-1"}); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if _, err := New(nil, Config{Cluster: "c", Node: "a"}); err == nil {
		t.Fatal("nil connection: want error")
	}
}

func TestTransportCustomPrefix(t *testing.T) {
	s := startServer(t, embedded.Options{})
	cfgA, cfgB := testConfig("a", "b"), testConfig("b", "a")
	cfgA.Prefix, cfgB.Prefix = "acme.raft", "acme.raft"
	a, _, _ := newTransport(t, s, cfgA)
	_, recB, ncB := newTransport(t, s, cfgB)

	probe, err := ncB.SubscribeSync("acme.raft.c1.b.vote")
	if err != nil {
		t.Fatalf("subscribe probe: %v", err)
	}
	flush(t, ncB)
	want := &wire.VoteRequest{Cluster: testCluster, From: "a", To: "b", Term: 4}
	if err := a.Send("b", want); err != nil {
		t.Fatalf("send: %v", err)
	}
	if _, err := probe.NextMsg(waitTimeout); err != nil {
		t.Fatalf("no message on acme.raft.c1.b.vote: %v", err)
	}
	if got := recB.next(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("received %+v, want %+v", got, want)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
