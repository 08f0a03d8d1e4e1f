package cache

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a test clock moved by hand. It starts on a whole second, so
// that Date headers (second resolution) made from it are exact.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// origin is a test upstream that counts its requests and remembers the
// last request's headers.
type origin struct {
	srv  *httptest.Server
	hits atomic.Int64

	mu      sync.Mutex
	handler http.HandlerFunc
	last    http.Header
}

func newOrigin(t testing.TB, h http.HandlerFunc) *origin {
	o := &origin{handler: h}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		handler := o.handler
		o.last = r.Header.Clone()
		o.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) set(h http.HandlerFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handler = h
}

func (o *origin) lastHeader() http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// answer is an origin handler: status, Cache-Control and body, with Date
// from clk and the extra header lines kv ("Name", "value", ...).
func answer(clk *clock, status int, cc, body string, kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Date", clk.Now().UTC().Format(http.TimeFormat))
		if cc != "" {
			h.Set("Cache-Control", cc)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// proxyTo is a route's next: a reverse proxy to the origin. Like the
// node's proxy for a trusted peer, it forwards X-Forwarded-* and Forwarded
// as received (ReverseProxy drops them before Rewrite), so that tests see
// what the cache strips, and sets X-Forwarded-Host and Forwarded from the
// request's Host when absent.
func proxyTo(t testing.TB, o *origin) http.Handler {
	target, _ := url.Parse(o.srv.URL)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			for _, k := range overrideHeaders {
				if v := pr.In.Header[k]; v != nil {
					pr.Out.Header[k] = v
				}
			}
			if pr.Out.Header.Get("X-Forwarded-Host") == "" {
				pr.Out.Header.Set("X-Forwarded-Host", pr.In.Host)
			}
			if pr.Out.Header.Get("Forwarded") == "" {
				pr.Out.Header.Set("Forwarded", "host="+pr.In.Host)
			}
		},
		Transport: tr,
		ErrorLog:  log.New(io.Discard, "", 0),
	}
}

// node is one in-process gateway node: a Cache, a pipeline (a router that
// sends every path to the route's Middleware in front of its fill chain,
// the proxy), a client listener and a peer listener mounting PeerHandler.
// The route is registered in a published Routes of version 1.
type node struct {
	name    string
	cache   *Cache
	chain   *chain // the route's fill chain
	front   *httptest.Server
	peer    *httptest.Server
	entered atomic.Int64 // requests that reached the pipeline from clients

	mu    sync.Mutex
	route http.Handler // the Middleware
}

// handler is the node's current route handler.
func (n *node) handler() http.Handler {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.route
}

// publish registers pol in a new Routes of version, makes it the node's
// route and publishes it, as the node does when it swaps in a snapshot.
func (n *node) publish(t testing.TB, version int64, pol Policy) {
	t.Helper()
	rs := n.cache.NewRoutes(version)
	h, err := rs.Middleware(pol, n.chain)
	if err != nil {
		t.Fatalf("Middleware: %v", err)
	}
	n.mu.Lock()
	n.route = h
	n.mu.Unlock()
	n.cache.Publish(rs)
}

// chain is a route's fill chain in tests: the proxy, for clients' misses
// (ServeHTTP) and the cache's own fills (ServeFill), counting each and
// keeping the Fills it got and whether their requests carried the
// client's context (ctxUser): a fill's request must not.
type chain struct {
	next http.Handler

	served atomic.Int64 // ServeHTTP calls

	mu        sync.Mutex
	fills     []Fill
	clientCtx int                    // ServeFill requests whose context had a ctxUser value
	fillTLS   []*tls.ConnectionState // the TLS state of each ServeFill request
}

func (ch *chain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ch.served.Add(1)
	ch.next.ServeHTTP(w, r)
}

func (ch *chain) ServeFill(w http.ResponseWriter, r *http.Request, f Fill) {
	ch.mu.Lock()
	ch.fills = append(ch.fills, f)
	ch.fillTLS = append(ch.fillTLS, r.TLS)
	if r.Context().Value(ctxUser{}) != nil {
		ch.clientCtx++
	}
	ch.mu.Unlock()
	ch.next.ServeHTTP(w, r)
}

// filled returns the Fills ServeFill got so far and how many of their
// requests carried a client's context.
func (ch *chain) filled() ([]Fill, int) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return append([]Fill(nil), ch.fills...), ch.clientCtx
}

// filledTLS returns the TLS state of the ServeFill requests so far.
func (ch *chain) filledTLS() []*tls.ConnectionState {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return append([]*tls.ConnectionState(nil), ch.fillTLS...)
}

// ctxUser keys the consumer a test node's front put in a client's
// request context, as the node's authentication does: node state that a
// peer's fill does not carry.
type ctxUser struct{}

// userConsumer is a Policy.Key.Consumer reading ctxUser.
func userConsumer(r *http.Request) string {
	u, _ := r.Context().Value(ctxUser{}).(string)
	return u
}

// withUser is a front hook (cluster.front) that moves the X-Test-User
// request header into ctxUser, as authentication turns a credential into
// node state.
func withUser(r *http.Request) *http.Request {
	u := r.Header.Get("X-Test-User")
	r.Header.Del("X-Test-User")
	if u == "" {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), ctxUser{}, u))
}

func (n *node) peerAddr() string { return n.peer.Listener.Addr().String() }

// cluster is n nodes in front of one origin. Every key is owned by
// owner(key), node 0 unless a test changes it.
type cluster struct {
	t      testing.TB
	clk    *clock
	origin *origin
	nodes  []*node
	client *http.Client
	reg    *prometheus.Registry // node 0's metrics

	mu    sync.Mutex
	owner func(self int, key string) int    // which node node self thinks owns key
	front func(*http.Request) *http.Request // what nodes do to client requests before the route; may be nil
}

func (cl *cluster) setFront(f func(*http.Request) *http.Request) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.front = f
}

func (cl *cluster) frontHook() func(*http.Request) *http.Request {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.front
}

type picker struct {
	cl   *cluster
	self int
}

func (p picker) Owner(key, scope string) (string, bool) {
	p.cl.mu.Lock()
	i := p.cl.owner(p.self, key)
	p.cl.mu.Unlock()
	return p.cl.nodes[i].peerAddr(), i == p.self
}

// peersOf lists the peer addresses of every node but self.
func (cl *cluster) peersOf(self int) func() []string {
	return func() []string {
		var out []string
		for i, n := range cl.nodes {
			if i != self {
				out = append(out, n.peerAddr())
			}
		}
		return out
	}
}

func (cl *cluster) setOwner(f func(self int, key string) int) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.owner = f
}

// newCluster starts n nodes caching under pol in front of an origin that
// answers with h. opts adjust every node's Config. With n == 1 the node
// has no OwnerPicker.
func newCluster(t testing.TB, n int, pol Policy, h http.HandlerFunc, opts ...func(*Config)) *cluster {
	t.Helper()
	cl := &cluster{t: t, clk: newClock(), owner: func(int, string) int { return 0 }, reg: prometheus.NewRegistry()}
	if h == nil {
		h = answer(cl.clk, 200, "max-age=60", "hello")
	}
	cl.origin = newOrigin(t, h)
	next := proxyTo(t, cl.origin)
	for i := range n {
		nd := &node{name: fmt.Sprintf("node-%d", i), chain: &chain{next: next}}
		pipeline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if f := cl.frontHook(); f != nil {
				r = f(r)
			}
			nd.handler().ServeHTTP(w, r)
		})
		quiet := log.New(io.Discard, "", 0) // handshakes cut short by Close
		nd.peer = httptest.NewUnstartedServer(nil)
		nd.peer.Config.ErrorLog = quiet
		nd.peer.StartTLS()
		nd.front = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			nd.entered.Add(1)
			pipeline.ServeHTTP(w, r)
		}))
		nd.front.EnableHTTP2 = true
		nd.front.Config.ErrorLog = quiet
		nd.front.StartTLS()
		tr := nd.peer.Client().Transport.(*http.Transport).Clone()
		cfg := Config{
			Name: nd.name, Now: cl.clk.Now, MaxBytes: 1 << 20,
			Transport: tr,
		}
		if i == 0 {
			cfg.Registerer = cl.reg
		}
		if n > 1 {
			cfg.Owners = picker{cl: cl, self: i}
			cfg.Peers = cl.peersOf(i)
		}
		for _, o := range opts {
			o(&cfg)
		}
		c, err := New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		nd.cache = c
		nd.publish(t, 1, pol)
		nd.peer.Config.Handler = c.PeerHandler()
		t.Cleanup(func() {
			nd.front.Close()
			nd.peer.Close()
			c.Close()
			tr.CloseIdleConnections()
		})
		cl.nodes = append(cl.nodes, nd)
	}
	cl.client = cl.nodes[0].front.Client()
	return cl
}

// response is what a test request got.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) cacheStatus() string { return strings.Join(r.header.Values("Cache-Status"), ", ") }

// get sends GET path to node i with header lines kv ("Name", "value", ...).
func (cl *cluster) get(i int, path string, kv ...string) response {
	cl.t.Helper()
	return cl.do(i, http.MethodGet, path, kv...)
}

func (cl *cluster) do(i int, method, path string, kv ...string) response {
	cl.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, cl.nodes[i].front.URL+path, nil)
	if err != nil {
		cl.t.Fatal(err)
	}
	req.Host = "example.com"
	for j := 0; j+1 < len(kv); j += 2 {
		if kv[j] == "Host" {
			req.Host = kv[j+1]
			continue
		}
		req.Header.Add(kv[j], kv[j+1])
	}
	resp, err := cl.client.Do(req)
	if err != nil {
		cl.t.Fatalf("%s %s on node %d: %v", method, path, i, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		cl.t.Fatalf("read %s on node %d: %v", path, i, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// settle waits until every node's tiers have applied their writes.
func (cl *cluster) settle() {
	for _, n := range cl.nodes {
		n.cache.owner.wait()
		n.cache.near.wait()
	}
}

// hits is the origin's request count.
func (cl *cluster) hits() int64 { return cl.origin.hits.Load() }

// wantHits fails the test unless the origin has seen n requests.
func (cl *cluster) wantHits(n int64) {
	cl.t.Helper()
	if got := cl.hits(); got != n {
		cl.t.Fatalf("origin requests = %d, want %d", got, n)
	}
}

// releaseOnCleanup returns an idempotent closer of release, a channel
// test handlers block on, and registers it with t.Cleanup. Call it after
// starting the servers whose handlers wait on release: cleanups run last
// first, so a test that fails before it releases them still frees the
// handlers before the servers' Close waits for them.
func releaseOnCleanup(t testing.TB, release chan struct{}) func() {
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)
	return open
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// key is the cache key of GET https://example.com+path under pol.
func key(pol Policy, path string) string {
	r := httptest.NewRequest(http.MethodGet, "https://example.com"+path, nil)
	return KeyOf(r, pol)
}
