package node

import (
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/portico-gw/portico/cache"
	"github.com/portico-gw/portico/cluster"
	"github.com/portico-gw/portico/cluster/ring"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/problem"
)

// This file adapts the cluster to the cache (docs/architecture.md: adapters in
// one file): owners from the ring, peer addresses from gossip, the peer
// transport. The owner's fill path is each cached route's fill chain,
// registered per snapshot (compile: cache.Routes, published at the swap).

// newCache builds the node's cache tiers. The cluster starts later (Start),
// so the owner picker looks it up on each call; until then, and on a
// single node, every key is this node's.
func (n *Node) newCache(nc config.Node) (*cache.Cache, error) {
	return cache.New(cache.Config{
		Name:         nc.Name,
		MaxBytes:     nc.Cache.MaxBytes.Bytes(),
		NearMaxBytes: nc.Cache.NearMaxBytes.Bytes(),
		NearTTL:      nc.Cache.NearTTL.D(),
		PeerTimeout:  nc.Cache.PeerTimeout.D(),
		Owners:       &owners{n: n, self: nc.Name, region: nc.Region},
		Transport:    peerTransport{n},
		Peers:        n.livePeerAddrs,
		Now:          n.now,
		Problem:      answerProblem,
		Registerer:   n.reg,
		Logger:       n.logger.With("component", "cache"),
	})
}

// cachePolicy turns a route's cache section into the cache's Policy. A
// route that authenticates always keys entries by consumer: the
// credential is removed before the cache sees the request, so without it
// one consumer's answer could be served to another.
func cachePolicy(rc config.Route) cache.Policy {
	c := rc.Cache
	var consumer func(*http.Request) string
	if rc.Auth != nil || c.Key.Consumer {
		consumer = consumerOf
	}
	return cache.Policy{
		Route:                rc.Name,
		TTL:                  c.TTL.D(),
		Override:             c.Override,
		Key:                  cache.KeySpec{Headers: c.Key.Headers, Cookies: c.Key.Cookies, IgnoreQuery: c.Key.IgnoreQuery, Consumer: consumer},
		Vary:                 c.Vary,
		Methods:              c.Methods,
		Statuses:             c.Statuses,
		MaxObjectSize:        c.MaxObjectSize.Bytes(),
		StaleWhileRevalidate: c.StaleWhileRevalidate.D(),
		StaleIfError:         c.StaleIfError.D(),
		Scope:                c.Scope,
		AllowAuthorization:   c.AllowAuthorization,
		AllowSetCookie:       c.AllowSetCookie,
		TagHeaders:           c.TagHeaders,
	}
}

// answerProblem is how the cache answers a problem of its own: through
// the request's exchange (request id, the access log's error) when it has
// one.
func answerProblem(w http.ResponseWriter, r *http.Request, t problem.Type) {
	if ex := exchange.Of(r); ex != nil {
		ex.Fail(w, t)
		return
	}
	problem.Write(w, t, "")
}

// consumerOf is the cache key's consumer part on the node that took the
// client's request: the name the route's authenticator found ("" when
// anonymous). An owner filling for a peer keys by the consumer the fill
// names instead.
func consumerOf(r *http.Request) string {
	if ex := exchange.Of(r); ex != nil {
		return ex.Who.Consumer
	}
	return ""
}

// owners is the cache's OwnerPicker over the cluster's ring. The ring
// names members; their peer addresses come from gossip, looked up again
// only when the ring changes (a new *ring.Ring).
type owners struct {
	n      *Node
	self   string
	region string
	view   atomic.Pointer[ownerView]
}

type ownerView struct {
	ring  *ring.Ring
	peers map[string]string // member name → peer address
}

// Owner implements cache.OwnerPicker.
func (o *owners) Owner(key, scope string) (string, bool) {
	c := o.n.clusterOf()
	if c == nil {
		return "", true
	}
	v := peerView(c, &o.view)
	r := v.ring
	if scope == cache.ScopeRegion {
		r = r.Scope(o.region)
	}
	m, ok := r.Owner(key)
	if !ok || m.ID == o.self {
		return "", true
	}
	addr, ok := v.peers[m.ID]
	if !ok {
		return "", true // no address yet: serve it here
	}
	return addr, false
}

// peerView returns the cluster's ring with its members' peer addresses,
// cached in *cached and rebuilt only when the ring changes. Safe for
// concurrent use: racing rebuilds store equal views.
func peerView(c *cluster.Cluster, cached *atomic.Pointer[ownerView]) *ownerView {
	r := c.Ring()
	v := cached.Load()
	if v != nil && v.ring == r {
		return v
	}
	v = &ownerView{ring: r, peers: map[string]string{}}
	for _, m := range c.Members() {
		if m.PeerAddr != "" {
			v.peers[m.Name] = m.PeerAddr
		}
	}
	cached.Store(v)
	return v
}

// peerTransport is the cluster's authenticated transport, looked up per
// request since the cluster starts after the cache exists.
type peerTransport struct{ n *Node }

func (t peerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c := t.n.clusterOf()
	if c == nil {
		return nil, errNoCluster
	}
	return c.Transport().RoundTrip(r)
}

// peerCacheHandler is what the node mounts on the peer listener.
func (n *Node) peerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/cache/", n.cache.PeerHandler())
	mux.Handle("/limiter/v1/", n.limits.PeerHandler())
	return mux
}

// clusterOf returns the node's cluster, or nil on a single node or before
// Start.
func (n *Node) clusterOf() *cluster.Cluster { return n.clusterPtr.Load() }

// livePeers returns the peer addresses of the other live members, for
// cluster-wide purges, keyed by node name.
func (n *Node) livePeers() map[string]string {
	c := n.clusterOf()
	if c == nil {
		return nil
	}
	self := n.Snapshot().Node.Name
	out := map[string]string{}
	for _, m := range c.Members() {
		if m.Name != self && m.PeerAddr != "" && (m.State == cluster.Alive || m.State == cluster.Suspect) {
			out[m.Name] = m.PeerAddr
		}
	}
	return out
}

// livePeerAddrs lists the peer addresses of the other alive members:
// where a successful unsafe request's invalidation goes, before its answer
// does. Suspect members (probably down) are left out: every write would
// otherwise wait the whole peer timeout for a node that does not answer;
// what such a node holds lives out its freshness (near copies NearTTL).
func (n *Node) livePeerAddrs() []string {
	c := n.clusterOf()
	if c == nil {
		return nil
	}
	self := n.Snapshot().Node.Name
	var out []string
	for _, m := range c.Members() {
		if m.Name != self && m.PeerAddr != "" && m.State == cluster.Alive {
			out = append(out, m.PeerAddr)
		}
	}
	return out
}

// errNoCluster: a peer request on a node that has no cluster (yet).
var errNoCluster = errors.New("no cluster: this node has no peers")

// purgeTimeout bounds a cluster-wide purge.
const purgeTimeout = 5 * time.Second
