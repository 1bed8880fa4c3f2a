package natstransport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft/wire"
)

// ErrNodeIDInUse is returned by CheckNodeIDFree when another process
// already serves the node id on the bus.
var ErrNodeIDInUse = errors.New("natstransport: node id already in use")

// DefaultNodeIDCheckTimeout bounds CheckNodeIDFree when ctx has no deadline.
const DefaultNodeIDCheckTimeout = 2 * time.Second

// nodeIDCheckAttempt bounds one status request of CheckNodeIDFree.
const nodeIDCheckAttempt = 250 * time.Millisecond

// CheckNodeIDFree checks whether a process already serves cfg.Node in
// cfg.Cluster, by sending a status request to the node's own client
// subject. It returns nil when NATS reports no responders. It returns an
// error matching ErrNodeIDInUse when a process responds, or when a
// subscriber stays silent until ctx ends. While a subscriber is silent it
// sends the request again, because a process killed a moment ago can leave
// its subscription behind for a short while. Two processes with one id
// would share its messages and could each vote in the same term, so a node
// should not start when this check fails.
//
// NOTE: it finds only processes whose client server (ServeNode or
// NewClientServer) is running on the same bus and prefix.
func CheckNodeIDFree(ctx context.Context, nc *nats.Conn, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultNodeIDCheckTimeout)
		defer cancel()
	}
	subject := nodeClientBase(cfg.Prefix, cfg.Cluster, cfg.Node) + "." + wire.SubjectStatus
	req := (&wire.StatusRequest{Cluster: cfg.Cluster}).Marshal()
	var msg *nats.Msg
	for {
		// A process killed a moment ago can leave its subscription on the
		// server until the server notices the closed connection, and a
		// subscriber that stays silent is most likely that. Asking again
		// in short attempts lets it disappear before the deadline.
		attempt, cancel := context.WithTimeout(ctx, nodeIDCheckAttempt)
		msg, err = nc.RequestWithContext(attempt, subject, req)
		cancel()
		if errors.Is(err, nats.ErrNoResponders) {
			return nil
		}
		silent := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
		if !silent {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: a subscriber on %s did not respond to status requests: another process may run as node %q; stop it, or choose another id. "+
				"If a process with this id stopped just now, the server may not have removed its subscription yet: start again in a few seconds",
				ErrNodeIDInUse, subject, cfg.Node)
		}
	}
	if err != nil {
		return fmt.Errorf("natstransport: check whether node id %q is in use on %s: %w", cfg.Node, subject, err)
	}
	var st wire.StatusResponse
	detail := ""
	if st.Unmarshal(msg.Data) == nil {
		detail = fmt.Sprintf(" (it reports role %s in term %d)", st.Role, st.Term)
	}
	return fmt.Errorf("%w: a running process already serves node %q of cluster %q%s: stop it, or give this process another id",
		ErrNodeIDInUse, cfg.Node, cfg.Cluster, detail)
}
