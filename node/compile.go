package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/portico-gw/portico/node/auth"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/cors"
	"github.com/portico-gw/portico/node/guard"
	"github.com/portico-gw/portico/node/limit"
	"github.com/portico-gw/portico/node/observe"
	"github.com/portico-gw/portico/node/proxy"
	"github.com/portico-gw/portico/node/route"
)

// compile builds the pipeline of snap. Upstreams whose config is unchanged
// since prev are reused, so a reload keeps their warm connections, health
// state and breakers; the others are created and started. On error nothing
// that compile created is left running.
func (n *Node) compile(snap *config.Snapshot, prev *pipeline, log *observe.AccessLog) (_ *pipeline, err error) {
	p := &pipeline{snap: snap, upstreams: map[string]*proxy.Upstream{}, log: log}
	var created []*proxy.Upstream
	defer func() {
		if err != nil {
			closeUpstreams(created)
		}
	}()
	if p.trusted, err = parsePrefixes(snap.Node.TrustedProxies); err != nil {
		return nil, err
	}
	trusted := p.trusted
	p.resolve = func(r *http.Request) netip.Addr { return proxy.ClientIP(r, trusted) }
	for _, uc := range snap.Gateway.Upstreams {
		if old := prev.upstreamFor(uc); old != nil {
			p.upstreams[uc.Name] = old
			continue
		}
		u, err := buildUpstream(uc, proxy.Options{
			Logger:         n.logger.With("upstream", uc.Name),
			Now:            n.now,
			Rand:           n.rand,
			Events:         attemptEvents{n},
			TrustedProxies: p.trusted,
		})
		if err != nil {
			return nil, err
		}
		created = append(created, u)
		p.upstreams[uc.Name] = u
	}
	p.keys = auth.NewKeys(&snap.Gateway)
	p.plans = limit.NewPlans(&snap.Gateway)
	p.fills = n.cache.NewRoutes(snap.Version)
	entries, preflightOf := preflightRoutes(snap.Gateway.Routes)
	if p.router, err = route.New(entries); err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}
	invalidate := anyRouteCaches(snap)
	for _, rc := range snap.Gateway.Routes {
		chain, err := n.compileRoute(p, rc, p.upstreams[rc.Upstream], invalidate)
		if err != nil {
			return nil, fmt.Errorf("build route %q: %w", rc.Name, err)
		}
		p.routes = append(p.routes, chain)
	}
	for _, i := range preflightOf {
		p.routes = append(p.routes, p.routes[i]) // a preflight entry runs its route's chain
	}
	for _, u := range created {
		u.Start()
	}
	return p, nil
}

// compileRoute assembles route rc's chain, innermost first: the fill
// chain (upstream and response stages), the cache, rate limits,
// authentication, the body limit, CORS (outermost: preflights are
// answered before the body limit and authentication). A stage whose settings the route does
// not use returns its next unchanged, so the route does not pay for it. A
// new stage is one package under node/ and one line here. invalidate says
// whether a route without a cache must still invalidate the cached
// entries of its writes' URLs (some route of the snapshot caches).
func (n *Node) compileRoute(p *pipeline, rc config.Route, up *proxy.Upstream, invalidate bool) (*routeChain, error) {
	chain := &routeChain{name: rc.Name, upstream: rc.Upstream, metrics: n.metrics.Route(rc.Name)}
	parts, err := buildRouteParts(rc, up, n.proxyError)
	if err != nil {
		return nil, err
	}
	chain.strip, chain.rewrite = parts.strip, parts.rewrite
	if parts.rewrite != nil {
		if chain.params, err = route.NewPaths(rc); err != nil {
			return nil, err
		}
	}
	fill := &fillChain{n: n, p: p, rc: chain, next: parts.handler}
	var h http.Handler = fill
	switch {
	case rc.Cache != nil:
		if h, err = p.fills.Middleware(cachePolicy(rc), fill); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	case invalidate && hasUnsafeMethods(rc):
		// Its writes still drop the cached GETs of other routes (a
		// gateway that caches nothing pays nothing).
		if h, err = n.cache.Invalidating(rc.Name, fill); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	h = limit.New(h, rc.Name, rc.RateLimits, rc.Auth != nil, p.plans, n.limitShared)
	h = auth.New(h, rc.Auth, p.keys)
	maxBody := rc.MaxBodyBytes.Bytes()
	if maxBody <= 0 {
		maxBody = p.snap.Node.Server.MaxBodyBytes.Bytes()
	}
	h = guard.BodyLimit(h, maxBody)
	chain.chain = cors.New(h, rc.CORS)
	return chain, nil
}

// preflightRoutes returns what the router compiles: routes, then for
// every route with cors the entries that take its CORS preflights, so a
// route whose match.methods lacks OPTIONS still gets them. preflightOf[i]
// is the route of entry len(routes)+i, whose chain (the cors stage in
// front) answers them.
//
// Each entry is the route's match with the method OPTIONS and two more
// header conditions: Origin present, and Access-Control-Request-Method
// equal to one of its allow_methods. With more conditions than any plain
// route on the same pattern, a preflight goes to the cors route that
// allows the method asked (two routes on one path, one for reads and one
// for writes, each judge their own), ahead of a route that lists
// OPTIONS. A last entry per route takes a preflight for any other method
// (Access-Control-Request-Method present), at the lowest priority: the
// stage refuses it (204 without CORS headers). An OPTIONS that is not a
// preflight meets none of them: on a route without OPTIONS it gets the
// router's usual 405 with Allow. A preflight carries no custom headers,
// so a route that matches on one of its own gets no preflights.
func preflightRoutes(routes []config.Route) (entries []config.Route, preflightOf []int) {
	entries = slices.Clip(routes) // appending copies: the snapshot's routes stay as they are
	for i := range routes {
		c := routes[i].CORS
		if c == nil {
			continue
		}
		for _, m := range c.AllowMethods {
			entries = append(entries, preflightRoute(routes[i], m, routes[i].Priority))
			preflightOf = append(preflightOf, i)
		}
		entries = append(entries, preflightRoute(routes[i], "*", math.MinInt))
		preflightOf = append(preflightOf, i)
	}
	return entries, preflightOf
}

// preflightRoute is rc's match for OPTIONS requests with Origin and
// Access-Control-Request-Method (equal to method; "*": present). The
// route's own conditions on those headers, if any, stay.
func preflightRoute(rc config.Route, method string, priority int) config.Route {
	hdrs := make(map[string]string, len(rc.Match.Headers)+2)
	maps.Copy(hdrs, rc.Match.Headers)
	for _, kv := range [...][2]string{{"Origin", "*"}, {"Access-Control-Request-Method", method}} {
		if !hasHeaderKey(hdrs, kv[0]) {
			hdrs[kv[0]] = kv[1]
		}
	}
	rc.Match.Methods = []string{http.MethodOptions}
	rc.Match.Headers = hdrs
	rc.Priority = priority
	return rc
}

// hasHeaderKey reports whether conditions m name header k (names ignore
// case).
func hasHeaderKey(m map[string]string, k string) bool {
	for h := range m {
		if strings.EqualFold(h, k) {
			return true
		}
	}
	return false
}

// anyRouteCaches reports whether some route of snap has a cache policy.
func anyRouteCaches(snap *config.Snapshot) bool {
	for i := range snap.Gateway.Routes {
		if snap.Gateway.Routes[i].Cache != nil {
			return true
		}
	}
	return false
}

// hasUnsafeMethods reports whether route rc can match a method other than
// GET, HEAD, OPTIONS and TRACE (no method list: any).
func hasUnsafeMethods(rc config.Route) bool {
	if len(rc.Match.Methods) == 0 {
		return true
	}
	for _, m := range rc.Match.Methods {
		switch m {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		default:
			return true
		}
	}
	return false
}

// upstreamFor returns prev's upstream built from exactly uc, if any.
func (p *pipeline) upstreamFor(uc config.Upstream) *proxy.Upstream {
	if p == nil {
		return nil
	}
	for _, old := range p.snap.Gateway.Upstreams {
		if old.Name == uc.Name && reflect.DeepEqual(old, uc) {
			return p.upstreams[uc.Name]
		}
	}
	return nil
}

// retire closes the upstreams of old that next no longer uses. Requests
// still running on them finish: Close stops health checks and idle
// connections only.
func retire(old, next *pipeline) {
	if old == nil {
		return
	}
	var gone []*proxy.Upstream
	for name, u := range old.upstreams {
		if next == nil || next.upstreams[name] != u {
			gone = append(gone, u)
		}
	}
	closeUpstreams(gone)
}

func closeUpstreams(us []*proxy.Upstream) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, u := range us {
		_ = u.Close(ctx) // Close only fails on ctx expiry; goroutines are still told to stop
	}
}

func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}

// dropMetrics deletes the series of routes and upstreams that next no
// longer has, so a long-lived node's scrape doesn't grow with every rename.
func (n *Node) dropMetrics(old, next *pipeline) {
	keep := map[string]bool{}
	for _, rs := range next.routes {
		keep[rs.name] = true
	}
	for _, rs := range old.routes {
		if !keep[rs.name] {
			n.metrics.DropRoute(rs.name)
			n.limitShared.DropRoute(rs.name)
		}
	}
	for name := range old.upstreams {
		if _, ok := next.upstreams[name]; !ok {
			n.metrics.DropUpstream(name)
		}
	}
}

// upstreamTLS builds an upstream's TLS client config from its tls
// section; nil (system roots, the target's name) when it sets nothing.
func upstreamTLS(c config.UpstreamTLS) (*tls.Config, error) {
	if c == (config.UpstreamTLS{}) {
		return nil, nil
	}
	tc := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if c.CA != "" {
		var err error
		if tc.RootCAs, err = certPool(c.CA, "tls.ca"); err != nil {
			return nil, err
		}
	}
	if c.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert/tls.key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// certPool reads the PEM CA certificates of file; setting names it in
// errors.
func certPool(file, setting string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in it", setting, file)
	}
	return pool, nil
}
