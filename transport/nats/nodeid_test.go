package natstransport

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

func TestCheckNodeIDFree(t *testing.T) {
	s := startServer(t, embedded.Options{})
	nc := connect(t, s)
	cfg := testConfig("n1", "n2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := CheckNodeIDFree(ctx, nc, cfg); err != nil {
		t.Fatalf("free id reported as taken: %v", err)
	}

	serverConn := connect(t, s)
	server, err := NewClientServer(serverConn, cfg, newFakeClient("n1"))
	if err != nil {
		t.Fatalf("new client server: %v", err)
	}
	t.Cleanup(func() { _ = server.Close() })
	// The server must have the subscriptions before the check.
	flush(t, serverConn)
	err = CheckNodeIDFree(ctx, nc, cfg)
	if !errors.Is(err, ErrNodeIDInUse) {
		t.Fatalf("id served by a running process: error %v, want ErrNodeIDInUse", err)
	}
	other := testConfig("n2", "n1")
	if err := CheckNodeIDFree(ctx, nc, other); err != nil {
		t.Fatalf("another id reported as taken: %v", err)
	}
}

func TestCheckNodeIDFreeWaitsForSilentSubscriber(t *testing.T) {
	s := startServer(t, embedded.Options{})
	nc := connect(t, s)
	cfg, err := testConfig("n1", "n2").withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	subject := nodeClientBase(cfg.Prefix, cfg.Cluster, cfg.Node) + "." + wire.SubjectStatus

	// A subscriber that never responds, like the one a killed process
	// leaves behind until the server removes it.
	silentConn := connect(t, s)
	silent, err := silentConn.Subscribe(subject, func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	// The server must have the subscription before the first request.
	flush(t, silentConn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err = CheckNodeIDFree(ctx, nc, cfg)
	cancel()
	if !errors.Is(err, ErrNodeIDInUse) || !strings.Contains(err.Error(), "start again in a few seconds") {
		t.Fatalf("silent subscriber for the whole check: error %v, want ErrNodeIDInUse with a hint to retry", err)
	}

	time.AfterFunc(600*time.Millisecond, func() { _ = silent.Unsubscribe() })
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := CheckNodeIDFree(ctx, nc, cfg); err != nil {
		t.Fatalf("subscriber gone during the check: %v, want nil", err)
	}
}
