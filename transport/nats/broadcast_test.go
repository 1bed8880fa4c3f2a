package natstransport

import (
	"reflect"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

func TestBroadcastReachesEveryOtherNode(t *testing.T) {
	s := startServer(t, embedded.Options{})
	a, recA, _ := newTransport(t, s, testConfig("a", "b", "c"))
	_, recB, _ := newTransport(t, s, testConfig("b", "a", "c"))
	_, recC, _ := newTransport(t, s, testConfig("c", "a", "b"))

	msg := &wire.AppendEntriesRequest{Cluster: testCluster, From: "a", Term: 2, PrevLogIndex: 4, PrevLogTerm: 1,
		Entries: []wire.Entry{{Index: 5, Term: 2, Data: []byte("x")}}}
	if err := a.Broadcast(msg); err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	for name, rec := range map[string]*recorder{"b": recB, "c": recC} {
		if got := rec.next(t); !reflect.DeepEqual(got, msg) {
			t.Errorf("%s received %+v, want %+v", name, got, msg)
		}
	}
	select {
	case got := <-recA.msgs:
		t.Errorf("the sender received its own broadcast: %+v", got)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestBroadcastSubjectRejectsAddressedMessages(t *testing.T) {
	s := startServer(t, embedded.Options{})
	b, recB, _ := newTransport(t, s, testConfig("b", "a"))
	raw := connect(t, s)
	subject := "natsraft." + testCluster + ".all.append"
	addressed := &wire.AppendEntriesRequest{Cluster: testCluster, From: "a", To: "c", Term: 1}
	if err := raw.Publish(subject, addressed.Marshal()); err != nil {
		t.Fatalf("publish: %v", err)
	}
	sentinel := &wire.AppendEntriesRequest{Cluster: testCluster, From: "a", Term: 7}
	if err := raw.Publish(subject, sentinel.Marshal()); err != nil {
		t.Fatalf("publish sentinel: %v", err)
	}
	if got := recB.next(t); !reflect.DeepEqual(got, sentinel) {
		t.Fatalf("first delivered message %+v, want the sentinel %+v", got, sentinel)
	}
	if got := b.Stats().DroppedWrongRecipient; got != 1 {
		t.Errorf("wrong recipient drops: %d, want 1", got)
	}
}

func TestNodeIDAllIsReserved(t *testing.T) {
	s := startServer(t, embedded.Options{})
	if _, err := New(connect(t, s), testConfig("all", "a")); err == nil {
		t.Fatal("New accepted the reserved node id \"all\"")
	}
}
