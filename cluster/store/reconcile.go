package store

import (
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

const (
	// idleReconcile is how often the reconcile loop re-runs with no news:
	// a safety net; every real change arrives through Reconcile or a
	// leadership gain.
	idleReconcile = 30 * time.Second
	// changesPerPass bounds the membership changes one pass makes before
	// yielding (each waits for a commit).
	changesPerPass = 8
	// changeTimeout bounds the enqueueing of one membership change.
	changeTimeout = 5 * time.Second
)

// Reconcile hands the store the current Raft-eligible membership: the live
// servers (this node included) and the departed ones with since-when. It
// returns at once; the store's reconcile goroutine acts on the latest view:
//
//   - before this node has any Raft state, with BootstrapExpect N > 0: once
//     N servers are live, if this node is among the N with the smallest IDs
//     and none of those has Raft state yet, it bootstraps a cluster of those
//     N as voters (the same configuration on each of them, so at most one
//     cluster forms); a node that finds a peer with state never bootstraps
//     and waits to be added;
//   - on the leader: adds, promotes and removes servers by the rules of
//     planner (plan.go), one committed change at a time, on every view, on
//     leadership gain, when a failed server reaches DeadServerTimeout, and
//     after a failed step;
//   - on other followers: nothing.
//
// Call it on every membership change; it may be called from any goroutine.
func (s *Store) Reconcile(servers []Server, gone map[string]Departure) {
	v := view{servers: slices.Clone(servers), gone: maps.Clone(gone)}
	s.mu.Lock()
	s.view, s.hasView = v, true
	s.mu.Unlock()
	s.kickReconcile()
}

func (s *Store) kickReconcile() {
	select {
	case s.kick <- struct{}{}:
	default: // a pass is already due; it will read the latest view
	}
}

func (s *Store) currentView() (view, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view, s.hasView
}

// reconcileLoop owns all Raft membership changes, so they never race one
// another and Reconcile never blocks.
func (s *Store) reconcileLoop() {
	timer := time.NewTimer(idleReconcile)
	defer timer.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		case <-timer.C:
		}
		timer.Reset(s.reconcileOnce())
	}
}

// reconcileOnce runs one pass and returns when the next is due.
func (s *Store) reconcileOnce() time.Duration {
	v, ok := s.currentView()
	if !ok {
		return idleReconcile
	}
	if s.raft.State() != raft.Leader {
		if s.bootstrapPending {
			return s.maybeBootstrap(v)
		}
		return idleReconcile
	}
	return s.reconcileMembers(v)
}

// reconcileMembers makes the leader's membership changes, re-reading the
// configuration after each (Raft allows one uncommitted change at a time,
// and prevIndex makes a change fail if the configuration moved under it).
func (s *Store) reconcileMembers(v view) time.Duration {
	for range changesPerPass {
		select {
		case <-s.stop:
			return idleReconcile
		default:
		}
		f := s.raft.GetConfiguration()
		if err := f.Error(); err != nil {
			s.log.Debug("reading raft configuration", "err", err)
			return s.retry
		}
		p := planner{self: s.cfg.ID, voterCap: s.cfg.Voters, deadAfter: s.cfg.DeadServerTimeout, now: s.cfg.Now()}
		servers := f.Configuration().Servers
		c, ok := p.next(servers, v.servers, v.gone)
		if !ok {
			if d, ok := p.wake(servers, v.servers, v.gone); ok {
				return min(d, idleReconcile)
			}
			return idleReconcile
		}
		if err := s.changeMembership(c, f.Index()); err != nil {
			s.log.Warn("changing raft membership failed; will retry",
				"change", c.kind.String(), "server", c.id, "addr", c.addr, "err", err)
			return s.retry
		}
		s.log.Info("changed raft membership", "change", c.kind.String(), "server", c.id, "addr", c.addr, "reason", c.reason)
	}
	return 0 // more to do: continue right away, after checking s.stop
}

// changeMembership applies c and waits for it to commit.
func (s *Store) changeMembership(c change, prevIndex uint64) error {
	id, addr := raft.ServerID(c.id), raft.ServerAddress(c.addr)
	var f raft.IndexFuture
	switch c.kind {
	case addVoter:
		f = s.raft.AddVoter(id, addr, prevIndex, changeTimeout)
	case addNonvoter:
		f = s.raft.AddNonvoter(id, addr, prevIndex, changeTimeout)
	case removeServer:
		f = s.raft.RemoveServer(id, prevIndex, changeTimeout)
	}
	return f.Error()
}
