package cache

import (
	"context"
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
	iw := &invalidator{ResponseWriter: w, h: h, r: r}
	h.next.ServeHTTP(iw, r)
	if !iw.done {
		iw.WriteHeader(http.StatusOK) // next wrote nothing: an empty 200
	}
}

// invalidator is the ResponseWriter of an unsafe request.
type invalidator struct {
	http.ResponseWriter
	h    *handler
	r    *http.Request
	done bool // the final status went out
}

var _ http.Flusher = (*invalidator)(nil)

func (iw *invalidator) WriteHeader(code int) {
	if !iw.done && code >= 200 {
		iw.done = true
		if code < 400 {
			iw.h.invalidate(iw.r, iw.Header())
		}
	}
	iw.ResponseWriter.WriteHeader(code)
}

func (iw *invalidator) Write(b []byte) (int, error) {
	if !iw.done {
		iw.WriteHeader(http.StatusOK)
	}
	return iw.ResponseWriter.Write(b)
}

func (iw *invalidator) Flush() {
	if !iw.done {
		iw.WriteHeader(http.StatusOK)
	}
	if fl, ok := iw.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (upgrades).
func (iw *invalidator) Unwrap() http.ResponseWriter { return iw.ResponseWriter }

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
