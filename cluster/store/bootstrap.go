package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// maybeBootstrap is the bootstrap_expect step of a reconcile pass on a node
// without Raft state. It returns when the next pass is due.
func (s *Store) maybeBootstrap(v view) time.Duration {
	if s.raft.LastIndex() > 0 || s.raft.CurrentTerm() > 0 {
		// A leader reached us first: we are part of a cluster already.
		s.bootstrapPending = false
		return idleReconcile
	}
	chosen, ok := bootstrapSet(s.cfg.ID, s.Addr(), v.servers, s.cfg.BootstrapExpect)
	if !ok {
		return idleReconcile // too few servers yet, or the leader will add us
	}
	// Like Consul, ask the chosen peers whether any already has Raft state:
	// a server that joins an existing cluster with a small ID would
	// otherwise bootstrap a second one.
	for _, srv := range chosen {
		if srv.ID == s.cfg.ID {
			continue
		}
		term, err := s.probeTerm(srv)
		if err != nil {
			s.log.Debug("bootstrap: peer not reachable yet", "peer", srv.ID, "err", err)
			return s.retry
		}
		if term > 0 {
			s.log.Info("bootstrap: peers already have raft state; waiting to be added by their leader", "peer", srv.ID)
			s.bootstrapPending = false
			return idleReconcile
		}
	}
	conf := raft.Configuration{}
	for _, srv := range chosen {
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(srv.ID), Address: raft.ServerAddress(srv.Addr)})
	}
	err := s.raft.BootstrapCluster(conf).Error()
	switch {
	case errors.Is(err, raft.ErrCantBootstrap):
		s.bootstrapPending = false // state arrived meanwhile
	case err != nil:
		s.log.Warn("bootstrapping raft cluster failed; will retry", "err", err)
		return s.retry
	default:
		s.bootstrapPending = false
		s.log.Info("bootstrapped raft cluster", "servers", serverIDs(chosen))
	}
	return idleReconcile
}

// bootstrapSet returns the n servers with the smallest IDs among live (plus
// self at selfAddr if live lacks it), and whether self is among them. Every
// node with the same view computes the same set, in the same order.
func bootstrapSet(self, selfAddr string, live []Server, n int) ([]Server, bool) {
	byID := make(map[string]Server, len(live)+1)
	byID[self] = Server{ID: self, Addr: selfAddr}
	for _, srv := range live {
		byID[srv.ID] = srv // the gossiped address wins for self: peers use it
	}
	if len(byID) < n {
		return nil, false
	}
	all := make([]Server, 0, len(byID))
	for _, srv := range byID {
		all = append(all, srv)
	}
	slices.SortFunc(all, func(a, b Server) int { return strings.Compare(a.ID, b.ID) })
	chosen := all[:n]
	return chosen, slices.ContainsFunc(chosen, func(srv Server) bool { return srv.ID == self })
}

// probeTerm asks srv for its current Raft term with a pre-vote request,
// which has no side effect on the receiver: term 0 means it has no state.
// A transport without pre-vote can't ask; it reports 0.
func (s *Store) probeTerm(srv Server) (uint64, error) {
	pv, ok := s.trans.(raft.WithPreVote)
	if !ok {
		return 0, nil
	}
	id := raft.ServerID(s.cfg.ID)
	req := &raft.RequestPreVoteRequest{RPCHeader: raft.RPCHeader{
		ProtocolVersion: raft.ProtocolVersionMax,
		ID:              []byte(id),
		Addr:            s.trans.EncodePeer(id, s.trans.LocalAddr()),
	}}
	var resp raft.RequestPreVoteResponse
	if err := pv.RequestPreVote(raft.ServerID(srv.ID), raft.ServerAddress(srv.Addr), req, &resp); err != nil {
		return 0, fmt.Errorf("asking %s for its raft term: %w", srv.ID, err)
	}
	return resp.Term, nil
}

func serverIDs(servers []Server) []string {
	ids := make([]string, len(servers))
	for i, srv := range servers {
		ids[i] = srv.ID
	}
	return ids
}
