package node

import (
	"context"
	"path/filepath"
	"sync/atomic"

	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/limit"
)

// This file wires the limiter into the node: its construction and its
// adapter over the cluster's ring. The stages that ask it are node/limit's.

// newLimits builds the node's limiter (quota counters in
// data_dir/limiter), the IP guard of node.server.ip_rate_limit and the
// per-route decision counters. Like the cache, the limiter exists before
// the cluster starts: until then, and on a single node, this node owns
// every key.
func (n *Node) newLimits(nc config.Node) error {
	cfg := limiter.Config{
		Name:       nc.Name,
		Owners:     &limitOwners{n: n, self: nc.Name},
		Transport:  peerTransport{n},
		DataDir:    filepath.Join(nc.DataDir, "limiter"),
		Now:        n.now,
		Registerer: n.reg,
		Logger:     n.logger.With("component", "limiter"),
		// node.limiter.decision_timeout (0 from a config built in code:
		// the limiter's default, the same 250ms).
		DecisionTimeout: nc.Limiter.DecisionTimeout.D(),
	}
	if n.cfg.TuneLimiter != nil {
		n.cfg.TuneLimiter(&cfg)
	}
	var err error
	if n.limits, err = limiter.New(cfg); err != nil {
		return err
	}
	if n.limitShared, err = limit.NewShared(n.limits, n.reg, n.logger); err != nil {
		_ = n.limits.Close(context.Background()) // nothing sent yet: no cluster
		return err
	}
	n.ipGuard = limit.NewIPGuard(nc.Server.IPRateLimit, n.now)
	return nil
}

// limitOwners is the limiter's OwnerPicker and ReplicaPicker over the
// cluster's ring. Global limits count for the whole cluster, so it uses
// the ring of every region (the cache's owners scope to one). Safe for
// concurrent use; it never blocks.
type limitOwners struct {
	n    *Node
	self string
	view atomic.Pointer[ownerView]
}

var (
	_ limiter.OwnerPicker   = (*limitOwners)(nil)
	_ limiter.ReplicaPicker = (*limitOwners)(nil)
)

// Owner implements limiter.OwnerPicker.
func (o *limitOwners) Owner(key string) (string, bool) {
	c := o.n.clusterOf()
	if c == nil {
		return "", true
	}
	v := peerView(c, &o.view)
	m, ok := v.ring.Owner(key)
	if !ok || m.ID == o.self {
		return "", true
	}
	addr, ok := v.peers[m.ID]
	if !ok {
		return "", true // no address yet: decide here
	}
	return addr, false
}

// Nodes implements limiter.OwnerPicker: the live members, at least 1.
func (o *limitOwners) Nodes() int {
	c := o.n.clusterOf()
	if c == nil {
		return 1
	}
	return max(1, c.Ring().Len())
}

// Replica implements limiter.ReplicaPicker: the key's second owner on the
// ring, unless that is this node.
func (o *limitOwners) Replica(key string) (string, bool) {
	c := o.n.clusterOf()
	if c == nil {
		return "", false
	}
	v := peerView(c, &o.view)
	ms := v.ring.Owners(key, 2)
	if len(ms) < 2 || ms[1].ID == o.self {
		return "", false
	}
	addr, ok := v.peers[ms[1].ID]
	return addr, ok
}
