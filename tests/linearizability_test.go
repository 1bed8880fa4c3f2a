package tests

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine"
	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// Workload of the linearizability runs.
const (
	linClients       = 4
	linOpTimeout     = time.Second      // one client operation, retries included
	linFaultDuration = 4 * time.Second  // faults per run; half with -short
	linCheckTimeout  = 2 * time.Minute  // bound on porcupine's search
	linUniqueShare   = 0.15             // share of operations that write a key of their own
	linFinalReads    = 10 * time.Second // bound on the final reads after healing
)

var linKeys = []string{"k0", "k1", "k2"}

// linRun describes one linearizability run: a cluster, the message faults
// and the node faults injected while the clients work.
type linRun struct {
	name  string
	nodes int
	seed  uint64
	rates faultRates
	plan  *faultPlan
}

func TestLinearizability(t *testing.T) {
	runs := []linRun{
		{name: "message-faults", nodes: 3, seed: 1,
			rates: faultRates{drop: 0.05, duplicate: 0.05, delay: 0.1, maxDelay: 20 * time.Millisecond}},
		{name: "partitions", nodes: 5, seed: 2,
			rates: faultRates{drop: 0.01, delay: 0.05, maxDelay: 10 * time.Millisecond},
			plan:  &faultPlan{every: 700 * time.Millisecond, isolate: true}},
		{name: "crashes", nodes: 3, seed: 3,
			rates: faultRates{drop: 0.02, duplicate: 0.02, delay: 0.05, maxDelay: 10 * time.Millisecond},
			plan:  &faultPlan{every: 600 * time.Millisecond, crash: true, maxDown: 1}},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) { runLinearizability(t, run) })
	}
}

// linHistory records operations with their call and return times, in
// nanoseconds since the run started.
type linHistory struct {
	start time.Time

	mu                               sync.Mutex
	ops                              []porcupine.Operation
	unknown, notApplied, failedReads int
	acked                            []string // unique keys whose put was acknowledged
}

func (h *linHistory) now() int64 { return int64(time.Since(h.start)) }

// outcome classifies an operation's result.
type outcome uint8

const (
	outcomeKnown      outcome = iota
	outcomeUnknown            // it may or may not have taken effect
	outcomeNotApplied         // it certainly did not take effect
)

func (h *linHistory) record(client int, in kvInput, out kvOutput, oc outcome, call, ret int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case oc == outcomeNotApplied && in.op == kvGet:
		h.failedReads++
		return
	case oc == outcomeNotApplied:
		h.notApplied++
		return
	case oc == outcomeUnknown:
		h.unknown++
		out = kvOutput{unknown: true}
		ret = math.MaxInt64
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

// doKV runs one operation through the client and classifies the result. A
// read that failed changed nothing. A proposal that failed with an error
// matching raft.ErrNotApplied did not happen. Any other failure leaves the
// proposal's outcome unknown.
func doKV(cl *natstransport.Client, in kvInput) (kvOutput, outcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), linOpTimeout)
	defer cancel()
	var res []byte
	var err error
	switch in.op {
	case kvGet:
		res, err = cl.Read(ctx, statemachine.EncodeGet(in.key))
		if err != nil {
			return kvOutput{}, outcomeNotApplied, nil
		}
	default:
		var cmd []byte
		switch in.op {
		case kvPut:
			cmd = statemachine.EncodePut(in.key, []byte(in.value))
		case kvDelete:
			cmd = statemachine.EncodeDelete(in.key)
		case kvCAS:
			cmd = statemachine.EncodeCompareAndSet(in.key, []byte(in.expected), in.expectAbsent, []byte(in.value))
		}
		res, _, err = cl.Propose(ctx, cmd)
		if errors.Is(err, raft.ErrNotApplied) {
			return kvOutput{}, outcomeNotApplied, nil
		}
		if err != nil {
			return kvOutput{}, outcomeUnknown, nil
		}
	}
	r, err := statemachine.DecodeResult(res)
	if err != nil {
		return kvOutput{}, outcomeKnown, err
	}
	if r.Error != "" {
		return kvOutput{}, outcomeKnown, fmt.Errorf("%v on %s: the state machine rejected the command: %s", in.op, in.key, r.Error)
	}
	return kvOutput{found: r.Found, value: string(r.Value), revision: r.Revision, swapped: r.Swapped}, outcomeKnown, nil
}

// nextInput draws a client's next operation: mostly gets, puts and
// compare-and-sets on the shared keys, and now and then a put of a key of
// the client's own.
func nextInput(rng *rand.Rand, client, seq int) (kvInput, bool) {
	value := fmt.Sprintf("c%d-%d", client, seq)
	if rng.Float64() < linUniqueShare {
		return kvInput{op: kvPut, key: fmt.Sprintf("u%d-%d", client, seq), value: value}, true
	}
	key := linKeys[rng.IntN(len(linKeys))]
	switch r := rng.IntN(10); {
	case r < 4:
		return kvInput{op: kvGet, key: key}, false
	case r < 7:
		return kvInput{op: kvPut, key: key, value: value}, false
	case r < 8:
		return kvInput{op: kvDelete, key: key}, false
	case r < 9:
		return kvInput{op: kvCAS, key: key, expectAbsent: true, value: value}, false
	default:
		// Compare against a value some client may have written.
		expected := fmt.Sprintf("c%d-%d", rng.IntN(linClients), max(seq-rng.IntN(8), 0))
		return kvInput{op: kvCAS, key: key, expected: expected, value: value}, false
	}
}

func runLinClient(ctx context.Context, t *testing.T, cl *natstransport.Client, h *linHistory, client int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(client)))
	for seq := 0; ctx.Err() == nil; seq++ {
		in, unique := nextInput(rng, client, seq)
		call := h.now()
		out, oc, err := doKV(cl, in)
		ret := h.now()
		if err != nil {
			t.Errorf("client %d: %v", client, err)
			return
		}
		if unique {
			if oc == outcomeKnown {
				h.mu.Lock()
				h.acked = append(h.acked, in.key)
				h.mu.Unlock()
			}
			continue
		}
		h.record(client, in, out, oc, call, ret)
	}
}

func runLinearizability(t *testing.T, run linRun) {
	c := newFaultCluster(t, run.nodes, run.seed)
	c.waitLeader()
	c.net.setRates(run.rates)
	h := &linHistory{start: time.Now()}

	duration := linFaultDuration
	if testing.Short() {
		duration /= 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < linClients; i++ {
		cl := c.client(linOpTimeout)
		wg.Add(1)
		go func() {
			defer wg.Done()
			runLinClient(ctx, t, cl, h, i, run.seed)
		}()
	}
	if run.plan != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run.plan.run(ctx, c, run.seed)
		}()
	}
	wg.Wait()

	// End the faults, bring every node back and let the cluster settle.
	c.net.setRates(faultRates{})
	c.net.heal()
	for _, id := range c.stoppedNodes() {
		c.start(id)
	}
	c.waitApplied()
	finalReads(t, c, h)

	checkHistory(t, run.name, h)
	checkAckedKeys(t, c, h)
	c.checkOneLeaderPerTerm()
	faults := int64(0)
	if run.plan != nil {
		faults = run.plan.injected.Load()
	}
	n := &c.net.counts
	fmt.Printf("linearizability %s: %d nodes, %d operations checked (%d with unknown outcome, %d not applied, %d reads failed), %d acknowledged unique writes present, %d node faults, %d terms with a leader, messages: %d sent, %d dropped, %d lost on cut links, %d duplicated, %d delayed: linearizable\n",
		run.name, run.nodes, len(h.ops), h.unknown, h.notApplied, h.failedReads, len(h.acked), faults, c.terms(),
		n.sent.Load(), n.dropped.Load(), n.cutDropped.Load(), n.duplicated.Load(), n.delayed.Load())
}

// finalReads reads every key once the faults are over and adds the reads
// to the history, so that the last acknowledged writes are checked too.
func finalReads(t *testing.T, c *faultCluster, h *linHistory) {
	t.Helper()
	cl := c.client(linOpTimeout)
	for _, key := range linKeys {
		in := kvInput{op: kvGet, key: key}
		deadline := time.Now().Add(linFinalReads)
		for {
			call := h.now()
			out, oc, err := doKV(cl, in)
			require.NoError(t, err)
			if oc == outcomeKnown {
				h.record(linClients, in, out, oc, call, h.now())
				break
			}
			require.Truef(t, time.Now().Before(deadline), "final read of %s did not succeed within %v", key, linFinalReads)
		}
	}
}

// checkHistory checks the history with porcupine and, if it is not
// linearizable, writes porcupine's visualization to a file.
func checkHistory(t *testing.T, name string, h *linHistory) {
	t.Helper()
	require.NotEmpty(t, h.ops, "no operation completed")
	res, info := porcupine.CheckOperationsVerbose(kvModel, h.ops, linCheckTimeout)
	switch res {
	case porcupine.Ok:
		return
	case porcupine.Unknown:
		t.Fatalf("porcupine did not finish checking %d operations within %v", len(h.ops), linCheckTimeout)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("natsraft-linearizability-%s-%d.html", name, time.Now().UnixNano()))
	if err := porcupine.VisualizePath(kvModel, info, path); err != nil {
		t.Logf("write porcupine visualization: %v", err)
	}
	t.Fatalf("history of %d operations is not linearizable; porcupine's visualization: %s", len(h.ops), path)
}

// checkAckedKeys checks that every acknowledged write of a unique key is
// present on every node.
func checkAckedKeys(t *testing.T, c *faultCluster, h *linHistory) {
	t.Helper()
	for _, id := range c.running() {
		kv := c.node(id).kv
		for _, key := range h.acked {
			b, err := kv.Read(statemachine.EncodeGet(key))
			require.NoError(t, err)
			res, err := statemachine.DecodeResult(b)
			require.NoError(t, err)
			require.Truef(t, res.Found, "acknowledged write of %s missing on %s", key, id)
		}
	}
	digest := c.node(c.ids[0]).kv.Digest()
	for _, id := range c.ids[1:] {
		require.Equalf(t, digest, c.node(id).kv.Digest(), "state machine of %s differs from %s's", id, c.ids[0])
	}
}
