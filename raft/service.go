package raft

import (
	"context"
	"errors"

	"github.com/natsraft/natsraft/raft/wire"
)

// clientService serves the client-facing RPCs of wire.ClientHandler with a
// Node. Transports call it for requests that arrive over the network.
type clientService struct{ n *Node }

// NewClientService returns a wire.ClientHandler that serves proposals,
// linearizable reads and status requests with n, turning errors into the
// wire's error codes.
func NewClientService(n *Node) wire.ClientHandler { return clientService{n} }

func (s clientService) wrongCluster(cluster string) bool {
	return cluster != "" && cluster != s.n.cfg.Cluster
}

func (s clientService) Propose(ctx context.Context, req *wire.ProposeRequest) *wire.ProposeResponse {
	if s.wrongCluster(req.Cluster) {
		return &wire.ProposeResponse{Error: wire.ErrorCodeInvalid, Message: "request for cluster " + req.Cluster + " reached cluster " + s.n.cfg.Cluster}
	}
	res, err := s.n.Propose(ctx, req.Command)
	if err != nil {
		code, leader := errorCode(err)
		return &wire.ProposeResponse{Error: code, Message: err.Error(), Leader: leader}
	}
	return &wire.ProposeResponse{Index: res.Index, Result: res.Value}
}

// ProposeBatch proposes the request's commands in order. A node that is
// not the leader fails the whole batch with NotLeader, so the client
// redirects it as one request.
func (s clientService) ProposeBatch(ctx context.Context, req *wire.ProposeBatchRequest) *wire.ProposeBatchResponse {
	if s.wrongCluster(req.Cluster) {
		return &wire.ProposeBatchResponse{Error: wire.ErrorCodeInvalid, Message: "request for cluster " + req.Cluster + " reached cluster " + s.n.cfg.Cluster}
	}
	if !s.n.IsLeader() {
		leader := s.n.Leader()
		err := &NotLeaderError{Leader: leader}
		return &wire.ProposeBatchResponse{Error: wire.ErrorCodeNotLeader, Message: err.Error(), Leader: leader}
	}
	results := s.n.ProposeBatch(ctx, req.Commands)
	resp := &wire.ProposeBatchResponse{Responses: make([]wire.ProposeResponse, len(results))}
	for i, r := range results {
		if r.Err != nil {
			code, leader := errorCode(r.Err)
			resp.Responses[i] = wire.ProposeResponse{Error: code, Message: r.Err.Error(), Leader: leader}
			continue
		}
		resp.Responses[i] = wire.ProposeResponse{Index: r.Index, Result: r.Value}
	}
	return resp
}

func (s clientService) Read(ctx context.Context, req *wire.ReadRequest) *wire.ReadResponse {
	if s.wrongCluster(req.Cluster) {
		return &wire.ReadResponse{Error: wire.ErrorCodeInvalid, Message: "request for cluster " + req.Cluster + " reached cluster " + s.n.cfg.Cluster}
	}
	read := s.n.Read
	if req.Stale {
		read = s.n.ReadStale
	}
	v, index, err := read(ctx, req.Query)
	if err != nil {
		code, leader := errorCode(err)
		return &wire.ReadResponse{Error: code, Message: err.Error(), Leader: leader}
	}
	return &wire.ReadResponse{Result: v, Index: index}
}

func (s clientService) Status(_ context.Context, _ *wire.StatusRequest) *wire.StatusResponse {
	st := s.n.Status()
	return &wire.StatusResponse{
		Cluster:      st.Cluster,
		Node:         st.ID,
		Role:         st.Role.String(),
		Term:         st.Term,
		Leader:       st.Leader,
		FirstIndex:   st.FirstIndex,
		LastIndex:    st.LastIndex,
		CommitIndex:  st.CommitIndex,
		AppliedIndex: st.AppliedIndex,
		Voters:       st.Voters,
	}
}

// errorCode maps a Propose or Read error to its wire code and leader hint.
func errorCode(err error) (wire.ErrorCode, string) {
	var nl *NotLeaderError
	switch {
	case errors.As(err, &nl):
		return wire.ErrorCodeNotLeader, nl.Leader
	case errors.Is(err, ErrOutcomeUnknown):
		return wire.ErrorCodeOutcomeUnknown, ""
	case errors.Is(err, ErrShutdown):
		return wire.ErrorCodeShuttingDown, ""
	case errors.Is(err, ErrOverloaded):
		return wire.ErrorCodeOverloaded, ""
	case errors.Is(err, ErrProposalDropped):
		return wire.ErrorCodeDropped, ""
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// Reads and unappended proposals that timed out changed nothing.
		return wire.ErrorCodeOverloaded, ""
	}
	return wire.ErrorCodeInternal, ""
}
