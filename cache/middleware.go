package cache

import (
	"context"
	"net/http"
	"time"
)

// handler is the Middleware of one route.
type handler struct {
	c    *Cache
	p    *policy
	next http.Handler
}

var _ http.Handler = (*handler)(nil)

// call is one cacheable request that missed: what its fill needs.
type call struct {
	h     *handler
	c     *Cache
	p     *policy
	w     http.ResponseWriter // nil for a background refresh
	r     *http.Request
	pr    *peerReply // non-nil when a peer sent r: answer raw
	key   string
	owner string // the owning peer, when not self
	self  bool
	t     *tier // owner tier when self, else near tier
}

// ServeHTTP answers r from the cache when it can: a fresh entry here (the
// owner tier, or the near tier for keys owned elsewhere), else the owner's
// answer, else a fill from next, coalesced with concurrent requests for
// the same key at each hop.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, p := h.c, h.p
	if !p.cacheableRequest(r) {
		if !safeMethod(r.Method) && !c.stopped.Load() {
			h.invalidating(w, r)
			return
		}
		h.bypass(w, r, "method")
		return
	}
	if c.stopped.Load() {
		h.bypass(w, r, "closed")
		return
	}
	key := p.keyOf(r)
	if key == "" {
		h.bypass(w, r, "path")
		return
	}
	mark := markOf(r.Context())
	owner, self := c.ownerOf(key, p, mark != nil)
	t := c.tierFor(self)
	e, fk := t.lookup(p, key, r)
	now := c.now()
	var pr *peerReply
	if mark != nil {
		pr = mark.reply
		if mark.refresh {
			h.refreshNow(r, key, fk, e, now)
			return
		}
	}
	if e != nil {
		switch e.state(now) {
		case fresh:
			c.metrics.served(outcomeHit, self)
			c.serve(w, r, pr, e, now, "hit", e.hitStatus, nil)
			return
		case staleServing:
			c.metrics.served(outcomeStale, self)
			c.serve(w, r, pr, e, now, "hit; stale; detail=stale-while-revalidate", nil, nil)
			h.refreshLater(r, fk)
			return
		}
	}
	x := &call{h: h, c: c, p: p, w: w, r: r, pr: pr, key: key, owner: owner, self: self, t: t}
	switch {
	case onlyIfCached(r):
		x.onlyIfCached()
	case len(r.Header["Range"]) > 0:
		x.pass("fwd=miss; detail=range") // a range of a miss is not worth a whole fill
	default:
		x.fill(fk, e)
	}
}

// bypass sends a request the cache stays out of straight to next.
func (h *handler) bypass(w http.ResponseWriter, r *http.Request, detail string) {
	h.c.metrics.served(outcomeBypass, true)
	if markOf(r.Context()) == nil {
		w.Header()["Cache-Status"] = []string{statusLine("fwd=bypass; detail="+detail, h.c.cfg.Name)}
	}
	h.around(w, r, nil)
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
	x.h.around(x.w, x.p.upstreamRequest(x.r, nil), nil)
}

// onlyIfCached answers a request with Cache-Control: only-if-cached that
// missed here: the owner may have it, else 504 (RFC 9111 §5.2.1.7).
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
	x.w.WriteHeader(http.StatusGatewayTimeout)
}

func onlyIfCached(r *http.Request) bool {
	return len(r.Header["Cache-Control"]) > 0 && parseCacheControl(r.Header).onlyIfCached
}

// refreshLater revalidates fk's stale entry in the background, once: a
// copy of r goes through Dispatch (a fresh trip through the pipeline,
// marked as a refresh), or through next when there is no Dispatch.
func (h *handler) refreshLater(r *http.Request, fk string) {
	c := h.c
	if c.cfg.Dispatch != nil {
		req, err := newFillRequest(r, "").request(context.WithValue(c.ctx, markKey{}, &peerMark{refresh: true}), r.TLS)
		if err == nil {
			c.spawn(fk, func() { backgroundRefresh(c.cfg.Dispatch, req) })
		}
		return
	}
	req := r.WithContext(context.WithValue(context.WithoutCancel(r.Context()), markKey{}, &peerMark{refresh: true}))
	req.Header = r.Header.Clone() // r's own may change once its handler returns
	c.spawn(fk, func() { backgroundRefresh(h, req) })
}

// backgroundRefresh runs a refresh request; its answer goes nowhere.
func backgroundRefresh(next http.Handler, r *http.Request) {
	next.ServeHTTP(&discard{header: make(http.Header)}, r)
}

// refreshNow is a refresh request reaching the middleware: it fills key
// unless the entry is fresh again or another fill is under way.
func (h *handler) refreshNow(r *http.Request, key, fk string, stale *entry, now time.Time) {
	if stale != nil && stale.state(now) == fresh {
		return
	}
	f, leader := h.c.flights.join(fk)
	if !leader {
		return
	}
	x := &call{h: h, c: h.c, p: h.p, r: r, key: key, self: true, t: h.c.owner}
	defer h.c.flights.forget(fk, f)
	x.fetch(f, stale)
}

// discard is the ResponseWriter of background refreshes.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
