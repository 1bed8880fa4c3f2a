// Package kvclient is a typed client for the key-value state machine of
// package statemachine running on a natsraft cluster. It turns Put, Get,
// Delete, CompareAndSet and Increment into commands, sends them through a
// natstransport.Client over NATS, and decodes the results.
//
// Writes go through the Raft log (Client.Propose), and Get is a
// linearizable read (Client.Read) unless the Stale option reads what one
// node has applied. Errors of the cluster call keep their
// classification: errors.Is(err, raft.ErrNotApplied) means the command was
// certainly not applied and may be sent again, and
// errors.Is(err, raft.ErrOutcomeUnknown) means it may have been applied.
//
// A cluster whose state machine is
// statemachine.WithSessions(statemachine.NewKV(), ...), as raftnode runs
// it, needs a natstransport.Client with ClientConfig.Sessions set. Such a
// client sends a write again after a lost reply or a leader change, with
// the same sequence number, and the cluster applies it once, so a write
// fails with raft.ErrOutcomeUnknown only when no reply came before the
// caller's deadline. Without sessions, the natstransport.Client never
// sends a write again once it may have reached the leader.
package kvclient

import (
	"context"
	"fmt"
	"strconv"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/statemachine"
	"github.com/natsraft/natsraft/statemachine/kvwire"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// Client sends key-value commands to a cluster. It is safe for concurrent
// use, as the natstransport.Client it wraps is.
type Client struct {
	c *natstransport.Client
}

// New returns a Client that sends its commands through c.
func New(c *natstransport.Client) *Client {
	return &Client{c: c}
}

// Put sets key to value and returns the key's revision after the write.
func (c *Client) Put(ctx context.Context, key string, value []byte) (revision uint64, err error) {
	res, _, err := c.propose(ctx, "put", key, func() []byte { return statemachine.EncodePut(key, value) })
	if err != nil {
		return 0, err
	}
	return res.Revision, nil
}

// GetOption changes how Get reads.
type GetOption func(*getOptions)

type getOptions struct {
	stale bool
	node  string
}

// Stale makes Get read the value that one node has applied, without
// confirming with the leader. It is faster, and works while no leader is
// elected, but the value may miss acknowledged writes. node names the
// node, and "" means any node that replies.
func Stale(node string) GetOption {
	return func(o *getOptions) {
		o.stale = true
		o.node = node
	}
}

// Get returns key's value and revision, or an error matching
// ErrKeyNotFound when the key does not exist. The read is linearizable
// unless the Stale option is given. The value belongs to the caller.
func (c *Client) Get(ctx context.Context, key string, opts ...GetOption) (value []byte, revision uint64, err error) {
	var o getOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.stale {
		v, err := c.GetStale(ctx, key, o.node)
		return v.Value, v.Revision, err
	}
	if key == "" {
		return nil, 0, emptyKey("get")
	}
	data, err := c.c.Read(ctx, statemachine.EncodeGet(key))
	if err != nil {
		return nil, 0, fmt.Errorf("kvclient: get %q: %w", key, err)
	}
	// The result aliases the reply's payload, which no one else holds.
	return c.getResult(key, data)
}

// StaleValue is the result of GetStale.
type StaleValue struct {
	Value    []byte
	Revision uint64
	// Node is the node that served the read, and Index the last log index
	// it had applied.
	Node  string
	Index uint64
}

// GetStale reads key from one node's state machine without confirming
// with the leader, as natstransport.Client.ReadStale does: node names the
// node, or "" for any node. The error matches ErrKeyNotFound when that
// node has no such key; the returned StaleValue then still names the node
// and its applied index.
func (c *Client) GetStale(ctx context.Context, key, node string) (StaleValue, error) {
	if key == "" {
		return StaleValue{}, emptyKey("get")
	}
	read, err := c.c.ReadStale(ctx, node, statemachine.EncodeGet(key))
	if err != nil {
		return StaleValue{}, fmt.Errorf("kvclient: get %q: %w", key, err)
	}
	v := StaleValue{Node: read.Node, Index: read.Index}
	v.Value, v.Revision, err = c.getResult(key, read.Result)
	return v, err
}

// getResult decodes the result of a Get query.
func (c *Client) getResult(key string, data []byte) ([]byte, uint64, error) {
	res, err := statemachine.DecodeResult(data)
	if err != nil {
		return nil, 0, fmt.Errorf("kvclient: get %q: invalid result: %w", key, err)
	}
	if res.Error != "" {
		return nil, 0, &RejectedError{Op: "get", Key: key, Reason: res.Error}
	}
	if !res.Found {
		return nil, 0, fmt.Errorf("%w: get %q", ErrKeyNotFound, key)
	}
	return res.Value, res.Revision, nil
}

// Delete removes key and reports whether it existed.
func (c *Client) Delete(ctx context.Context, key string) (existed bool, err error) {
	res, _, err := c.propose(ctx, "delete", key, func() []byte { return statemachine.EncodeDelete(key) })
	if err != nil {
		return false, err
	}
	return res.Found, nil
}

// CompareAndSet sets key to value if the key is absent and expectAbsent is
// true, or if expectAbsent is false and the key exists with a value equal
// to expected (an empty expected matches an empty value). It returns the
// key's revision after the write. When the value does not match, the error
// is a *CompareFailedError, matching ErrCompareFailed, that carries the
// key's current value and revision.
func (c *Client) CompareAndSet(ctx context.Context, key string, expected []byte, expectAbsent bool, value []byte) (revision uint64, err error) {
	res, _, err := c.propose(ctx, "compare-and-set", key, func() []byte {
		return statemachine.EncodeCompareAndSet(key, expected, expectAbsent, value)
	})
	if err != nil {
		return 0, err
	}
	if !res.Swapped {
		return 0, &CompareFailedError{Key: key, Found: res.Found, Value: res.Value, Revision: res.Revision}
	}
	return res.Revision, nil
}

// Increment adds delta to key's value read as a decimal int64, where an
// absent key counts as 0, and returns the new value. A value that is not a
// decimal int64, or a sum that overflows, returns a *RejectedError and
// changes nothing.
func (c *Client) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	res, index, err := c.propose(ctx, "increment", key, func() []byte { return statemachine.EncodeIncrement(key, delta) })
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(res.Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("kvclient: increment %q: the command was applied at log index %d, but its result %q is not a decimal integer: %w",
			key, index, res.Value, err)
	}
	return n, nil
}

// Status returns every node's view of the cluster, sorted by node id, as
// natstransport.Client.Status does.
func (c *Client) Status(ctx context.Context) ([]*wire.StatusResponse, error) {
	replies, err := c.c.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("kvclient: status: %w", err)
	}
	return replies, nil
}

// propose sends the command that encode returns and decodes its result. It
// returns the result and the log index it was applied at. encode runs only
// for a valid key.
func (c *Client) propose(ctx context.Context, op, key string, encode func() []byte) (kvwire.Result, uint64, error) {
	if key == "" {
		return kvwire.Result{}, 0, emptyKey(op)
	}
	data, index, err := c.c.Propose(ctx, encode())
	if err != nil {
		return kvwire.Result{}, 0, fmt.Errorf("kvclient: %s %q: %w", op, key, err)
	}
	res, err := statemachine.DecodeResult(data)
	if err != nil {
		hint := ""
		if c.c.ClientID() == "" {
			hint = " (a cluster whose state machine runs statemachine.WithSessions needs natstransport.ClientConfig.Sessions)"
		}
		return kvwire.Result{}, index, fmt.Errorf("kvclient: %s %q: the command was applied at log index %d, but its result is invalid%s: %w",
			op, key, index, hint, err)
	}
	if res.Error != "" {
		return kvwire.Result{}, index, &RejectedError{Op: op, Key: key, Index: index, Reason: res.Error}
	}
	return res, index, nil
}

// emptyKey returns the error for an operation on an empty key, which the
// state machine would reject after a round through the log.
func emptyKey(op string) error {
	return raft.NotApplied(fmt.Errorf("%w: %s needs a non-empty key", ErrEmptyKey, op))
}
