package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// runOptions are the flags of "raftnode run".
type runOptions struct {
	nats            natsOptions
	cluster         clusterOptions
	id              string
	peers           string
	data            string
	store           string
	electionTimeout time.Duration
	heartbeat       time.Duration
	logLevel        *levelFlag
}

func setupRun(fs *flag.FlagSet) runFunc {
	o := &runOptions{}
	fs.StringVar(&o.id, "id", "", "this node's `id`: letters, digits, '-' and '_', unique in the cluster and listed in --peers; required")
	fs.StringVar(&o.peers, "peers", "", "comma-separated `ids` of every voting member, this node included, such as n1,n2,n3; required")
	fs.StringVar(&o.data, "data", "", "`directory` of this node's durable state, created if missing: raft.db (--store bolt) or wal/ (--store wal) holds the log, term and vote, and snapshots/ the snapshots; required unless --store memory")
	fs.StringVar(&o.store, "store", runStoreBolt, "`kind` of stores: bolt (one bbolt file) and wal (segment files, one fsync per write instead of two) keep the state in --data and survive restarts; memory keeps nothing, so such a node must never be restarted under the same --id")
	o.cluster.register(fs)
	o.nats.register(fs)
	fs.DurationVar(&o.electionTimeout, "election-timeout", time.Second, "minimum `duration` a follower waits without hearing from a leader before it starts an election, such as 500ms or 2s; at least twice --heartbeat")
	fs.DurationVar(&o.heartbeat, "heartbeat", 100*time.Millisecond, "`interval` between the leader's heartbeats, such as 100ms")
	o.logLevel = registerLogLevel(fs, slog.LevelInfo)
	return func(ctx context.Context, e *env, args []string) int {
		return runNode(ctx, e, o, args)
	}
}

// raftConfig returns the node's configuration, validated.
func (o *runOptions) raftConfig(log *slog.Logger) (raft.Config, error) {
	if o.id == "" {
		return raft.Config{}, errors.New("missing --id: set this node's id, one of --peers")
	}
	if err := o.cluster.validate(); err != nil {
		return raft.Config{}, err
	}
	if o.peers == "" {
		return raft.Config{}, fmt.Errorf("missing --peers: list every voting member, such as --peers %s,n2,n3", o.id)
	}
	// Zero would select the library default, which a user who typed 0 did
	// not ask for.
	if o.electionTimeout <= 0 {
		return raft.Config{}, fmt.Errorf("invalid --election-timeout %v: use a positive duration, such as 1s", o.electionTimeout)
	}
	if o.heartbeat <= 0 {
		return raft.Config{}, fmt.Errorf("invalid --heartbeat %v: use a positive duration, such as 100ms", o.heartbeat)
	}
	cfg := raft.Config{
		ID:                o.id,
		Cluster:           o.cluster.cluster,
		Peers:             splitList(o.peers),
		ElectionTimeout:   o.electionTimeout,
		HeartbeatInterval: o.heartbeat,
		Logger:            log,
	}
	if err := cfg.Validate(); err != nil {
		return raft.Config{}, err
	}
	return cfg, nil
}

// runNode runs one node until ctx ends, the node fails or the NATS
// connection closes for good.
func runNode(ctx context.Context, e *env, o *runOptions, args []string) int {
	const name = "run"
	if len(args) > 0 {
		return usageError(e, name, fmt.Errorf("unexpected arguments %q: run takes flags only", args))
	}
	log := newLogger(e.stderr, o.logLevel.level)
	cfg, err := o.raftConfig(log)
	if err != nil {
		return usageError(e, name, err)
	}
	if err := o.validateStore(); err != nil {
		return usageError(e, name, err)
	}
	if err := o.nats.validate(); err != nil {
		return usageError(e, name, err)
	}
	tcfg := natstransport.Config{Prefix: o.cluster.prefix, Cluster: cfg.Cluster, Node: cfg.ID, Peers: cfg.Peers, Logger: log}
	if err := tcfg.Validate(); err != nil {
		return usageError(e, name, err)
	}

	connClosed := make(chan struct{})
	nc, err := o.nats.connect("raftnode "+cfg.Cluster+"/"+cfg.ID,
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			// err is nil when the connection is closed on purpose.
			if err != nil {
				log.Warn("nats disconnected; reconnecting", "node", cfg.ID, "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "node", cfg.ID, "url", c.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(connClosed) }),
	)
	if err != nil {
		return failure(e, name, exitFailure, err)
	}
	defer nc.Close()

	// Two processes with one id would share its messages and could each
	// vote in the same term.
	if err := natstransport.CheckNodeIDFree(ctx, nc, tcfg); err != nil {
		code := exitFailure
		if errors.Is(err, natstransport.ErrNodeIDInUse) {
			code = exitUsage
		}
		return failure(e, name, code, err)
	}
	stores, err := o.openStores(cfg, log)
	if err != nil {
		return failure(e, name, storeErrorCode(err), err)
	}
	defer stores.close(log)

	sm := newNodeStateMachine()
	node, server, err := startNode(nc, tcfg, cfg, sm, stores)
	var configErr *configError
	if errors.As(err, &configErr) {
		return usageError(e, name, configErr.err)
	}
	if errors.Is(err, raft.ErrPeersMismatch) {
		return usageError(e, name, err)
	}
	if err != nil {
		return failure(e, name, exitFailure, err)
	}
	log.Info("node running", "node", cfg.ID, "cluster", cfg.Cluster, "peers", cfg.Peers,
		"nats", nc.ConnectedUrlRedacted(), "prefix", o.cluster.prefix, "store", o.store, "data", o.data)

	code := waitForStop(ctx, log, node, connClosed)
	if err := server.Close(); err != nil {
		log.Warn("close client server", "error", err)
	}
	// The node stops before the stores close, as it may still write.
	if err := node.Stop(); err != nil {
		log.Error("node stopped with error", "error", err)
		code = exitFailure
	}
	st := node.Status()
	log.Info("state at stop", "node", cfg.ID, "term", st.Term, "applied_index", st.AppliedIndex,
		"kv_digest", sm.kv.Digest(), "keys", sm.kv.Len(), "session_digest", sm.sessions.Digest(), "sessions", sm.sessions.Len())
	return code
}

// nodeStateMachine is the state machine of a raftnode node: the key-value
// store behind client sessions.
type nodeStateMachine struct {
	kv       *statemachine.KV
	sessions *statemachine.Sessions
}

// newNodeStateMachine returns an empty state machine. Every node of a
// cluster must use the same session options, so raftnode has no flags for
// them.
func newNodeStateMachine() nodeStateMachine {
	kv := statemachine.NewKV()
	return nodeStateMachine{kv: kv, sessions: statemachine.WithSessions(kv, statemachine.SessionOptions{})}
}

// configError is an error of startNode that the command line must fix,
// such as an invalid --prefix.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// startNode starts a node with the given stores and state machine, and
// serves its client requests on nc. The transport's errors are
// *configError values, as only its configuration can make it fail.
func startNode(nc *nats.Conn, tcfg natstransport.Config, cfg raft.Config, sm nodeStateMachine, st *nodeStores) (*raft.Node, *natstransport.ClientServer, error) {
	tr, err := natstransport.New(nc, tcfg)
	if err != nil {
		return nil, nil, &configError{err}
	}
	node, err := raft.NewNode(cfg, sm.sessions, st.log, st.stable, st.snapshots, tr)
	if err != nil {
		_ = tr.Close()
		return nil, nil, fmt.Errorf("start node: %w", err)
	}
	server, err := natstransport.ServeNode(nc, tcfg, node)
	if err != nil {
		_ = node.Stop()
		return nil, nil, err
	}
	return node, server, nil
}

// waitForStop waits until ctx ends (exit 0), the node fails or the connection
// closes for good (exit 1).
func waitForStop(ctx context.Context, log *slog.Logger, node *raft.Node, connClosed <-chan struct{}) int {
	events, unsubscribe := node.Subscribe(64)
	defer unsubscribe()
	// Events that find the channel full are dropped, so Err is also polled.
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping on signal")
			return exitOK
		case <-connClosed:
			log.Error("nats connection closed; stopping")
			return exitFailure
		case ev, ok := <-events:
			if !ok {
				return exitFailure
			}
			if ev.Type == raft.EventError {
				log.Error("node failed; stopping", "error", ev.Err)
				return exitFailure
			}
		case <-ticker.C:
			if err := node.Err(); err != nil {
				log.Error("node failed; stopping", "error", err)
				return exitFailure
			}
		}
	}
}
