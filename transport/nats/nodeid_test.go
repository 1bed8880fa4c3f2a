package natstransport

import (
	"context"
	"errors"
	"testing"
	"time"

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

	server, err := NewClientServer(connect(t, s), cfg, newFakeClient("n1"))
	if err != nil {
		t.Fatalf("new client server: %v", err)
	}
	t.Cleanup(func() { _ = server.Close() })
	flush(t, nc)
	err = CheckNodeIDFree(ctx, nc, cfg)
	if !errors.Is(err, ErrNodeIDInUse) {
		t.Fatalf("id served by a running process: error %v, want ErrNodeIDInUse", err)
	}
	other := testConfig("n2", "n1")
	if err := CheckNodeIDFree(ctx, nc, other); err != nil {
		t.Fatalf("another id reported as taken: %v", err)
	}
}
