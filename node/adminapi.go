package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-gw/portico/cache"
	"github.com/portico-gw/portico/node/admin"
	"github.com/portico-gw/portico/node/config"
)

// adminHandler builds the admin API (package admin) over this node. Every
// endpoint but /health and /ready needs "Authorization: Bearer TOKEN" when
// token is set (config validation refuses a non-loopback admin address
// without one).
func (n *Node) adminHandler(token string) http.Handler {
	a := adminAPI{n}
	return admin.New(admin.Options{
		Token:     token,
		Logger:    n.logger,
		Config:    a,
		Readiness: a,
		Metrics:   promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}),
		Purger:    a,
		Usage:     a,
		Cluster:   a,
	})
}

// adminAPI implements package admin's interfaces over the node.
type adminAPI struct{ n *Node }

// Snapshot is the served config.
func (a adminAPI) Snapshot() *config.Snapshot { return a.n.Snapshot() }

// Apply is ApplyGateway.
func (a adminAPI) Apply(ctx context.Context, source string, body []byte, o config.ApplyOptions) (*config.Snapshot, error) {
	return a.n.ApplyGateway(ctx, source, body, o)
}

// Draining is true once Shutdown began.
func (a adminAPI) Draining() bool { return a.n.draining.Load() }

// Purge removes what s selects on this node and every live peer, within
// purgeTimeout; the report names nodes, not peer addresses.
func (a adminAPI) Purge(ctx context.Context, s admin.Selector) (admin.PurgeReport, error) {
	sel := cache.Selector{Key: s.Key, Prefix: s.Prefix, Tag: s.Tag}
	if err := sel.Validate(); err != nil {
		return admin.PurgeReport{}, fmt.Errorf("%w: %v", admin.ErrBadSelector, err)
	}
	peers := a.n.livePeers()
	addrs := make([]string, 0, len(peers))
	names := make(map[string]string, len(peers))
	for name, addr := range peers {
		addrs = append(addrs, addr)
		names[addr] = name
	}
	ctx, cancel := context.WithTimeout(ctx, purgeTimeout)
	defer cancel()
	rep := a.n.cache.PurgeCluster(ctx, sel, addrs)
	res := admin.PurgeReport{Removed: map[string]int{a.n.Snapshot().Node.Name: rep.Removed}, Complete: len(rep.Failed) == 0}
	for addr, k := range rep.Acked {
		res.Removed[names[addr]] = k
	}
	if len(rep.Failed) > 0 {
		res.Failed = make(map[string]string, len(rep.Failed))
		for addr, err := range rep.Failed {
			res.Failed[names[addr]] = err.Error()
		}
	}
	return res, nil
}

// Members lists the cluster's members; ok is false without a cluster.
func (a adminAPI) Members() ([]admin.Member, bool) {
	c := a.n.clusterOf()
	if c == nil {
		return nil, false
	}
	var out []admin.Member
	for _, m := range c.Members() {
		out = append(out, admin.Member{Name: m.Name, Region: m.Region, Zone: m.Zone, State: m.State.String(),
			Server: m.Server, Version: m.Version, Gossip: m.Addr, EdgeAddr: m.EdgeAddr, AdminAddr: m.AdminAddr})
	}
	return out, true
}

// Status is the cluster's status; ok is false without a cluster.
func (a adminAPI) Status(ctx context.Context) (any, bool) {
	c := a.n.clusterOf()
	if c == nil {
		return nil, false
	}
	return c.Status(ctx), true
}

// adminTLS builds the admin listener's TLS config from node.admin.tls:
// its certificate and, with client_ca, mutual TLS (every client presents
// a certificate signed by one of those CAs).
func adminTLS(t *config.AdminTLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("node.admin.tls cert/key: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCA != "" {
		if tc.ClientCAs, err = certPool(t.ClientCA, "node.admin.tls.client_ca"); err != nil {
			return nil, err
		}
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
