package natstransport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft/wire"
)

// StaleRead is the result of ReadStale.
type StaleRead struct {
	// Result is the state machine's result for the query.
	Result []byte
	// Index is the last log index the node had applied when it served the
	// read.
	Index uint64
	// Node is the id of the node that served the read.
	Node string
}

// ReadStale runs query on one node's state machine without confirming
// leadership. Any node serves it at once from what it has applied, so the
// result may miss writes that the cluster has already acknowledged. node
// names the node. With "", ReadStale tries the nodes that reply to a
// status request, in random order, until one serves the read.
func (c *Client) ReadStale(ctx context.Context, node string, query []byte) (StaleRead, error) {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	if node != "" {
		if err := validateNodeID("node", node); err != nil {
			return StaleRead{}, err
		}
		return c.readStaleFrom(ctx, node, query)
	}

	replies, err := c.collectStatus(ctx)
	if err != nil {
		return StaleRead{}, fmt.Errorf("stale read: find nodes: %w", err)
	}
	var errs []error
	for _, i := range rand.Perm(len(replies)) {
		read, err := c.readStaleFrom(ctx, replies[i].GetNode(), query)
		if err == nil {
			return read, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return StaleRead{}, fmt.Errorf("stale read: every node failed: %w", errors.Join(errs...))
}

// readStaleFrom sends one stale read to node's client subject.
func (c *Client) readStaleFrom(ctx context.Context, node string, query []byte) (StaleRead, error) {
	stub, base := c.stub(node)
	subject := base + "." + wire.SubjectRead
	resp, err := stub.Read(ctx, &wire.ReadRequest{Cluster: c.cfg.Cluster, Query: query, Stale: true})
	if errors.Is(err, nats.ErrNoResponders) {
		return StaleRead{}, fmt.Errorf("stale read on %s: node %s does not run or does not serve clients: %w", subject, node, err)
	}
	if err != nil {
		return StaleRead{}, fmt.Errorf("stale read on %s: %w", subject, err)
	}
	if err, _, _ := classifyReply(wire.SubjectRead, subject, resp); err != nil {
		return StaleRead{}, err
	}
	return StaleRead{Result: resp.GetResult(), Index: resp.GetIndex(), Node: node}, nil
}
