package node

import (
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portico-gw/portico/cache"
	"github.com/portico-gw/portico/node/auth"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/node/limit"
	"github.com/portico-gw/portico/node/observe"
	"github.com/portico-gw/portico/node/proxy"
	"github.com/portico-gw/portico/node/route"
	"github.com/portico-gw/portico/problem"
)

// pipeline is one compiled config snapshot: everything a request needs,
// built once by compile and never mutated after. Requests load the current
// pipeline once and finish on it even if a reload swaps in another.
type pipeline struct {
	snap   *config.Snapshot
	router *route.Router
	// routes is indexed by the router's entries: first the route index in
	// snap.Gateway.Routes, then the CORS preflight entries of
	// preflightRoutes, each its route's chain again.
	routes    []*routeChain
	upstreams map[string]*proxy.Upstream
	trusted   []netip.Prefix
	// resolve finds a request's client address (trusted proxies
	// considered): the exchanges' resolver.
	resolve func(*http.Request) netip.Addr
	log     *observe.AccessLog
	// keys are the consumers by name and API key; plans their limits.
	keys  *auth.Keys
	plans *limit.Plans
	// fills are the cached routes, published to the cache for peers'
	// fills once this pipeline is swapped in.
	fills *cache.Routes
}

// routeChain is one route compiled: how its upstream path is made, and
// its chain of stages (compileRoute assembles it).
type routeChain struct {
	name     string
	upstream string
	strip    string // normalized
	rewrite  *route.Template
	// params recovers a rewrite's parameters from the path alone, for
	// fills (nil without a rewrite).
	params  *route.Paths
	chain   http.Handler
	metrics *observe.RouteMetrics
}

// upstreamPath is the path the upstream gets for the normalized path
// (res: the match, for a rewrite's parameters).
func (rc *routeChain) upstreamPath(path string, res *route.Result) string {
	switch {
	case rc.rewrite != nil:
		return rc.rewrite.Expand(res)
	case rc.strip != "":
		return route.StripPrefix(path, rc.strip)
	}
	return path
}

// hdrConsumer is reserved for the gateway: it names a consumer only the
// gateway may vouch for, so a client's own is removed from every request
// before any stage or upstream sees it (an upstream may trust it only
// when the gateway sets it).
const hdrConsumer = "Portico-Consumer"

// ServeHTTP runs a request through the current pipeline: it loads the
// snapshot, matches a route (match), runs that route's chain, and records
// the exchange in metrics and the access log (finish).
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := n.pipe.Load()
	ex := &exchange.Exchange{}
	ex.Init(w, n.requestID(r), n.now(), p.resolve)
	// The id's one-element slice is shared by the request and the
	// response headers: nothing mutates it, and it saves an allocation.
	w.Header()["X-Request-Id"] = r.Header["X-Request-Id"]
	delete(r.Header, hdrConsumer)
	var rc *routeChain
	// Deferred: ReverseProxy aborts a broken response copy with a panic
	// (http.ErrAbortHandler), and the exchange is still recorded. It reads
	// r as it is then: the pipeline's copy once a route matched.
	defer func() { n.finish(p, rc, ex, r) }()
	if rc = n.match(&ex.Rec, r, p, ex); rc != nil {
		// From here r is the pipeline's own copy: stages may change its
		// URL and headers (authentication drops the credentials it read).
		r = exchange.With(r, ex)
		rc.chain.ServeHTTP(&ex.Rec, r)
	}
}

// match runs what comes before a route, then the router: the per-address
// flood guard, TRACE refused (501 before routing: an upstream's echo would
// hand cookies and credentials to a script, cross-site tracing; no route
// can turn it on), the #fragment cut, path normalization, route match
// (404, 405). It returns the matched route with the exchange's route and
// upstream path set, or nil when it answered.
func (n *Node) match(w http.ResponseWriter, r *http.Request, p *pipeline, ex *exchange.Exchange) *routeChain {
	if !n.ipGuard.Admit(w, r, ex) {
		return nil
	}
	if r.Method == http.MethodTrace {
		ex.Fail(w, problem.TraceNotSupported)
		return nil
	}
	if strings.IndexByte(r.RequestURI, '#') >= 0 && !proxy.DropFragment(r) {
		ex.Fail(w, problem.BadPath)
		return nil
	}
	path, err := route.Normalize(r.URL.EscapedPath())
	if err != nil {
		ex.Fail(w, problem.BadPath)
		return nil
	}
	var res route.Result
	switch p.router.Match(r, path, &res) {
	case route.NotFound:
		ex.Fail(w, problem.NoRoute)
		return nil
	case route.MethodNotAllowed:
		w.Header().Set("Allow", strings.Join(p.router.Allowed(r, path), ", "))
		ex.Fail(w, problem.MethodNotAllowed)
		return nil
	}
	rc := p.routes[res.Route]
	ex.Route = rc.name
	ex.UpstreamPath = rc.upstreamPath(path, &res)
	return rc
}

// fillChain is a route's upstream and response stages (today the proxy):
// what a cache miss of this node's client runs (ServeHTTP, after the
// route's client-facing stages), and what the cache runs without a
// client's request in front — a peer's fill on this owner, a background
// refresh — through ServeFill, which sets up the exchange those stages
// need from the fill's descriptor. Client-facing stages (flood guard,
// authentication, limits) are not in it: a fill was admitted where it
// arrived.
type fillChain struct {
	n    *Node
	p    *pipeline
	rc   *routeChain
	next http.Handler
}

var _ cache.FillHandler = (*fillChain)(nil)

func (f *fillChain) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.next.ServeHTTP(w, r) }

// ServeFill implements cache.FillHandler: a fill for fl.Consumer under
// this route. The request id comes with the fill (it joins the logs of
// both nodes); the upstream path is made as for a client, from the same
// route of the same config version.
func (f *fillChain) ServeFill(w http.ResponseWriter, r *http.Request, fl cache.Fill) {
	n, p, rc := f.n, f.p, f.rc
	ex := &exchange.Exchange{}
	ex.Init(w, n.requestID(r), n.now(), p.resolve)
	ex.Route = rc.name
	if id, ok := p.keys.Identity(fl.Consumer); ok {
		ex.Who = id
	}
	r = exchange.With(r, ex)
	defer n.finish(p, rc, ex, r)
	path, err := route.Normalize(r.URL.EscapedPath())
	if err != nil {
		ex.Fail(&ex.Rec, problem.BadPath)
		return
	}
	var res route.Result
	// The rewrite's parameters come from the route's own patterns: the
	// asker matched this route under the same config, and r has lost
	// headers its conditions may name (a fill drops what its key leaves
	// out), so the router could not tell.
	if rc.params != nil && !rc.params.Match(path, &res) {
		ex.Fail(&ex.Rec, problem.NoRoute)
		return
	}
	ex.UpstreamPath = rc.upstreamPath(path, &res)
	f.next.ServeHTTP(&ex.Rec, r)
}

// proxyError is every route proxy's ErrorHandler: the upstream failed
// before a response started. statusOf decides the status.
func (n *Node) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	t := statusOf(r.Context(), err)
	ex := exchange.Of(r)
	if ex == nil {
		problem.Write(w, t, "")
		return
	}
	n.logger.Debug("upstream failed", "request_id", ex.ID, "status", t.Status(), "err", err)
	ex.Fail(w, t)
}

// attemptEvents feeds proxy attempts into the metrics and the exchange.
type attemptEvents struct{ n *Node }

func (e attemptEvents) Attempt(r *http.Request, a proxy.Attempt) {
	um := e.n.metrics.Upstream(a.Upstream)
	um.ObserveAttempt(a.Target, outcomeOf(a.Err), a.Duration)
	if a.Retry {
		um.Retry()
	}
	if ex := exchange.Of(r); ex != nil {
		ex.Attempt(a.Target, a.Duration, a.Retry)
	}
}

func outcomeOf(err error) observe.Outcome {
	switch {
	case err == nil:
		return observe.OutcomeOK
	case errors.Is(err, proxy.ErrTimeout):
		return observe.OutcomeTimeout
	}
	return observe.OutcomeError
}

// finish records the exchange in metrics and the access log.
func (n *Node) finish(p *pipeline, rc *routeChain, ex *exchange.Exchange, r *http.Request) {
	rec := &ex.Rec
	status := rec.Status()
	if status == 0 {
		// The handler wrote nothing: the client left, or a streaming copy
		// was aborted before the first byte.
		status = problem.ClientClosedRequest.Status()
	}
	dur := n.now().Sub(ex.Start)
	upstream := ""
	if rc != nil {
		upstream = rc.upstream
		rc.metrics.Observe(r.Method, status, dur, ex.Body.Count(), rec.Bytes())
	} else {
		n.unrouted.Observe(r.Method, status, dur, ex.Body.Count(), rec.Bytes())
	}
	if !p.log.Enabled() {
		return
	}
	var slug string
	if ex.Problem != 0 {
		slug = ex.Problem.Slug()
	}
	p.log.Log(&observe.Entry{
		Time:             ex.Start,
		RequestID:        ex.ID,
		Route:            ex.Route,
		Method:           r.Method,
		Host:             r.Host,
		Path:             r.URL.Path,
		Query:            r.URL.RawQuery,
		Proto:            r.Proto,
		Status:           status,
		BytesIn:          ex.Body.Count() + rec.UpgradedIn(),
		BytesOut:         rec.Bytes(),
		Duration:         dur,
		Upstream:         upstream,
		Target:           ex.Target,
		UpstreamDuration: ex.UpstreamDuration,
		Retries:          ex.Retries,
		ClientIP:         ex.ClientAddr(r).String(),
		UserAgent:        r.UserAgent(),
		Consumer:         ex.Who.Consumer,
		Error:            slug,
	})
}

// requestID keeps a sane incoming X-Request-Id (1–128 characters of
// [A-Za-z0-9._:-]) so traces join up across hops, and otherwise makes a
// new one from the node's random source. The id is echoed in problem
// bodies, so nothing else may get through.
func (n *Node) requestID(r *http.Request) string {
	if v := r.Header["X-Request-Id"]; len(v) == 1 && validRequestID(v[0]) {
		return v[0]
	}
	var buf [16]byte
	b := strconv.AppendUint(buf[:0], n.rand(), 16)
	id := string(b)
	r.Header["X-Request-Id"] = []string{id} // also replaces repeated or invalid ones
	return id
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}
