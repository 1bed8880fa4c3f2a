package wire_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"unsafe"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/raft/wire/msgp"
)

// emptyEntries returns an AppendEntriesRequest whose entries field holds n
// empty maps: about one byte of input per entry, which decodes to n
// wire.Entry values of 48 bytes each on 64-bit platforms.
func emptyEntries(n int) []byte {
	b := msgp.AppendMapHeader(nil, 1)
	b = msgp.AppendUint(b, 7)
	b = msgp.AppendArrayHeader(b, n)
	for range n {
		b = msgp.AppendMapHeader(b, 0)
	}
	return b
}

func TestUnmarshalWithLimitsAcceptsWithinLimits(t *testing.T) {
	m := appendEntries(64)
	data := m.Marshal()
	var got wire.AppendEntriesRequest
	// Entries, plus the copies of cluster, from and to.
	need := 64*int(unsafe.Sizeof(wire.Entry{})) + len(m.Cluster) + len(m.From) + len(m.To)
	if err := got.UnmarshalWithLimits(data, wire.Limits{MaxSize: len(data), MaxAlloc: need}); err != nil {
		t.Fatalf("UnmarshalWithLimits with exact limits: %v", err)
	}
	if len(got.Entries) != 64 || got.Cluster != m.Cluster {
		t.Fatalf("decoded %d entries and cluster %q", len(got.Entries), got.Cluster)
	}
	if err := got.UnmarshalWithLimits(data, wire.Limits{MaxAlloc: need - 1}); !errors.Is(err, wire.ErrTooLarge) {
		t.Fatalf("UnmarshalWithLimits one byte under the need: error %v, want ErrTooLarge", err)
	}
}

func TestUnmarshalWithLimitsMaxSize(t *testing.T) {
	data := appendEntries(4).Marshal()
	err := new(wire.AppendEntriesRequest).UnmarshalWithLimits(data, wire.Limits{MaxSize: len(data) - 1})
	if !errors.Is(err, wire.ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	if !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("error %v does not match ErrMalformed", err)
	}
}

func TestUnmarshalWithLimitsStopsAmplification(t *testing.T) {
	const n = 1 << 16
	data := emptyEntries(n)
	var m wire.AppendEntriesRequest
	if err := m.Unmarshal(data); err != nil || len(m.Entries) != n {
		t.Fatalf("without limits: %d entries, %v", len(m.Entries), err)
	}

	limits := wire.Limits{MaxSize: len(data), MaxAlloc: 4 * len(data)}
	err := m.UnmarshalWithLimits(data, limits)
	if !errors.Is(err, wire.ErrTooLarge) {
		t.Fatalf("%d empty entries with MaxAlloc %d: error %v, want ErrTooLarge", n, limits.MaxAlloc, err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		_ = m.UnmarshalWithLimits(data, limits)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Fatalf("10 rejected decodes allocated %d bytes; the list was allocated before the check", got)
	}
}

func TestUnmarshalWithLimitsNestedLists(t *testing.T) {
	// StatusResponse.voters: 3 strings of 2 bytes, 3*16 + 6 bytes in memory
	// on 64-bit platforms.
	data := (&wire.StatusResponse{Voters: []string{"n1", "n2", "n3"}}).Marshal()
	need := 3*int(unsafe.Sizeof("")) + 6
	var m wire.StatusResponse
	if err := m.UnmarshalWithLimits(data, wire.Limits{MaxAlloc: need}); err != nil {
		t.Fatalf("voters within the limit: %v", err)
	}
	if err := m.UnmarshalWithLimits(data, wire.Limits{MaxAlloc: need - 1}); !errors.Is(err, wire.ErrTooLarge) {
		t.Fatalf("voters one byte over the limit: error %v, want ErrTooLarge", err)
	}
}

type countingPeer struct{ calls int }

func (c *countingPeer) HandleRequestVote(*wire.VoteRequest)                         { c.calls++ }
func (c *countingPeer) HandleRequestVoteResponse(*wire.VoteResponse)                { c.calls++ }
func (c *countingPeer) HandleAppendEntries(*wire.AppendEntriesRequest)              { c.calls++ }
func (c *countingPeer) HandleAppendEntriesResponse(*wire.AppendEntriesResponse)     { c.calls++ }
func (c *countingPeer) HandleInstallSnapshot(*wire.InstallSnapshotRequest)          { c.calls++ }
func (c *countingPeer) HandleInstallSnapshotResponse(*wire.InstallSnapshotResponse) { c.calls++ }
func (c *countingPeer) HandleTimeoutNow(*wire.TimeoutNowRequest)                    { c.calls++ }

func TestDispatchPeerWithLimits(t *testing.T) {
	data := emptyEntries(1000)
	h := &countingPeer{}
	err := wire.DispatchPeerWithLimits(wire.SubjectAppendEntries, data, wire.Limits{MaxAlloc: 1000}, h)
	if !errors.Is(err, wire.ErrTooLarge) || h.calls != 0 {
		t.Fatalf("error %v and %d handler calls, want ErrTooLarge and none", err, h.calls)
	}
	if err := wire.DispatchPeerWithLimits(wire.SubjectAppendEntries, data, wire.Limits{}, h); err != nil || h.calls != 1 {
		t.Fatalf("without limits: error %v and %d handler calls, want one call", err, h.calls)
	}
}

type countingClient struct{ calls int }

func (c *countingClient) Propose(_ context.Context, req *wire.ProposeRequest) *wire.ProposeResponse {
	c.calls++
	return &wire.ProposeResponse{Result: req.Command}
}

func (c *countingClient) ProposeBatch(context.Context, *wire.ProposeBatchRequest) *wire.ProposeBatchResponse {
	c.calls++
	return &wire.ProposeBatchResponse{}
}

func (c *countingClient) Read(context.Context, *wire.ReadRequest) *wire.ReadResponse {
	c.calls++
	return &wire.ReadResponse{}
}

func (c *countingClient) Status(context.Context, *wire.StatusRequest) *wire.StatusResponse {
	c.calls++
	return &wire.StatusResponse{}
}

func TestDispatchClientWithLimits(t *testing.T) {
	data := (&wire.ProposeRequest{Cluster: "c1", Command: make([]byte, 1000)}).Marshal()
	h := &countingClient{}
	_, err := wire.DispatchClientWithLimits(context.Background(), wire.SubjectPropose, data, wire.Limits{MaxSize: 1000}, h)
	if !errors.Is(err, wire.ErrTooLarge) || h.calls != 0 {
		t.Fatalf("error %v and %d handler calls, want ErrTooLarge and none", err, h.calls)
	}
	resp, err := wire.DispatchClientWithLimits(context.Background(), wire.SubjectPropose, data, wire.Limits{MaxSize: len(data)}, h)
	if err != nil || h.calls != 1 {
		t.Fatalf("within MaxSize: error %v and %d handler calls, want one call", err, h.calls)
	}
	var got wire.ProposeResponse
	if err := got.Unmarshal(resp); err != nil || len(got.Result) != 1000 {
		t.Fatalf("response: %d result bytes, %v", len(got.Result), err)
	}
}
