package natstransport

import (
	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
)

// ServeNode serves the client requests of node on nc: it starts a
// ClientServer backed by raft.NewClientService(node) and subscribes to the
// cluster's propose, batch and read subjects while node is leader. Close the
// returned server to stop; it does not stop the node.
func ServeNode(nc *nats.Conn, cfg Config, node *raft.Node) (*ClientServer, error) {
	s, err := NewClientServer(nc, cfg, raft.NewClientService(node))
	if err != nil {
		return nil, err
	}
	events, stop := node.Subscribe(64)
	s.followLeadership(events, stop, node.IsLeader)
	return s, nil
}
