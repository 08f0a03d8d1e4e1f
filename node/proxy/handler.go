package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/problem"
)

// Handler proxies one route's requests to its upstream. Build it once per
// config snapshot with NewHandler; it is safe for concurrent use.
type Handler struct {
	route        string
	up           *Upstream
	proxy        httputil.ReverseProxy
	path         func(*http.Request) string
	errorHandler func(http.ResponseWriter, *http.Request, error)
	preserveHost bool
	upgrades     []string       // protocols a client may switch to (config: route.upgrades)
	header       time.Duration  // response-header timeout
	total        time.Duration  // 0: no total timeout
	connect      *time.Duration // nil: the upstream's (the dialer's default)
	headerErr    error          // cancel cause of the header timer
	totalErr     error          // cancel cause of the total timeout
}

// Interface guards.
var (
	_ http.Handler                = (*Handler)(nil)
	_ http.RoundTripper           = (*retrier)(nil)
	_ httputil.BufferPool         = (*bufferPool)(nil)
	_ interface{ Timeout() bool } = (*timeoutError)(nil)
)

// NewHandler builds the proxy of one route on up. The route's zero
// timeouts inherit up's.
func NewHandler(route config.Route, up *Upstream, o HandlerOptions) (*Handler, error) {
	if up == nil {
		return nil, fmt.Errorf("building route %q: no upstream", route.Name)
	}
	if route.Upstream != "" && route.Upstream != up.name {
		return nil, fmt.Errorf("building route %q: it names upstream %q, not %q", route.Name, route.Upstream, up.name)
	}
	to := inheritTimeouts(route.Timeouts, up.timeouts)
	h := &Handler{
		route: route.Name, up: up, path: o.Path, errorHandler: o.ErrorHandler,
		preserveHost: route.PreserveHost, upgrades: upgradesOf(route.Upgrades),
		header: to.ResponseHeader.D(), total: to.Total.D(),
		headerErr: &timeoutError{what: "waiting " + to.ResponseHeader.String() + " for response headers"},
		totalErr:  &timeoutError{what: "after the route's total " + to.Total.String()},
	}
	if to.Connect != up.timeouts.Connect {
		d := to.Connect.D()
		h.connect = &d
	}
	if h.errorHandler == nil {
		h.errorHandler = h.badGateway
	}
	h.proxy = httputil.ReverseProxy{
		Rewrite:       h.rewrite,
		Transport:     (*retrier)(h),
		FlushInterval: o.FlushInterval,
		ErrorHandler:  h.errorHandler,
		BufferPool:    up.buffers,
		ErrorLog:      slog.NewLogLogger(up.opts.Logger.Handler(), slog.LevelWarn),
	}
	return h, nil
}

// ServeHTTP proxies r. Errors (no target, timeouts, target failures, the
// client leaving) go to the ErrorHandler before any byte is written; a
// failure while the response body streams aborts the response
// (http.ErrAbortHandler), since its status is already sent.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.IndexByte(r.RequestURI, '#') >= 0 {
		DropFragment(r) // the node's pipeline did already; a target that won't parse stays as it came
	}
	if h.total > 0 {
		ctx, cancel := context.WithTimeoutCause(r.Context(), h.total, h.totalErr)
		defer cancel()
		r = r.WithContext(ctx)
	}
	h.proxy.ServeHTTP(w, r)
}

// rewrite shapes the outbound request; the target (scheme, host, base
// path) is set per try by the retrier. ReverseProxy has already removed
// hop-by-hop headers (those a client's Connection names too) and
// forwarding headers from out, so what the gateway sets is set after:
// the forwarding headers, and X-Request-Id as the node put it on in.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	p := ""
	if h.path != nil {
		p = h.path(in)
	} else {
		p = in.URL.EscapedPath()
	}
	setEscapedPath(out.URL, p)
	h.filterUpgrade(out.Header)
	if id, ok := in.Header["X-Request-Id"]; ok {
		out.Header["X-Request-Id"] = id
	}
	h.setForwarded(in, out)
	if !h.preserveHost {
		out.Host = "" // the target's host, from the URL
	}
}

// filterUpgrade drops an Upgrade the route does not allow (h2c never: it
// would hand the client an HTTP/2 connection to the target that no route
// governs), so the request goes on as a plain one, as a server that does
// not support the protocol would take it (RFC 9110 §7.8). HTTP2-Settings
// only means something with an h2c upgrade: it is always dropped.
func (h *Handler) filterUpgrade(hdr http.Header) {
	delete(hdr, "Http2-Settings")
	up := hdr.Get("Upgrade")
	if up == "" {
		return
	}
	for _, ok := range h.upgrades {
		if equalFold(ok, up) {
			return
		}
	}
	delete(hdr, "Upgrade")
	delete(hdr, "Connection") // ReverseProxy set it to "Upgrade"
}

// upgradesOf is the protocols a route allows clients to switch to:
// websocket when the route says nothing, none for [none]; h2c never.
func upgradesOf(list []string) []string {
	if len(list) == 0 {
		return []string{"websocket"}
	}
	var out []string
	for _, p := range list {
		if p != "none" && !equalFold(p, "h2c") {
			out = append(out, p)
		}
	}
	return out
}

// DropFragment cuts a #fragment off r's request target, which clients
// must not send (RFC 9110 §7.1) and Go's server leaves in the path (where
// it would go upstream as %23) or the raw query. r's URL and RequestURI
// are then the target without it. It reports false when what is left
// does not parse; r is then unchanged.
func DropFragment(r *http.Request) bool {
	target, _, found := strings.Cut(r.RequestURI, "#")
	if !found {
		return true
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return false
	}
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.URL.ForceQuery = u.Path, u.RawPath, u.RawQuery, u.ForceQuery
	r.RequestURI = target
	return true
}

// setEscapedPath sets u's path from its escaped form p.
func setEscapedPath(u *url.URL, p string) {
	u.Path, u.RawPath = p, ""
	if strings.IndexByte(p, '%') < 0 {
		return
	}
	if dec, err := url.PathUnescape(p); err == nil {
		u.Path, u.RawPath = dec, p
	}
}

// badGateway is the ErrorHandler when none is given: the gateway's
// upstream-error problem.
func (h *Handler) badGateway(w http.ResponseWriter, _ *http.Request, err error) {
	h.up.opts.Logger.Warn("proxying failed", "route", h.route, "error", err)
	problem.Write(w, problem.UpstreamError, "")
}

// bufferSize is the size of the buffers ReverseProxy copies bodies with.
const bufferSize = 32 << 10

// bufferPool recycles copy buffers. It pools array pointers, so that Put
// does not allocate (a []byte in an interface would).
type bufferPool struct{ pool sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { return new([bufferSize]byte) }}}
}

func (p *bufferPool) Get() []byte { return p.pool.Get().(*[bufferSize]byte)[:] }

func (p *bufferPool) Put(b []byte) {
	if cap(b) == bufferSize {
		p.pool.Put((*[bufferSize]byte)(b[:bufferSize]))
	}
}
