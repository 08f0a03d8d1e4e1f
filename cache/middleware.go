package cache

import (
	"net/http"

	"github.com/portico-gw/portico/problem"
)

// handler is the Middleware of one route.
type handler struct {
	c    *Cache
	rs   *Routes // the set it is registered in; nil for Invalidating
	p    *policy
	next FillHandler
}

var _ http.Handler = (*handler)(nil)

// call is one cacheable request that missed: what its fill needs.
type call struct {
	h        *handler
	c        *Cache
	p        *policy
	w        http.ResponseWriter // nil for a background refresh
	r        *http.Request
	asFill   *Fill      // set when the cache made r itself (a peer's fill, a refresh): next.ServeFill
	pr       *peerReply // non-nil when a peer sent r: answer raw
	key      string
	consumer string // the key's consumer part
	owner    string // the owning peer, when not self
	self     bool
	t        *tier // owner tier when self, else near tier
}

// ServeHTTP answers a client's request r from the cache when it can: a
// fresh entry here (the owner tier, or the near tier for keys owned
// elsewhere), else the owner's answer, else a fill from next, coalesced
// with concurrent requests for the same key at each hop.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, nil, nil)
}

// serve answers r. f is nil for a client's request; for a peer's fill it
// is what the asker sent, and pr takes the answer's metadata: the request
// is then served as owner, never forwarded, and keyed with f.Consumer.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, f *Fill, pr *peerReply) {
	c, p := h.c, h.p
	if !p.cacheableRequest(r) {
		if f == nil && !safeMethod(r.Method) && !c.stopped.Load() {
			h.invalidating(w, r)
			return
		}
		h.bypass(w, r, "method", f)
		return
	}
	if c.stopped.Load() {
		h.bypass(w, r, "closed", f)
		return
	}
	var consumer string
	if f != nil {
		consumer = f.Consumer
	} else if p.Key.Consumer != nil {
		consumer = p.Key.Consumer(r)
	}
	key := p.key(r, consumer)
	if key == "" {
		h.bypass(w, r, "path", f)
		return
	}
	owner, self := c.ownerOf(key, p, f != nil)
	t := c.tierFor(self)
	e, fk := t.lookup(p, key, r)
	now := c.now()
	if e != nil {
		switch e.state(now) {
		case fresh:
			c.metrics.served(outcomeHit, self)
			c.serve(w, r, pr, e, now, "hit", e.hitStatus, nil)
			return
		case staleServing:
			c.metrics.served(outcomeStale, self)
			c.serve(w, r, pr, e, now, "hit; stale; detail=stale-while-revalidate", nil, nil)
			h.refreshLater(r, key, fk, consumer)
			return
		}
	}
	x := &call{h: h, c: c, p: p, w: w, r: r, asFill: f, pr: pr, key: key, consumer: consumer,
		owner: owner, self: self, t: t}
	switch {
	case onlyIfCached(r):
		x.onlyIfCached()
	case len(r.Header["Range"]) > 0:
		x.pass("fwd=miss; detail=range") // a range of a miss is not worth a whole fill
	default:
		x.fill(fk, e)
	}
}

// fillFor is the Fill of a request h serves whose key's consumer is
// consumer: h's route, the version of its Routes, the consumer. It is
// what this node asks an owner with, and what its refreshes fetch with.
func (h *handler) fillFor(consumer string) Fill {
	var version int64
	if h.rs != nil {
		version = h.rs.version
	}
	return Fill{Route: h.p.Route, Version: version, Consumer: consumer}
}

// bypass sends a request the cache stays out of straight to next.
// f is set for the cache's own requests (a peer's fill), which get no
// Cache-Status line here: the asker adds its own.
func (h *handler) bypass(w http.ResponseWriter, r *http.Request, detail string, f *Fill) {
	h.c.metrics.served(outcomeBypass, true)
	if f == nil {
		w.Header()["Cache-Status"] = []string{statusLine("fwd=bypass; detail="+detail, h.c.cfg.Name)}
	}
	h.around(w, r, nil, f)
}

// fill gets the response for a miss (or an entry that needs revalidation:
// stale) through the flight on fk: the leader fetches, the others wait and
// share its entry. A waiter whose variant the entry is not looks once more
// (the marker now says which variant it needs); a waiter left without an
// entry goes upstream itself.
func (x *call) fill(fk string, stale *entry) {
	for round := 0; ; round++ {
		fl := x.flightKey(fk)
		f, leader := x.c.flights.join(fl)
		if leader {
			x.lead(f, fl, stale)
			return
		}
		res, ok := f.wait(x.r.Context())
		if !ok {
			return // the client left
		}
		if res.e != nil && x.matches(res.e) {
			x.c.metrics.served(outcomeCollapsed, x.self)
			x.c.serve(x.w, x.r, x.pr, res.e, x.c.now(), res.verdict+"; collapsed", nil, nil)
			return
		}
		if res.e == nil || round > 0 || res.e.primary != x.key {
			x.pass(res.verdict)
			return
		}
		// Another variant: ours is known now, and may be stored already.
		fk = variantKey(x.key, res.e.vary, x.r)
		e := x.t.get(fk)
		if now := x.c.now(); e != nil && e.state(now) == fresh {
			x.c.serve(x.w, x.r, x.pr, e, now, "hit", e.hitStatus, nil)
			return
		}
		stale = e
	}
}

// flightKey is the flight a fill of fk joins. Fills that ask an owner
// and fills made as owner never share a flight: while rings disagree, a
// node asking its peer for a key could otherwise wait on the peer's
// request to it, and that on the first (a cycle only PeerTimeout breaks).
func (x *call) flightKey(fk string) string {
	if x.self {
		return fk
	}
	return "near " + fk
}

// matches reports whether e is the variant of x's key that x.r wants.
func (x *call) matches(e *entry) bool {
	if e.primary != x.key {
		return false
	}
	return len(e.vary) == 0 || variantKey(x.key, e.vary, x.r) == e.key
}

// lead fetches for the flight fl: from the owner when another node owns
// the key, falling back to the upstream when the owner fails.
func (x *call) lead(f *flight, fl string, stale *entry) {
	defer x.c.flights.forget(fl, f)
	if !x.self && x.fromOwner(f) {
		return
	}
	x.fetch(f, stale)
}

// pass sends r upstream outside the cache: not coalesced, not stored.
func (x *call) pass(verdict string) {
	if verdict == "" || verdict == "hit" {
		verdict = "fwd=miss"
	}
	x.c.metrics.served(outcomeUncacheable, x.self)
	if x.pr != nil {
		x.pr.verdict = verdict
	} else {
		x.w.Header()["Cache-Status"] = []string{statusLine(verdict, x.c.cfg.Name)}
	}
	x.h.around(x.w, x.p.upstreamRequest(x.r, nil), nil, x.asFill)
}

// onlyIfCached answers a request with Cache-Control: only-if-cached that
// missed here: the owner may have it, else 504 (RFC 9111 §5.2.1.7) with
// a not-cached problem body.
func (x *call) onlyIfCached() {
	if !x.self {
		f := &flight{done: make(chan struct{})} // nobody waits on it
		if x.fromOwner(f) {
			return
		}
	}
	if x.pr != nil {
		x.pr.verdict = "fwd=miss; detail=only-if-cached"
	} else {
		x.w.Header()["Cache-Status"] = []string{statusLine("fwd=miss; detail=only-if-cached", x.c.cfg.Name)}
	}
	if f := x.c.cfg.Problem; f != nil {
		f(x.w, x.r, problem.NotCached)
		return
	}
	problem.Write(x.w, problem.NotCached, "")
}

func onlyIfCached(r *http.Request) bool {
	return len(r.Header["Cache-Control"]) > 0 && parseCacheControl(r.Header).onlyIfCached
}

// refreshLater revalidates the stale entry r was served in the
// background, once per entry: the route's handler fills the key as owner
// with a copy of r that shares nothing with it (rebuilt as a peer's fill
// is, under the Cache's context), and its fetch calls next.ServeFill with
// this node's Fill for r: the route, this Routes' version and the key's
// consumer. The client's conditionals and hop-by-hop fields are not
// copied.
func (h *handler) refreshLater(r *http.Request, key, fk, consumer string) {
	c := h.c
	f := h.fillFor(consumer)
	req, err := newFillRequest(r, "", f).request(c.ctx)
	if err != nil {
		return // not expected: r is a request this node accepted
	}
	c.spawn(fk, func() { h.refreshNow(req, key, &f) })
}

// refreshNow is a background refresh: it fills key unless its entry is
// fresh again or another fill is under way. The answer goes nowhere.
func (h *handler) refreshNow(r *http.Request, key string, f *Fill) {
	c := h.c
	stale, fk := c.owner.lookup(h.p, key, r)
	if stale != nil && stale.state(c.now()) == fresh {
		return
	}
	fl, leader := c.flights.join(fk)
	if !leader {
		return
	}
	defer c.flights.forget(fk, fl)
	x := &call{h: h, c: c, p: h.p, r: r, asFill: f, key: key, consumer: f.Consumer, self: true, t: c.owner}
	x.fetch(fl, stale)
}
