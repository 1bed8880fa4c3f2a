// Package kvclient is a typed client for the key-value state machine of
// package statemachine running on a natsraft cluster. It turns Put, Get,
// Delete, CompareAndSet and Increment into commands, sends them through a
// natstransport.Client over NATS, and decodes the results.
//
// Writes go through the Raft log (Client.Propose), and Get is a
// linearizable read (Client.Read). Errors of the cluster call keep their
// classification: errors.Is(err, raft.ErrNotApplied) means the command was
// certainly not applied and may be sent again, and
// errors.Is(err, raft.ErrOutcomeUnknown) means it may have been applied;
// the natstransport.Client never retries such a write on its own.
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

// Get returns key's value and revision with a linearizable read, or an
// error matching ErrKeyNotFound when the key does not exist. The value
// belongs to the caller.
func (c *Client) Get(ctx context.Context, key string) (value []byte, revision uint64, err error) {
	if key == "" {
		return nil, 0, emptyKey("get")
	}
	data, err := c.c.Read(ctx, statemachine.EncodeGet(key))
	if err != nil {
		return nil, 0, fmt.Errorf("kvclient: get %q: %w", key, err)
	}
	// The result aliases the reply's payload, which no one else holds.
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
		return kvwire.Result{}, index, fmt.Errorf("kvclient: %s %q: the command was applied at log index %d, but its result is invalid: %w",
			op, key, index, err)
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
