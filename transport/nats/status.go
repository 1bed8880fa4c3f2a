package natstransport

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// Status requests the status of every node of the cluster, with one request
// that all nodes receive, and returns the replies sorted by node id. It
// collects replies until every voter named in a reply has replied, no reply
// came for ClientConfig.StatusQuiet after the last one, or ctx ends. It
// returns an error if the request could not be sent or no node replied.
func (c *Client) Status(ctx context.Context) ([]*wire.StatusResponse, error) {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	return c.collectStatus(ctx)
}

// Leader returns the id of the cluster's leader: the node that reports
// itself leader in the highest term. If no node does, it requests status again
// with backoff until ctx ends, then returns an error matching raft.ErrNoLeader.
func (c *Client) Leader(ctx context.Context) (string, error) {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	leaderRole := raft.RoleLeader.String()
	wait := backoffMin
	var lastErr error
	for {
		replies, err := c.collectStatus(ctx)
		lastErr = err
		var leader *wire.StatusResponse
		for _, r := range replies {
			if r.GetRole() == leaderRole && (leader == nil || r.GetTerm() > leader.GetTerm()) {
				leader = r
			}
		}
		if leader != nil {
			return leader.GetNode(), nil
		}
		if !sleep(ctx, jitter(wait)) {
			break
		}
		wait = min(2*wait, backoffMax)
	}
	if lastErr != nil {
		return "", fmt.Errorf("leader: %w: %w", raft.ErrNoLeader, lastErr)
	}
	return "", fmt.Errorf("leader: %w: no node reported itself leader before the context ended (%w)", raft.ErrNoLeader, ctx.Err())
}

// collectStatus publishes one status request with a reply inbox and gathers
// the replies.
func (c *Client) collectStatus(ctx context.Context) ([]*wire.StatusResponse, error) {
	subject := c.clusterBase + "." + wire.SubjectStatus
	inbox := c.nc.NewInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("status: subscribe to reply inbox: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	request := (&wire.StatusRequest{Cluster: c.cfg.Cluster}).Marshal()
	if err := c.nc.PublishRequest(subject, inbox, request); err != nil {
		return nil, fmt.Errorf("status on %s: %w", subject, err)
	}

	byNode := make(map[string]*wire.StatusResponse)
	voters := make(map[string]struct{})
	for !allReplied(voters, byNode) {
		m, err := c.nextReply(ctx, sub, len(byNode) > 0)
		if err != nil {
			if len(byNode) > 0 {
				break // the quiet period is over, or ctx ended
			}
			return nil, fmt.Errorf("status on %s: no node replied: %w", subject, err)
		}
		if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
			return nil, fmt.Errorf("status on %s: no node subscribed to receive it: %w", subject, nats.ErrNoResponders)
		}
		r := new(wire.StatusResponse)
		if err := r.Unmarshal(m.Data); err != nil {
			c.log.Warn("invalid status reply", "subject", subject, "size", len(m.Data), "error", err)
			continue
		}
		if r.GetCluster() != c.cfg.Cluster {
			c.log.Warn("status reply from another cluster", "subject", subject, "reply_cluster", r.GetCluster(), "peer", r.GetNode())
			continue
		}
		byNode[r.GetNode()] = r
		for _, v := range r.GetVoters() {
			voters[v] = struct{}{}
		}
	}

	replies := make([]*wire.StatusResponse, 0, len(byNode))
	for _, r := range byNode {
		replies = append(replies, r)
	}
	slices.SortFunc(replies, func(a, b *wire.StatusResponse) int {
		return strings.Compare(a.GetNode(), b.GetNode())
	})
	return replies, nil
}

// nextReply waits for the next message on sub. After the first reply it
// waits at most StatusQuiet.
func (c *Client) nextReply(ctx context.Context, sub *nats.Subscription, quiet bool) (*nats.Msg, error) {
	if !quiet {
		return sub.NextMsgWithContext(ctx)
	}
	qctx, cancel := context.WithTimeout(ctx, c.cfg.StatusQuiet)
	defer cancel()
	return sub.NextMsgWithContext(qctx)
}

// allReplied reports whether every known voter has replied.
func allReplied(voters map[string]struct{}, byNode map[string]*wire.StatusResponse) bool {
	if len(voters) == 0 {
		return false
	}
	for v := range voters {
		if _, ok := byNode[v]; !ok {
			return false
		}
	}
	return true
}
