package raft

import "github.com/natsraft/natsraft/raft/wire"

// Transport carries peer messages between the nodes of one cluster.
type Transport interface {
	// Start begins delivering received peer messages to h. Messages that are
	// malformed, from another cluster or from an unknown sender are dropped
	// (and counted) by the transport before they reach h.
	Start(h wire.PeerHandler) error
	// Send queues msg for delivery to the node to. It must not block on the
	// network: delivery is best effort, and Raft tolerates lost, duplicated
	// and reordered messages. An error means msg was certainly not sent.
	Send(to string, msg wire.Message) error
	// Flush pushes queued messages to the network. The node calls it after
	// each batch of Sends.
	Flush() error
	// Close stops delivery and releases the transport's subscriptions; it
	// does not close a connection the application owns.
	Close() error
}

// Broadcaster is implemented by transports that can deliver one message to
// every node of the cluster with a single send, as NATS does for a subject
// all nodes subscribe to. The message's To field is empty, and each
// receiver treats it as addressed to itself; a sender need not receive its
// own broadcasts.
type Broadcaster interface {
	Broadcast(msg wire.Message) error
}
