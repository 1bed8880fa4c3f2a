package embedded

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestStartRandomPort(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer s.Shutdown()

	url := s.ClientURL()
	if url == "" || url == "nats://127.0.0.1:0" || url == "nats://127.0.0.1:4222" {
		t.Fatalf("client url %q: want a random port on 127.0.0.1", url)
	}

	// A TCP connection and an in-process connection see each other.
	tcp, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("tcp connect to %s: %v", url, err)
	}
	defer tcp.Close()
	inproc, err := s.Connect()
	if err != nil {
		t.Fatalf("in-process connect: %v", err)
	}
	defer inproc.Close()

	sub, err := inproc.SubscribeSync("greet")
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := inproc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if err := tcp.Publish("greet", []byte("hello")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("next msg: %v", err)
	}
	if string(msg.Data) != "hello" {
		t.Fatalf("got %q, want %q", msg.Data, "hello")
	}
}

func TestStartNoListener(t *testing.T) {
	s, err := Start(Options{Port: NoListener})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer s.Shutdown()

	if url := s.ClientURL(); url != "" {
		t.Fatalf("client url %q: want empty without a listener", url)
	}
	nc, err := s.Connect()
	if err != nil {
		t.Fatalf("in-process connect: %v", err)
	}
	defer nc.Close()
	if _, err := nc.RTT(); err != nil {
		t.Fatalf("rtt: %v", err)
	}
}

func TestStartMaxPayload(t *testing.T) {
	s, err := Start(Options{MaxPayload: 4096, Port: NoListener})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer s.Shutdown()

	nc, err := s.Connect()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	if got := nc.MaxPayload(); got != 4096 {
		t.Fatalf("max payload %d, want 4096", got)
	}
	if err := nc.Publish("x", make([]byte, 5000)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("publish 5000 bytes: %v, want ErrMaxPayload", err)
	}
}

func TestStartInvalidOptions(t *testing.T) {
	if _, err := Start(Options{Port: -2}); err == nil {
		t.Fatal("port -2: want error")
	}
	if _, err := Start(Options{MaxPayload: -1}); err == nil {
		t.Fatal("max payload -1: want error")
	}
}

func TestStartLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	s, err := Start(Options{Port: NoListener, Logger: log})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	s.Shutdown()
	if !bytes.Contains(buf.Bytes(), []byte("Server is ready")) {
		t.Fatalf("log output lacks the ready notice:\n%s", buf.String())
	}
}

func TestConnectAfterShutdown(t *testing.T) {
	s, err := Start(Options{Port: NoListener})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	s.Shutdown()
	if _, err := s.Connect(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("connect after shutdown: %v, want ErrNotRunning", err)
	}
}
