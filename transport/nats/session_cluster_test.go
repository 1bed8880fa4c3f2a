package natstransport

import (
	"context"
	"testing"
	"time"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/storage/memory"
	"github.com/natsraft/natsraft/transport/nats/embedded"
)

// startSessionCluster starts three nodes whose key-value state machines run
// behind statemachine.WithSessions, and waits for a leader.
func startSessionCluster(t *testing.T, s *embedded.Server) {
	t.Helper()
	peers := []string{"n1", "n2", "n3"}
	nodes := make([]*raft.Node, 0, len(peers))
	for _, id := range peers {
		nc := connect(t, s)
		cfg := testConfig(id, peers...)
		tr, err := New(nc, cfg)
		if err != nil {
			t.Fatalf("transport %s: %v", id, err)
		}
		st := memory.NewStore()
		node, err := raft.NewNode(raft.Config{
			ID: id, Cluster: testCluster, Peers: peers,
			ElectionTimeout: 300 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond, Logger: quietLogger,
		}, statemachine.WithSessions(statemachine.NewKV(), statemachine.SessionOptions{}), st.Log, st.Stable, st.Snapshots, tr)
		if err != nil {
			t.Fatalf("node %s: %v", id, err)
		}
		server, err := ServeNode(nc, cfg, node)
		if err != nil {
			t.Fatalf("serve %s: %v", id, err)
		}
		t.Cleanup(func() {
			_ = server.Close()
			_ = node.Stop()
		})
		nodes = append(nodes, node)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, n := range nodes {
			if n.IsLeader() {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader within %s", waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSessionProposeLostReplyAppliedOnce drops the reply of the first
// attempt after the cluster applied it: the client sends the increment
// again with the same sequence number, and the counter ends at 1.
func TestSessionProposeLostReplyAppliedOnce(t *testing.T) {
	s := startServer(t, embedded.Options{})
	startSessionCluster(t, s)
	c, err := NewClient(connect(t, s), ClientConfig{Cluster: testCluster, Sessions: true, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	c.session.dropReply = func(seq uint64, attempt int) bool {
		if seq == 1 && attempt == 1 {
			dropped++
			return true
		}
		return false
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, index, err := c.Propose(ctx, statemachine.EncodeIncrement("counter", 1))
	if err != nil {
		t.Fatalf("increment: %v", err)
	}
	if dropped != 1 {
		t.Fatalf("the hook dropped %d replies, want 1", dropped)
	}
	res, err := statemachine.DecodeResult(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Value) != "1" {
		t.Errorf("increment returned %q after a lost reply, want 1", res.Value)
	}

	out, err := c.Read(ctx, statemachine.EncodeGet("counter"))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	res, err = statemachine.DecodeResult(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Value) != "1" || res.Revision != 1 {
		t.Errorf("counter is %q at revision %d, want 1 at revision 1: the retry was applied again", res.Value, res.Revision)
	}

	// The retry's reply names the index of the first application.
	raw, next, err := c.Propose(ctx, statemachine.EncodeIncrement("counter", 1))
	if err != nil {
		t.Fatalf("second increment: %v", err)
	}
	if res, _ := statemachine.DecodeResult(raw); string(res.Value) != "2" || next <= index {
		t.Errorf("second increment returned %q at index %d, want 2 at an index above %d", res.Value, next, index)
	}
}

func TestReadStaleFromEveryNode(t *testing.T) {
	s := startServer(t, embedded.Options{})
	startSessionCluster(t, s)
	c, err := NewClient(connect(t, s), ClientConfig{Cluster: testCluster, Sessions: true, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := c.Propose(ctx, statemachine.EncodePut("k", []byte("v"))); err != nil {
		t.Fatalf("put: %v", err)
	}

	for _, node := range []string{"n1", "n2", "n3"} {
		// A follower may not have applied the put yet.
		deadline := time.Now().Add(waitTimeout)
		for {
			read, err := c.ReadStale(ctx, node, statemachine.EncodeGet("k"))
			if err != nil {
				t.Fatalf("stale read from %s: %v", node, err)
			}
			if read.Node != node {
				t.Errorf("stale read from %s answered by %s", node, read.Node)
			}
			res, err := statemachine.DecodeResult(read.Result)
			if err != nil {
				t.Fatal(err)
			}
			if res.Found {
				if string(res.Value) != "v" || read.Index == 0 {
					t.Errorf("stale read from %s: %q at index %d, want v at a positive index", node, res.Value, read.Index)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s did not apply the put within %s", node, waitTimeout)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	read, err := c.ReadStale(ctx, "", statemachine.EncodeGet("k"))
	if err != nil {
		t.Fatalf("stale read from any node: %v", err)
	}
	if read.Node == "" {
		t.Error("stale read from any node did not name the node")
	}
	if _, err := c.ReadStale(ctx, "n9", statemachine.EncodeGet("k")); err == nil {
		t.Error("stale read from a node that does not run succeeded")
	}
}
