package cache

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// fetch fills the flight from next: ServeFill for the cache's own
// requests (a peer's fill, a refresh), ServeHTTP for a client's. The
// upstream request is made safe
// (upstreamRequest) and detached from the client (fillContext); the
// response is captured, then stored and shared, or streamed to this
// request's client alone when it turns out not shareable.
func (x *call) fetch(f *flight, stale *entry) {
	ctx, cancel := x.c.fillContext(x.r.Context())
	defer cancel()
	cw := &capture{x: x, f: f, stale: stale, cancel: cancel, gen: x.t.generation(), reqTime: x.c.now()}
	defer cw.recoverAbort()
	x.h.callNext(cw, x.p.upstreamRequest(x.r.WithContext(ctx), stale), x.asFill)
	cw.finish()
}

// captureMode is what a capture does with the response.
type captureMode int

const (
	undecided  captureMode = iota
	buffering              // storable so far: keep it whole, up to the size limit
	passing                // not shareable: stream it to this request's client
	refreshing             // 304 to a revalidation: the stale entry is fresh again
	erroring               // 5xx with a stale entry usable on error: serve that
)

// capture is the ResponseWriter a fill hands to next. It decides at
// WriteHeader what the response is good for. Buffered responses are
// served to the fill's client only once complete (then from the stored
// entry, so conditionals and Age work as for hits); a response that turns
// out not shareable (Cache-Control, status, size past MaxObjectSize)
// releases the waiters to go upstream themselves, and what was buffered
// and the rest stream to the client, flushes included.
type capture struct {
	x       *call
	f       *flight
	stale   *entry
	cancel  context.CancelFunc // stops the upstream request
	gen     uint64             // the tier's purge generation at the start
	reqTime time.Time

	header   http.Header
	status   int
	mode     captureMode
	fresh    freshness
	body     []byte
	limit    int64 // body bytes allowed while buffering
	respTime time.Time
	stop     func() bool // ends the client-gone watch of passing mode
}

var _ http.Flusher = (*capture)(nil)

func (cw *capture) Header() http.Header {
	if cw.header == nil {
		cw.header = make(http.Header)
	}
	return cw.header
}

func (cw *capture) WriteHeader(code int) {
	if code < 200 {
		if cw.mode == undecided && code == http.StatusEarlyHints && cw.x.w != nil {
			writeHints(cw.x.w, cw.header)
		}
		return // other informational responses are dropped
	}
	if cw.mode != undecided {
		return
	}
	x := cw.x
	cw.status, cw.respTime = code, x.c.now()
	h := cw.Header()
	switch {
	case code == http.StatusNotModified && sentValidators(cw.stale):
		cw.mode = refreshing
		return
	case code >= 500 && cw.stale != nil && cw.stale.usableOnError(cw.respTime):
		cw.mode = erroring
		return
	}
	f, reason := x.p.storable(x.r, code, h, responseDate(h, cw.respTime))
	cw.limit = x.p.maxObject - headerSize(h)
	if n := contentLength(h); reason == "" && (cw.limit < 0 || n > cw.limit) {
		reason = "too-large"
	}
	if reason != "" {
		cw.startPassing(reason)
		return
	}
	cw.mode, cw.fresh = buffering, f
	if n := contentLength(h); n > 0 {
		cw.body = make([]byte, 0, n)
	}
}

func (cw *capture) Write(b []byte) (int, error) {
	if cw.mode == undecided {
		cw.WriteHeader(http.StatusOK)
	}
	switch cw.mode {
	case buffering:
		if int64(len(cw.body)+len(b)) > cw.limit {
			cw.startPassing("too-large")
			return cw.Write(b)
		}
		cw.body = append(cw.body, b...)
		return len(b), nil
	case passing:
		if cw.x.w == nil {
			return len(b), nil
		}
		return cw.x.w.Write(b)
	}
	return len(b), nil // a 304's or an error's body, not needed
}

// Flush passes flushes through once streaming; while buffering there is
// nothing to flush.
func (cw *capture) Flush() {
	if cw.mode == passing && cw.x.w != nil {
		if fl, ok := cw.x.w.(http.Flusher); ok {
			fl.Flush()
		}
	}
}

// startPassing gives up on sharing the response: waiters go upstream
// themselves, and this request's client gets the response as it comes
// (the upstream request stops if that client leaves).
func (cw *capture) startPassing(reason string) {
	cw.mode = passing
	x := cw.x
	verdict := cw.fwd() + "; detail=" + reason
	cw.f.release(result{verdict: verdict})
	x.c.metrics.served(outcomeUncacheable, x.self)
	if x.w == nil {
		cw.cancel() // a background refresh: nobody to stream to
		return
	}
	cw.stop = context.AfterFunc(x.r.Context(), cw.cancel)
	h := x.w.Header()
	for k, v := range cw.header {
		h[k] = v
	}
	for _, k := range x.p.tagHeaders {
		delete(h, k)
	}
	delete(h, porticoCacheControl)
	if x.pr != nil {
		x.pr.verdict = verdict
	} else {
		h["Cache-Status"] = append(h["Cache-Status"], statusLine(verdict, x.c.cfg.Name))
	}
	x.w.WriteHeader(cw.status)
	if len(cw.body) > 0 {
		_, _ = x.w.Write(cw.body)
		cw.body = nil
	}
}

// writeHints sends a 103 Early Hints with the fields of hints to w, the
// fill's own client (or the peer it answers), and takes them out of w's
// header again. Hints are never stored, and waiters do not get them.
func writeHints(w http.ResponseWriter, hints http.Header) {
	h := w.Header()
	var added []string
	for k, v := range hints {
		if _, ok := h[k]; !ok {
			h[k] = v
			added = append(added, k)
		}
	}
	w.WriteHeader(http.StatusEarlyHints)
	for _, k := range added {
		delete(h, k)
	}
}

// fwd is the Cache-Status fwd parameter of this fill.
func (cw *capture) fwd() string {
	if cw.stale != nil {
		return "fwd=stale"
	}
	return "fwd=miss"
}

// finish acts on the captured response once next has returned.
func (cw *capture) finish() {
	if cw.mode == undecided {
		cw.WriteHeader(http.StatusOK) // next wrote nothing: an empty 200
	}
	if cw.stop != nil {
		cw.stop()
	}
	x := cw.x
	switch cw.mode {
	case refreshing:
		e, ok := x.c.refreshed(x.p, cw.stale, x.r, cw.header, cw.reqTime, cw.respTime)
		if !ok {
			// The 304 made the entry unstorable: this client may have
			// the old body once, nobody else.
			cw.f.release(result{verdict: "fwd=stale; fwd-status=304"})
			x.serveUnshared(cw.stale, "fwd=stale; fwd-status=304; detail=not-stored")
			return
		}
		x.c.metrics.served(outcomeRevalidated, x.self)
		x.deliver(cw.f, x.localCopy(e), "fwd=stale; fwd-status=304", cw.gen, nil)
	case erroring:
		cw.serveStaleOnError()
	case buffering:
		if n := contentLength(cw.header); n >= 0 && n != int64(len(cw.body)) && x.r.Method != http.MethodHead {
			cw.startPassing("incomplete") // the client sees the short body, as from upstream
			return
		}
		e := x.c.newEntry(x.p, x.r, x.key, x.p.responseVary(cw.header), cw.status, cw.header, cw.body,
			cw.reqTime, cw.respTime, cw.fresh)
		x.c.metrics.served(outcomeMiss, x.self)
		x.deliver(cw.f, x.localCopy(e), cw.fwd(), cw.gen, setCookies(cw.header))
	}
}

// serveStaleOnError serves the stale entry in place of an upstream error
// (RFC 5861 stale-if-error), to everybody waiting.
func (cw *capture) serveStaleOnError() {
	x := cw.x
	x.c.metrics.served(outcomeStale, x.self)
	verdict := "hit; stale; fwd-status=" + strconv.Itoa(cw.status) + "; detail=stale-if-error"
	cw.f.release(result{e: cw.stale, verdict: verdict})
	x.serveClient(cw.stale, verdict, nil)
}

// recoverAbort turns a fill aborted while buffering (next panics with
// http.ErrAbortHandler when the upstream body breaks) into stale-if-error
// when a stale entry allows it; otherwise the panic goes on, and the
// flight, released empty, sends the waiters upstream.
func (cw *capture) recoverAbort() {
	if cw.mode == passing || cw.stale == nil || !cw.stale.usableOnError(cw.x.c.now()) {
		return
	}
	if v := recover(); v != nil {
		if v != http.ErrAbortHandler {
			panic(v)
		}
		cw.status = http.StatusBadGateway
		cw.serveStaleOnError()
	}
}

// localCopy adapts an entry fetched here to the tier it goes in: a copy in
// the near tier (the owner failed us) is served fresh only, for NearTTL
// at most.
func (x *call) localCopy(e *entry) *entry {
	if x.self {
		return e
	}
	e.swr, e.sie = 0, 0
	e.until = e.storedAt.Add(x.c.cfg.NearTTL)
	return e
}

// deliver stores a fill's entry, shares it with the waiters, serves it to
// this request's client and waits until the tier shows it, so that the
// flight, forgotten after deliver returns, is never needed again for it.
func (x *call) deliver(f *flight, e *entry, fwd string, gen uint64, extra http.Header) {
	now := x.c.now()
	verdict := fwd
	if x.t.store(e, gen, now) {
		verdict += "; stored"
	}
	f.release(result{e: e, verdict: verdict})
	x.serveClient(e, verdict, extra)
	x.t.wait()
}

// serveClient serves e to the fill's own request, if it has a client.
func (x *call) serveClient(e *entry, verdict string, extra http.Header) {
	if x.w != nil {
		x.c.serve(x.w, x.r, x.pr, e, x.c.now(), verdict, nil, extra)
	}
}

// serveUnshared serves e to the fill's own request only: to a peer
// without entry metadata, so that the peer does not keep it either.
func (x *call) serveUnshared(e *entry, verdict string) {
	if x.pr == nil {
		x.serveClient(e, verdict, nil)
		return
	}
	x.pr.verdict = verdict
	h := x.w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	x.w.WriteHeader(e.status)
	if x.r.Method != http.MethodHead {
		_, _ = x.w.Write(e.body)
	}
}

// setCookies is the Set-Cookie and Set-Cookie2 lines of h, which go to
// the fetching client only.
func setCookies(h http.Header) http.Header {
	var out http.Header
	for _, k := range []string{"Set-Cookie", "Set-Cookie2"} {
		if v := h[k]; len(v) > 0 {
			if out == nil {
				out = make(http.Header, 2)
			}
			out[k] = v
		}
	}
	return out
}

// headerSize is the bytes h takes on the wire, about.
func headerSize(h http.Header) int64 {
	var n int64
	for k, vs := range h {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n
}
