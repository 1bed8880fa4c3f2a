package wire_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
)

// recordingPeer stores the last message each method received.
type recordingPeer struct {
	got map[string]wire.Message
}

func (p *recordingPeer) record(name string, m wire.Message) {
	if p.got == nil {
		p.got = map[string]wire.Message{}
	}
	p.got[name] = m
}

func (p *recordingPeer) HandleRequestVote(m *wire.VoteRequest) { p.record("HandleRequestVote", m) }
func (p *recordingPeer) HandleRequestVoteResponse(m *wire.VoteResponse) {
	p.record("HandleRequestVoteResponse", m)
}
func (p *recordingPeer) HandleAppendEntries(m *wire.AppendEntriesRequest) {
	p.record("HandleAppendEntries", m)
}
func (p *recordingPeer) HandleAppendEntriesResponse(m *wire.AppendEntriesResponse) {
	p.record("HandleAppendEntriesResponse", m)
}
func (p *recordingPeer) HandleInstallSnapshot(m *wire.InstallSnapshotRequest) {
	p.record("HandleInstallSnapshot", m)
}
func (p *recordingPeer) HandleInstallSnapshotResponse(m *wire.InstallSnapshotResponse) {
	p.record("HandleInstallSnapshotResponse", m)
}
func (p *recordingPeer) HandleTimeoutNow(m *wire.TimeoutNowRequest) { p.record("HandleTimeoutNow", m) }

func TestSubjectConstants(t *testing.T) {
	want := map[string]string{
		wire.SubjectRequestVote:             "vote",
		wire.SubjectRequestVoteResponse:     "vote.resp",
		wire.SubjectAppendEntries:           "append",
		wire.SubjectAppendEntriesResponse:   "append.resp",
		wire.SubjectInstallSnapshot:         "snapshot",
		wire.SubjectInstallSnapshotResponse: "snapshot.resp",
		wire.SubjectTimeoutNow:              "timeout_now",
		wire.SubjectPropose:                 "propose",
		wire.SubjectRead:                    "read",
		wire.SubjectStatus:                  "status",
	}
	for got, w := range want {
		if got != w {
			t.Errorf("subject constant %q, want %q", got, w)
		}
	}
}

func TestDispatchPeerEverySubject(t *testing.T) {
	cases := []struct {
		subject string
		method  string
		msg     wire.Message
	}{
		{"vote", "HandleRequestVote", &wire.VoteRequest{Term: 2, From: "n1"}},
		{"vote.resp", "HandleRequestVoteResponse", &wire.VoteResponse{Term: 2, Granted: true}},
		{"append", "HandleAppendEntries", &wire.AppendEntriesRequest{Term: 3, Entries: []wire.Entry{{Index: 1, Data: []byte("x")}}}},
		{"append.resp", "HandleAppendEntriesResponse", &wire.AppendEntriesResponse{Success: true, MatchIndex: 9}},
		{"snapshot", "HandleInstallSnapshot", &wire.InstallSnapshotRequest{Offset: 4, Data: []byte("d")}},
		{"snapshot.resp", "HandleInstallSnapshotResponse", &wire.InstallSnapshotResponse{NextOffset: 5}},
		{"timeout_now", "HandleTimeoutNow", &wire.TimeoutNowRequest{To: "n2"}},
	}
	for _, c := range cases {
		t.Run(c.subject, func(t *testing.T) {
			h := &recordingPeer{}
			if err := wire.DispatchPeer(c.subject, c.msg.MarshalAppend(nil), h); err != nil {
				t.Fatalf("DispatchPeer: %v", err)
			}
			if !reflect.DeepEqual(h.got[c.method], c.msg) {
				t.Fatalf("%s received %+v, want %+v", c.method, h.got[c.method], c.msg)
			}
			if subject, ok := wire.PeerSubject(c.msg.Kind()); !ok || subject != c.subject {
				t.Fatalf("PeerSubject(%v) = %q, %v; want %q", c.msg.Kind(), subject, ok, c.subject)
			}
		})
	}
}

func TestDispatchPeerErrors(t *testing.T) {
	h := &recordingPeer{}
	if err := wire.DispatchPeer("propose", []byte{0x80}, h); !errors.Is(err, wire.ErrUnknownSubject) {
		t.Fatalf("unknown subject: error %v, want one wrapping ErrUnknownSubject", err)
	}
	if err := wire.DispatchPeer("vote", []byte{0x81, 0x04}, h); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("truncated message: error %v, want one wrapping ErrMalformed", err)
	}
	if len(h.got) != 0 {
		t.Fatalf("handler called on failed dispatch: %v", h.got)
	}
	if _, ok := wire.PeerSubject(wire.KindProposeRequest); ok {
		t.Fatal("PeerSubject found a subject for a Client message")
	}
}

func TestRPCTables(t *testing.T) {
	wantPeer := []wire.RPCInfo{
		{"Peer", "RequestVote", wire.RPCStream, "vote", "vote.resp", wire.KindVoteRequest, wire.KindVoteResponse},
		{"Peer", "AppendEntries", wire.RPCStream, "append", "append.resp", wire.KindAppendEntriesRequest, wire.KindAppendEntriesResponse},
		{"Peer", "InstallSnapshot", wire.RPCStream, "snapshot", "snapshot.resp", wire.KindInstallSnapshotRequest, wire.KindInstallSnapshotResponse},
		{"Peer", "TimeoutNow", wire.RPCOneway, "timeout_now", "", wire.KindTimeoutNowRequest, 0},
	}
	if !reflect.DeepEqual(wire.PeerRPCs, wantPeer) {
		t.Fatalf("PeerRPCs = %+v\nwant %+v", wire.PeerRPCs, wantPeer)
	}
	wantClient := []wire.RPCInfo{
		{"Client", "Propose", wire.RPCRequest, "propose", "", wire.KindProposeRequest, wire.KindProposeResponse},
		{"Client", "ProposeBatch", wire.RPCRequest, "propose_batch", "", wire.KindProposeBatchRequest, wire.KindProposeBatchResponse},
		{"Client", "Read", wire.RPCRequest, "read", "", wire.KindReadRequest, wire.KindReadResponse},
		{"Client", "Status", wire.RPCRequest, "status", "", wire.KindStatusRequest, wire.KindStatusResponse},
	}
	if !reflect.DeepEqual(wire.ClientRPCs, wantClient) {
		t.Fatalf("ClientRPCs = %+v\nwant %+v", wire.ClientRPCs, wantClient)
	}
	if s := wire.RPCOneway.String(); s != "oneway" {
		t.Fatalf("RPCOneway.String() = %q", s)
	}
}

// echoClient serves the Client service from fixed values.
type echoClient struct{ nilResponse bool }

func (e echoClient) Propose(_ context.Context, req *wire.ProposeRequest) *wire.ProposeResponse {
	if e.nilResponse {
		return nil
	}
	return &wire.ProposeResponse{Index: 7, Result: req.Command}
}

func (e echoClient) ProposeBatch(_ context.Context, req *wire.ProposeBatchRequest) *wire.ProposeBatchResponse {
	resp := &wire.ProposeBatchResponse{}
	for i, cmd := range req.Commands {
		resp.Responses = append(resp.Responses, wire.ProposeResponse{Index: uint64(7 + i), Result: cmd})
	}
	return resp
}

func (echoClient) Read(ctx context.Context, req *wire.ReadRequest) *wire.ReadResponse {
	if ctx.Value(ctxKey{}) == nil {
		return &wire.ReadResponse{Error: wire.ErrorCodeInternal, Message: "context not passed"}
	}
	return &wire.ReadResponse{Result: req.Query, Index: 3}
}

func (echoClient) Status(_ context.Context, req *wire.StatusRequest) *wire.StatusResponse {
	return &wire.StatusResponse{Cluster: req.Cluster, Voters: []string{"n1", "n2"}}
}

type ctxKey struct{}

// loopback is a Caller that dispatches to a ClientHandler in process.
type loopback struct {
	h        wire.ClientHandler
	subjects []string
	err      error
}

func (l *loopback) Call(ctx context.Context, subject string, request []byte) ([]byte, error) {
	l.subjects = append(l.subjects, subject)
	if l.err != nil {
		return nil, l.err
	}
	return wire.DispatchClient(ctx, subject, request, l.h)
}

func TestClientStubRoundTrip(t *testing.T) {
	l := &loopback{h: echoClient{}}
	stub := wire.ClientStub{Caller: l}
	ctx := context.WithValue(context.Background(), ctxKey{}, true)

	p, err := stub.Propose(ctx, &wire.ProposeRequest{Command: []byte("put")})
	if err != nil || p.Index != 7 || string(p.Result) != "put" {
		t.Fatalf("Propose = %+v, %v", p, err)
	}
	r, err := stub.Read(ctx, &wire.ReadRequest{Query: []byte("q")})
	if err != nil || string(r.Result) != "q" || r.Index != 3 {
		t.Fatalf("Read = %+v, %v", r, err)
	}
	s, err := stub.Status(ctx, &wire.StatusRequest{Cluster: "c1"})
	if err != nil || s.Cluster != "c1" || len(s.Voters) != 2 {
		t.Fatalf("Status = %+v, %v", s, err)
	}
	if want := []string{"propose", "read", "status"}; !reflect.DeepEqual(l.subjects, want) {
		t.Fatalf("Call subjects = %v, want %v", l.subjects, want)
	}
}

func TestClientStubErrors(t *testing.T) {
	callErr := errors.New("no responders")
	stub := wire.ClientStub{Caller: &loopback{err: callErr}}
	if _, err := stub.Status(context.Background(), &wire.StatusRequest{}); !errors.Is(err, callErr) {
		t.Fatalf("Call failure: error %v, want one wrapping %v", err, callErr)
	}
	bad := wire.ClientStub{Caller: callerFunc(func(context.Context, string, []byte) ([]byte, error) {
		return []byte{0x81, 0x01}, nil
	})}
	if _, err := bad.Propose(context.Background(), &wire.ProposeRequest{}); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("malformed reply: error %v, want one wrapping ErrMalformed", err)
	}
	if _, err := wire.DispatchClient(context.Background(), "vote", []byte{0x80}, echoClient{}); !errors.Is(err, wire.ErrUnknownSubject) {
		t.Fatalf("unknown subject: error %v, want one wrapping ErrUnknownSubject", err)
	}
	if _, err := wire.DispatchClient(context.Background(), "propose", []byte{0x80}, echoClient{nilResponse: true}); err == nil {
		t.Fatal("a nil handler response did not return an error")
	}
}

type callerFunc func(ctx context.Context, subject string, request []byte) ([]byte, error)

func (f callerFunc) Call(ctx context.Context, subject string, request []byte) ([]byte, error) {
	return f(ctx, subject, request)
}
