package cache

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
)

// safeMethod reports whether m is safe (RFC 9110 §9.2.1): it does not
// invalidate. Every other method, unknown ones included, does.
func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// invalidating passes an unsafe request to next and, when its response
// has a non-error status (2xx, 3xx), invalidates the entries of its
// target URI and of its Location and Content-Location on the same host
// (RFC 9111 §4.4) here and on every live peer, before the response's
// header goes to the client: a client that sees the answer to its POST
// and then GETs, from any node, does not get the entry the POST changed.
func (h *handler) invalidating(w http.ResponseWriter, r *http.Request) {
	w.Header()["Cache-Status"] = []string{statusLine("fwd=bypass; detail=method", h.c.cfg.Name)}
	h.around(w, r, r, nil)
}

// Invalidating returns next wrapped for a route that does not cache: its
// successful unsafe requests still invalidate their target URI and their
// same-host Location/Content-Location on every node (RFC 9111 §4.4), so a
// POST routed apart from the GETs it changes does not leave their entries
// standing. Safe methods pass straight through. The URL is keyed with the
// default key rules: entries of a caching route whose key drops query
// parameters (Key.IgnoreQuery) match only when the request carries none.
func (c *Cache) Invalidating(route string, next http.Handler) (http.Handler, error) {
	if next == nil {
		return nil, errors.New("cache invalidating: nil next handler")
	}
	cp, err := compile(Policy{Route: route})
	if err != nil {
		return nil, err
	}
	return invalidator{h: &handler{c: c, p: cp, next: plainNext{next}}}, nil
}

// invalidator is Invalidating's handler. It is only ever in front of
// clients: peers' fills and refreshes go to a caching route's handler,
// and are never unsafe methods anyway.
type invalidator struct{ h *handler }

func (v invalidator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if safeMethod(r.Method) {
		v.h.next.ServeHTTP(w, r)
		return
	}
	v.h.around(w, r, r, nil)
}

// around serves r from next outside the cache (bypass, pass, unsafe
// methods) through an outsideWriter, with next.ServeFill when f is set
// (the cache's own request); unsafe, if not nil, is invalidated by a
// non-error answer.
func (h *handler) around(w http.ResponseWriter, r, unsafe *http.Request, f *Fill) {
	ow := &outsideWriter{ResponseWriter: w, h: h, unsafe: unsafe}
	h.callNext(ow, r, f)
	if !ow.done {
		ow.WriteHeader(http.StatusOK) // next wrote nothing: an empty 200
	}
}

// outsideWriter is the ResponseWriter of a request that goes around the
// cache. At the final status line it removes the cache's own response
// headers (the tag headers and Portico-Cache-Control: clients never see
// them, whichever way their answer came) and, for an unsafe request,
// invalidates first.
type outsideWriter struct {
	http.ResponseWriter
	h      *handler
	unsafe *http.Request
	done   bool // the final status went out
}

var _ http.Flusher = (*outsideWriter)(nil)

func (ow *outsideWriter) WriteHeader(code int) {
	if !ow.done && code >= 200 {
		ow.done = true
		h := ow.Header()
		for _, k := range ow.h.p.tagHeaders {
			delete(h, k)
		}
		delete(h, porticoCacheControl)
		if ow.unsafe != nil && code < 400 {
			ow.h.invalidate(ow.unsafe, h)
		}
	}
	ow.ResponseWriter.WriteHeader(code)
}

func (ow *outsideWriter) Write(b []byte) (int, error) {
	if !ow.done {
		ow.WriteHeader(http.StatusOK)
	}
	return ow.ResponseWriter.Write(b)
}

func (ow *outsideWriter) Flush() {
	if !ow.done {
		ow.WriteHeader(http.StatusOK)
	}
	if fl, ok := ow.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Hijack hands the connection over (upgrades): nothing more is written.
func (ow *outsideWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	ow.done = true
	return http.NewResponseController(ow.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (ow *outsideWriter) Unwrap() http.ResponseWriter { return ow.ResponseWriter }

// invalidate purges, by URL, r's target and the same-host URLs in resp's
// Location and Content-Location, on this node and on Config.Peers, all at
// once, waiting at most PeerTimeout for the peers. A peer that does not
// confirm is counted and logged as a peer failure; its copies then live
// out their freshness (near copies at most NearTTL).
func (h *handler) invalidate(r *http.Request, resp http.Header) {
	urls := h.invalidatedURLs(r, resp)
	if len(urls) == 0 || h.c.stopped.Load() {
		return
	}
	c := h.c
	var peers []string
	if c.cfg.Peers != nil {
		peers = c.cfg.Peers()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), c.cfg.PeerTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Go(func() {
			rep := c.PurgeCluster(ctx, Selector{URL: u}, peers)
			for p, err := range rep.Failed {
				c.peerFailed(p, err)
			}
		})
	}
	wg.Wait()
}

// invalidatedURLs are the URL fields of the keys an unsafe request to r
// with response header resp invalidates, without duplicates.
func (h *handler) invalidatedURLs(r *http.Request, resp http.Header) []string {
	var urls []string
	add := func(req *http.Request) {
		if k := h.p.keyOf(req); k != "" {
			if u := KeyURL(k); !contains(urls, u) {
				urls = append(urls, u)
			}
		}
	}
	add(r)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	host := normalizeHost(r.Host)
	for _, field := range []string{"Location", "Content-Location"} {
		for _, v := range resp[field] {
			ref, err := base.Parse(v)
			if err != nil || normalizeHost(ref.Host) != host {
				continue // another host's entries are not this request's to drop
			}
			add(&http.Request{Method: http.MethodGet, Host: r.Host, TLS: r.TLS, Header: http.Header{},
				URL: &url.URL{Path: ref.Path, RawPath: ref.RawPath, RawQuery: ref.RawQuery}})
		}
	}
	return urls
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
