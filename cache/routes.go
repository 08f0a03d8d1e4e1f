package cache

import (
	"errors"
	"fmt"
	"net/http"
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
// descriptor names another version, or a route rs does not hold, is
// refused (the asker fills it itself); nil publishes none, refusing every
// fill. rs must come from c.NewRoutes. Safe for concurrent use with
// fills.
func (c *Cache) Publish(rs *Routes) { c.routes.Store(rs) }

// servedRoute is the published handler that fills fr's route under fr's
// version, or nil with the published version ("none" when none is).
func (c *Cache) servedRoute(fr *fillRequest) (*handler, string) {
	rs := c.routes.Load()
	if rs == nil {
		return nil, "none"
	}
	if rs.version == fr.Version {
		if h := rs.route(fr.Route); h != nil {
			return h, ""
		}
	}
	return nil, fmt.Sprint(rs.version)
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
