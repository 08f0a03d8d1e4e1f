package cache

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// Fill is what the node that took a client's request tells the key's
// owner about it, beyond the request itself.
type Fill struct {
	// Route is the route's name (Policy.Route).
	Route string
	// Version is the config version the asker routed the request under
	// (the version of the Routes its handler belongs to).
	Version int64
	// Consumer is the consumer the answer is for ("" when anonymous, or
	// when the route's key has no consumer part): Policy.Key.Consumer(r)
	// on the asker. The owner keys the fill with it.
	Consumer string
}

// FillHandler is a route's fill chain: its upstream and response stages,
// nothing client-facing.
//
// ServeHTTP serves this node's own clients' misses (the node's client
// stages ran before it). ServeFill serves the fills the cache makes
// without a client's request in front of it — a peer's fill on the
// owner, a background refresh — and must set up what the chain needs from
// f (the consumer, say): no client stage of this node ran for that
// request. Both are called with a request the chain may read but that the
// cache built or owns: on ServeFill it shares nothing with any client's
// request.
type FillHandler interface {
	http.Handler
	ServeFill(w http.ResponseWriter, r *http.Request, f Fill)
}

// Routes is the set of cached routes of one config version: the route
// handlers a peer's fill is served with once the set is published
// (Cache.Publish). Build one per config snapshot with Cache.NewRoutes,
// register each cached route with Middleware, then publish it when the
// snapshot is swapped in. It is safe for concurrent use.
type Routes struct {
	c       *Cache
	version int64

	mu     sync.RWMutex
	routes map[string]*handler // by Policy.Route
}

// NewRoutes returns an empty set of cached routes for config version
// version.
func (c *Cache) NewRoutes(version int64) *Routes {
	return &Routes{c: c, version: version, routes: make(map[string]*handler)}
}

// Middleware returns the handler that caches route p's responses in front
// of next, the route's fill chain, and registers it in rs under p.Route
// (route names must be unique within rs; "" is a name like any other).
// It validates p (see Policy.Validate). Clients' requests go to the
// returned handler; it calls next.ServeHTTP for them, and
// next.ServeFill for the fills it makes as owner for a peer or in the
// background. The handler is safe for concurrent use.
func (rs *Routes) Middleware(p Policy, next FillHandler) (http.Handler, error) {
	if next == nil {
		return nil, errors.New("cache middleware: nil next handler")
	}
	cp, err := compile(p)
	if err != nil {
		return nil, fmt.Errorf("cache policy of route %q: %w", p.Route, err)
	}
	h := &handler{c: rs.c, rs: rs, p: cp, next: next}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if _, dup := rs.routes[p.Route]; dup {
		return nil, fmt.Errorf("cache policy of route %q: the route is already cached in this route set", p.Route)
	}
	rs.routes[p.Route] = h
	return h, nil
}

// route is the handler registered under name, or nil.
func (rs *Routes) route(name string) *handler {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	return rs.routes[name]
}

// Publish makes rs the set peers' fills are served from: the node calls
// it when it swaps in the snapshot rs was built for. A fill whose
// descriptor names another version is refused (the asker fills it
// itself) unless rs's handler of its route holds a fresh entry for it;
// one that names a route rs does not hold is refused, and so is every
// fill while rs's version or the descriptor's is 0 (no cluster config
// yet: the version names no one config). nil publishes none, refusing
// every fill. rs must come from c.NewRoutes: a Routes built by another
// Cache is ignored (logged; the published set stays as it was), since
// its handlers would serve and store in that Cache's tiers. Safe for
// concurrent use with fills.
func (c *Cache) Publish(rs *Routes) {
	if rs != nil && rs.c != c {
		c.cfg.Logger.Error("cache: Publish ignored a Routes built by another Cache", "version", rs.version)
		return
	}
	c.routes.Store(rs)
}

// servedRoute is the published handler of fr's route, with same set
// when it fills under fr's version, and the published version ("none"
// when none is) for a refusal. h is nil when the fill is refused
// outright: none published, no such route, or a version 0 on either
// side.
func (c *Cache) servedRoute(fr *fillRequest) (h *handler, same bool, served string) {
	rs := c.routes.Load()
	if rs == nil {
		return nil, false, "none"
	}
	served = strconv.FormatInt(rs.version, 10)
	if rs.version == 0 || fr.Version == 0 {
		return nil, false, served
	}
	return rs.route(fr.Route), rs.version == fr.Version, served
}

// serveFresh answers a peer's fill made under another config version,
// if it can without filling: with the owner tier's fresh entry for r (its
// variant, as for any hit), keyed with f.Consumer, when that key is the
// one the asker sent (askerKey; the versions may build keys differently).
// It reports whether it answered; when it did not, it wrote nothing.
func (h *handler) serveFresh(w http.ResponseWriter, r *http.Request, f *Fill, pr *peerReply, askerKey string) bool {
	c, p := h.c, h.p
	if c.stopped.Load() || !p.cacheableRequest(r) {
		return false
	}
	key := p.key(r, f.Consumer)
	if key == "" || key != askerKey {
		return false
	}
	e, _ := c.owner.lookup(p, key, r)
	now := c.now()
	if e == nil || e.state(now) != fresh {
		return false
	}
	c.metrics.served(outcomeHit, true)
	c.serve(w, r, pr, e, now, "hit", e.hitStatus, nil)
	return true
}

// callNext runs r through h's next: ServeFill when f is set (the cache's
// own fills), else ServeHTTP (this node's client).
func (h *handler) callNext(w http.ResponseWriter, r *http.Request, f *Fill) {
	if f != nil {
		h.next.ServeFill(w, r, *f)
		return
	}
	h.next.ServeHTTP(w, r)
}

// plainNext is the next of Invalidating's handler, which never fills.
type plainNext struct{ http.Handler }

func (n plainNext) ServeFill(w http.ResponseWriter, r *http.Request, _ Fill) { n.ServeHTTP(w, r) }
