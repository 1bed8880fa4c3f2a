package natstransport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// Batching limits of a Client's proposals.
const (
	// DefaultMaxBatchesInFlight is how many batch requests a Client keeps
	// in flight at once unless ClientConfig.MaxBatchesInFlight is set.
	DefaultMaxBatchesInFlight = 2
	// maxBatchCommands bounds the commands of one batch request.
	maxBatchCommands = 1024
	// batchOverhead is an upper bound on the encoded size of a batch
	// request besides its commands.
	batchOverhead = 256
	// batchItemOverhead is the most bytes the encoding adds to one
	// command: a msgpack bin header.
	batchItemOverhead = 5
	// batchSlotHold is how long a request keeps its in-flight slot. A
	// request still waiting for its reply after that, for example one sent
	// to a leader that just crashed, lets the next batch go, so new calls
	// reach a new leader without waiting for the old request's deadline.
	// Under load a reply comes much sooner (p99 about 10 ms at 256 clients
	// in raftnode bench on 2 cores), so the hold keeps batches large.
	batchSlotHold = 100 * time.Millisecond
)

// batchedPropose is one Propose call waiting in a Client's batcher.
type batchedPropose struct {
	ctx  context.Context
	cmd  []byte
	done chan batchOutcome // capacity 1
}

// batchOutcome is the outcome of one Propose call in a batch. With alone
// set, the batch did not reach a leader and the caller proposes the
// command on its own instead.
type batchOutcome struct {
	result []byte
	index  uint64
	err    error
	alone  bool
}

// batcher gathers concurrent Propose calls of one Client into batch
// requests. While maxInFlight batches wait for their replies, new calls
// queue, and the next batch carries all of them: under load many commands
// share one request, and a lone call goes out at once.
type batcher struct {
	c           *Client
	maxInFlight int
	// slotHold is batchSlotHold, or another duration in tests.
	slotHold time.Duration

	mu       sync.Mutex
	queue    []*batchedPropose
	inFlight int
}

// propose queues cmd, waits for the outcome of the batch that carries it
// and returns it. ctx must have a deadline.
func (b *batcher) propose(ctx context.Context, cmd []byte) (result []byte, index uint64, err error) {
	p := &batchedPropose{ctx: ctx, cmd: cmd, done: make(chan batchOutcome, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	start := b.inFlight < b.maxInFlight
	if start {
		b.inFlight++
	}
	b.mu.Unlock()
	if start {
		// With a free slot the caller sends the next batch itself, which
		// carries its own command unless older calls fill it, and hands
		// the slot on when more calls are waiting.
		if batch := b.take(); batch != nil && b.sendBatch(batch) {
			b.handOff()
		}
	}

	var out batchOutcome
	select {
	case out = <-p.done:
	case <-ctx.Done():
		var ok bool
		if out, ok = b.abandon(p); !ok {
			// The command left in a request that has no reply yet, so it
			// may be applied. The sender later writes the outcome to the
			// buffered done channel, which no caller reads.
			return nil, 0, raft.OutcomeUnknown(fmt.Errorf("propose: no reply before the context ended: %w", ctx.Err()))
		}
	}
	if out.alone {
		return b.c.proposeOnce(ctx, cmd)
	}
	return out.result, out.index, out.err
}

// abandon settles p after its caller's context ended: it returns p's
// outcome if the sender already delivered it, or removes p from the queue
// and fails it as not applied if it was never sent. ok is false when p is
// in a request still waiting for its reply.
func (b *batcher) abandon(p *batchedPropose) (out batchOutcome, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case out = <-p.done:
		return out, true
	default:
	}
	for i, q := range b.queue {
		if q == p {
			b.queue = slices.Delete(b.queue, i, i+1)
			return batchOutcome{err: raft.NotApplied(fmt.Errorf("propose: context ended before a request was sent: %w", p.ctx.Err()))}, true
		}
	}
	return batchOutcome{}, false
}

// handOff passes the caller's in-flight slot to a new goroutine that
// sends the queued calls, or releases it when none are queued.
func (b *batcher) handOff() {
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.inFlight--
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	go b.send()
}

// send sends batches until the queue is empty, then gives up its slot.
func (b *batcher) send() {
	for {
		batch := b.take()
		if batch == nil || !b.sendBatch(batch) {
			return
		}
	}
}

// take removes the next batch from the queue, or returns nil and releases
// the caller's in-flight slot when the queue is empty. Calls whose context
// already ended get their error here and are left out.
func (b *batcher) take() []*batchedPropose {
	b.mu.Lock()
	defer b.mu.Unlock()
	limit := int(b.c.nc.MaxPayload()) - batchOverhead
	var batch []*batchedPropose
	size, n := 0, 0
	for ; n < len(b.queue) && len(batch) < maxBatchCommands; n++ {
		p := b.queue[n]
		if err := p.ctx.Err(); err != nil {
			p.done <- batchOutcome{err: raft.NotApplied(fmt.Errorf("propose: context ended before a request was sent: %w", err))}
			continue
		}
		itemSize := len(p.cmd) + batchItemOverhead
		if len(batch) > 0 && size+itemSize > limit {
			break
		}
		size += itemSize
		batch = append(batch, p)
	}
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	if len(batch) == 0 {
		b.inFlight--
		return nil
	}
	return batch
}

// sendBatch sends one batch with the caller's in-flight slot and delivers
// the outcome of every call in it. It reports whether the caller still
// holds the slot: after batchSlotHold without a reply the slot passes on,
// as handOff passes it, while this request goes on waiting.
func (b *batcher) sendBatch(batch []*batchedPropose) bool {
	hold := time.AfterFunc(b.slotHold, b.handOff)
	b.deliverBatch(batch)
	return hold.Stop()
}

// deliverBatch sends one batch, or a plain propose request for a batch of
// one, and delivers the outcome of every call in it.
func (b *batcher) deliverBatch(batch []*batchedPropose) {
	if len(batch) == 1 {
		p := batch[0]
		result, index, err := b.c.proposeOnce(p.ctx, p.cmd)
		p.done <- batchOutcome{result: result, index: index, err: err}
		return
	}

	// The request lives as long as the latest caller's deadline, so a
	// caller with a short one does not cut the others' request short.
	deadline := time.Time{}
	req := &wire.ProposeBatchRequest{Cluster: b.c.cfg.Cluster, Commands: make([][]byte, len(batch))}
	for i, p := range batch {
		if d, _ := p.ctx.Deadline(); d.After(deadline) {
			deadline = d
		}
		req.Commands[i] = p.cmd
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	stub, base := b.c.stub("")
	subject := base + "." + wire.SubjectProposeBatch
	resp, err := stub.ProposeBatch(ctx, req)
	if err != nil {
		final, retryable := b.c.requestError(ctx, wire.SubjectPropose, subject, err)
		for _, p := range batch {
			p.done <- batchOutcome{err: final, alone: retryable}
		}
		return
	}
	if resp.GetError() != wire.ErrorCodeOK {
		final, _, retryable := classifyReply(wire.SubjectPropose, subject, resp)
		for _, p := range batch {
			p.done <- batchOutcome{err: final, alone: retryable}
		}
		return
	}
	if len(resp.Responses) != len(batch) {
		err := raft.OutcomeUnknown(fmt.Errorf("propose on %s: %w: %d results for %d commands",
			subject, ErrInternal, len(resp.Responses), len(batch)))
		for _, p := range batch {
			p.done <- batchOutcome{err: err}
		}
		return
	}
	for i, p := range batch {
		r := &resp.Responses[i]
		final, _, retryable := classifyReply(wire.SubjectPropose, subject, r)
		if final == nil {
			p.done <- batchOutcome{result: r.GetResult(), index: r.GetIndex()}
			continue
		}
		// A command that certainly was not applied, for example because
		// the node lost leadership before appending it, is proposed
		// again on its own, with redirects and backoff.
		p.done <- batchOutcome{err: final, alone: retryable && errors.Is(final, raft.ErrNotApplied)}
	}
}
