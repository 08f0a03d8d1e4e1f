package node

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portico-gw/portico/cache"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/observe"
	"github.com/portico-gw/portico/node/proxy"
	"github.com/portico-gw/portico/node/route"
)

// pipeline is one compiled config snapshot: everything a request needs,
// built once by compile and never mutated after. Requests load the current
// pipeline once and finish on it even if a reload swaps in another.
type pipeline struct {
	snap      *config.Snapshot
	router    *route.Router
	routes    []*routeStage // index = route index in snap.Gateway.Routes
	upstreams map[string]*proxy.Upstream
	trusted   []netip.Prefix
	log       *observe.AccessLog
	consumers *consumerTable
}

// routeStage is one route's compiled stages.
type routeStage struct {
	name     string
	upstream string
	maxBody  int64
	strip    string
	rewrite  *route.Template
	proxy    http.Handler
	metrics  *observe.RouteMetrics
	// auth identifies consumers (nil: the route has no auth); limits
	// are the route's own rate limits.
	auth   *routeAuth
	limits []limitRule
}

// exchange is the per-request state shared by the pipeline's stages
// through the request context. It lives for one ServeHTTP call.
type exchange struct {
	rec          recorder  // the client's writer, wrapped (one allocation with the exchange)
	body         bodyCount // the client's body, counted (idem)
	id           string
	start        time.Time
	upstreamPath string
	target       string
	upstreamDur  time.Duration
	retries      int
	errSlug      string
	who          identity   // the consumer, once authenticated
	ip           netip.Addr // the client's address, once resolved
	ipDone       bool
}

// clientAddr resolves the client's address once per request (trusted
// proxies respected).
func (ex *exchange) clientAddr(r *http.Request, p *pipeline) netip.Addr {
	if !ex.ipDone {
		ex.ip, ex.ipDone = proxy.ClientIP(r, p.trusted), true
	}
	return ex.ip
}

// clientIP is clientAddr as text ("invalid IP" when there is none).
func (ex *exchange) clientIP(r *http.Request, p *pipeline) string {
	return ex.clientAddr(r, p).String()
}

type exchangeKey struct{}

func exchangeOf(r *http.Request) *exchange {
	ex, _ := r.Context().Value(exchangeKey{}).(*exchange)
	return ex
}

// ServeHTTP runs a request through the current pipeline: request id, IP
// guard, TRACE refused (501 before routing: an upstream's echo would hand
// cookies and credentials to a script, cross-site tracing; no route can
// turn it on), path normalization, route match, body limit,
// authentication, rate limits, upstream, then metrics and the access log.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := n.pipe.Load()
	ex := &exchange{start: n.now(), id: n.requestID(r)}
	ex.rec.ResponseWriter = w
	rec := &ex.rec
	var rs *routeStage
	defer func() { n.finish(p, rs, ex, rec, r) }()

	// The id's one-element slice is shared by the request and the
	// response headers: nothing mutates it, and it saves an allocation.
	w.Header()["X-Request-Id"] = r.Header["X-Request-Id"]
	// The cache's own requests (a peer's fill, a background refresh) were
	// admitted where they arrived: not counted again here.
	fromPeer := cache.FromPeer(r.Context())
	if _, ok := r.Header[hdrConsumer]; ok && !fromPeer {
		delete(r.Header, hdrConsumer) // only the cache's own requests may carry it
	}
	if !fromPeer && !n.guardIP(rec, r, p, ex) {
		return
	}
	if r.Method == http.MethodTrace {
		n.fail(rec, ex, probNoTrace)
		return
	}
	if strings.IndexByte(r.RequestURI, '#') >= 0 && !proxy.DropFragment(r) {
		n.fail(rec, ex, probBadPath)
		return
	}
	path, err := route.Normalize(r.URL.EscapedPath())
	if err != nil {
		n.fail(rec, ex, probBadPath)
		return
	}
	var res route.Result
	switch p.router.Match(r, path, &res) {
	case route.NotFound:
		n.fail(rec, ex, probNoRoute)
		return
	case route.MethodNotAllowed:
		rec.Header().Set("Allow", strings.Join(p.router.Allowed(r, path), ", "))
		n.fail(rec, ex, probNoMethod)
		return
	}
	rs = p.routes[res.Route]
	if r.ContentLength > rs.maxBody {
		n.fail(rec, ex, probTooLarge)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		ex.body.rc = http.MaxBytesReader(rec, r.Body, rs.maxBody)
		r.Body = &ex.body
	}
	switch {
	case rs.rewrite != nil:
		ex.upstreamPath = rs.rewrite.Expand(&res)
	case rs.strip != "":
		ex.upstreamPath = route.StripPrefix(path, rs.strip)
	default:
		ex.upstreamPath = path
	}
	// From here r is the pipeline's own copy: authentication may
	// replace its URL to drop a credential from the query.
	r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex))
	if rs.auth != nil && !n.authenticate(rec, r, p, rs.auth, ex) {
		return
	}
	if !fromPeer && !n.applyLimits(rec, r, p, rs, ex) {
		return
	}
	rs.proxy.ServeHTTP(rec, r)
}

func (n *Node) fail(w http.ResponseWriter, ex *exchange, p problem) {
	ex.errSlug = p.Slug
	writeProblem(w, p, ex.id)
}

// proxyError is every route proxy's ErrorHandler: the upstream failed
// before a response started. statusOf decides the status.
func (n *Node) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	ex := exchangeOf(r)
	p := statusOf(r.Context(), err)
	if ex == nil {
		writeProblem(w, p, "")
		return
	}
	n.logger.Debug("upstream failed", "request_id", ex.id, "status", p.Status, "err", err)
	n.fail(w, ex, p)
}

// upstreamPath is every route proxy's Path option.
func upstreamPath(r *http.Request) string {
	if ex := exchangeOf(r); ex != nil {
		return ex.upstreamPath
	}
	return r.URL.EscapedPath()
}

// attemptEvents feeds proxy attempts into the exchange and the metrics.
type attemptEvents struct{ n *Node }

func (e attemptEvents) Attempt(r *http.Request, a proxy.Attempt) {
	um := e.n.metrics.Upstream(a.Upstream)
	um.ObserveAttempt(a.Target, outcomeOf(a.Err), a.Duration)
	if a.Retry {
		um.Retry()
	}
	if ex := exchangeOf(r); ex != nil {
		ex.target = a.Target
		ex.upstreamDur += a.Duration
		if a.Retry {
			ex.retries++
		}
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
func (n *Node) finish(p *pipeline, rs *routeStage, ex *exchange, rec *recorder, r *http.Request) {
	status := rec.status
	if status == 0 {
		// The handler wrote nothing: the client left, or a streaming copy
		// was aborted before the first byte.
		status = probClientGone.Status
	}
	dur := n.now().Sub(ex.start)
	routeName, upstream := "", ""
	if rs != nil {
		routeName, upstream = rs.name, rs.upstream
		rs.metrics.Observe(r.Method, status, dur, ex.body.read(), rec.bytes)
	} else {
		n.unrouted.Observe(r.Method, status, dur, ex.body.read(), rec.bytes)
	}
	if !p.log.Enabled() {
		return
	}
	p.log.Log(&observe.Entry{
		Time:             ex.start,
		RequestID:        ex.id,
		Route:            routeName,
		Method:           r.Method,
		Host:             r.Host,
		Path:             r.URL.Path,
		Query:            r.URL.RawQuery,
		Proto:            r.Proto,
		Status:           status,
		BytesIn:          ex.body.read() + rec.upgradedIn,
		BytesOut:         rec.bytes,
		Duration:         dur,
		Upstream:         upstream,
		Target:           ex.target,
		UpstreamDuration: ex.upstreamDur,
		Retries:          ex.retries,
		ClientIP:         ex.clientIP(r, p),
		UserAgent:        r.UserAgent(),
		Consumer:         ex.who.name(),
		Error:            ex.errSlug,
	})
}

// bodyCount counts the bytes of the client's request body as they are
// read (a chunked body declares no length). The upstream transport may
// still read it after the proxy returned, hence the atomic.
type bodyCount struct {
	rc io.ReadCloser
	n  atomic.Int64
}

func (b *bodyCount) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *bodyCount) Close() error { return b.rc.Close() }

// read returns the body bytes read so far.
func (b *bodyCount) read() int64 { return b.n.Load() }

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
