package node_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

// fakeClock is the limiter's clock in tests: it moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time { return time.Unix(0, c.ns.Load()) }

// withLimiter gives the node's limiter the fake clock, no background
// sync or flush (tests call Flush), and a decision timeout no busy test
// machine misses, so strict decisions never fall back.
func withLimiter(clk *fakeClock) func(*node.Config) {
	return func(cfg *node.Config) {
		cfg.TuneLimiter = func(lc *limiter.Config) {
			lc.Now = clk.now
			lc.SyncInterval, lc.FlushInterval = -1, -1
			lc.DecisionTimeout = 5 * time.Second
		}
	}
}

func isProblem(t *testing.T, r resp, status int, slug string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	if p := problemOf(t, r); !strings.HasSuffix(p.Type, "#"+slug) || p.Status != status {
		t.Errorf("problem type %q status %d, want #%s %d", p.Type, p.Status, slug, status)
	}
}

// TestRateLimitResponses: a local limit with burst 2 admits two requests,
// then answers 429 problem+json with Retry-After; RateLimit-Policy and
// RateLimit are exact on every response; with several limits the tighter
// one shows and a denied request costs the others nothing; limits of two
// routes never share a count.
func TestRateLimitResponses(t *testing.T) {
	up, _ := nodetest.Demo(t)
	clk := newFakeClock()
	n := nodetest.Start(t, 1, gateway(up, `
  - name: limited
    match: {paths: ["/limited/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    rate_limits: [{name: per-ip, rate: 10/m, burst: 2, scope: local}]
  - name: limited-too
    match: {paths: ["/limited-too/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    rate_limits: [{name: per-ip, rate: 10/m, burst: 2, scope: local}]
  - name: two
    match: {paths: ["/two/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    rate_limits:
      - {name: loose, rate: 100/m, burst: 50, scope: local}
      - {name: tight, rate: 1/m, burst: 3, by: [route], scope: local}
`), withLimiter(clk))[0]

	steps := []struct {
		status              int
		rateLimit, retryAft string
	}{
		{200, `"per-ip";r=1;t=6`, ""},
		{200, `"per-ip";r=0;t=12`, ""},
		{429, `"per-ip";r=0;t=12`, "6"},
	}
	for i, s := range steps {
		r := get(t, n.URL+"/limited/x")
		if r.status != s.status {
			t.Fatalf("request %d: status %d, want %d", i+1, r.status, s.status)
		}
		if got := r.header.Get("RateLimit-Policy"); got != `"per-ip";q=10;w=60` {
			t.Errorf("request %d: RateLimit-Policy = %q, want %q", i+1, got, `"per-ip";q=10;w=60`)
		}
		if got := r.header.Get("RateLimit"); got != s.rateLimit {
			t.Errorf("request %d: RateLimit = %q, want %q", i+1, got, s.rateLimit)
		}
		if got := r.header.Get("Retry-After"); got != s.retryAft {
			t.Errorf("request %d: Retry-After = %q, want %q", i+1, got, s.retryAft)
		}
		if s.status == 429 {
			isProblem(t, r, 429, "rate-limited")
		}
	}
	if r := get(t, n.URL+"/limited-too/x"); r.status != 200 {
		t.Errorf("another route's limit of the same name and key: %d, want 200 (counted apart)", r.status)
	}
	clk.ns.Add(int64(6 * time.Second))
	if r := get(t, n.URL+"/limited/x"); r.status != 200 {
		t.Errorf("after Retry-After: %d, want 200", r.status)
	}

	t.Run("several limits", func(t *testing.T) {
		for i := 1; i <= 3; i++ {
			r := get(t, n.URL+"/two/x")
			want := fmt.Sprintf(`"tight";r=%d;t=%d`, 3-i, 60*i)
			if r.status != 200 || r.header.Get("RateLimit") != want {
				t.Fatalf("request %d: %d RateLimit %q, want 200 %q", i, r.status, r.header.Get("RateLimit"), want)
			}
		}
		r := get(t, n.URL+"/two/x")
		isProblem(t, r, 429, "rate-limited")
		if got := r.header.Get("RateLimit-Policy"); got != `"tight";q=1;w=60` {
			t.Errorf("denied: RateLimit-Policy = %q, want the tight one", got)
		}
		clk.ns.Add(int64(time.Minute))
		r = get(t, n.URL+"/two/x")
		if r.status != 200 {
			t.Fatalf("after a minute: %d, want 200", r.status)
		}
		if got := r.header.Get("RateLimit"); got != `"tight";r=0;t=180` {
			t.Errorf("RateLimit = %q, want the tight one with r=0", got)
		}
	})
}

// TestIPGuardBeforeRouting: node.server.ip_rate_limit answers 429 before
// any route is looked up: unknown paths and malformed ones count, and are
// refused, like the others.
func TestIPGuardBeforeRouting(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, fmt.Sprintf(`
upstreams: [{name: demo, targets: [{url: %q}]}]
routes: [{name: known, match: {paths: ["/status/{code}"]}, upstream: demo}]
`, up), func(cfg *node.Config) {
		cfg.Override = func(f *config.File) {
			f.Node.Server.IPRateLimit = &config.IPRateLimit{Rate: config.Rate{Count: 1, Period: time.Hour}, Burst: 2}
		}
	})[0]
	for i, s := range []struct {
		path string
		want int
	}{{"/status/200", 200}, {"/unknown", 404}, {"/unknown", 429}, {"/status/200", 429}} {
		r := get(t, n.URL+s.path)
		if r.status != s.want {
			t.Fatalf("request %d (%s): %d, want %d", i+1, s.path, r.status, s.want)
		}
		if s.want == 429 {
			isProblem(t, r, 429, "ip-rate-limited")
			if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("Retry-After = %q, want a positive delay", ra)
			}
		}
	}
}

// flushAll steps every node's limiter: queued hits to their owners, views
// back, quota counters to disk and replicas.
func flushAll(t *testing.T, ns []*nodetest.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range ns {
		if err := n.Limiter().Flush(ctx); err != nil {
			t.Fatalf("flush %s: %v", n.Snapshot().Node.Name, err)
		}
	}
}

func waitRing(t *testing.T, ns []*nodetest.Node) {
	t.Helper()
	nodetest.WaitFor(t, 20*time.Second, func() bool {
		for _, n := range ns {
			if n.Cluster().Ring().Len() != len(ns) {
				return false
			}
		}
		return true
	})
}

// TestClusterGlobalLimits: requests spread over 3 nodes far above a
// global limit: strict admits exactly the burst; async admits the burst
// plus at most what the other nodes' views allow between two syncs.
func TestClusterGlobalLimits(t *testing.T) {
	up, _ := nodetest.Demo(t)
	const burst = 30
	clk := newFakeClock()
	ns := nodetest.StartCluster(t, 3, clusterDoc(up, fmt.Sprintf(`
  - name: async
    match: {paths: ["/async/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    rate_limits: [{name: shared, rate: 1/h, burst: %d, by: [route]}]
  - name: strict
    match: {paths: ["/strict/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    rate_limits: [{name: shared-strict, rate: 1/h, burst: %d, by: [route], mode: strict}]
`, burst, burst)), withLimiter(clk))
	waitRing(t, ns)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	status := func(url string) (int, http.Header) {
		res, err := client.Get(url)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
			return 0, nil
		}
		res.Body.Close()
		return res.StatusCode, res.Header
	}

	t.Run("async", func(t *testing.T) {
		const perRound = 5
		admitted := 0
		for round := 0; round < 12; round++ { // 180 requests
			for _, n := range ns {
				for range perRound {
					code, h := status(n.URL + "/async/x")
					switch code {
					case 200:
						admitted++
					case 429:
						if h.Get("RateLimit") == "" || h.Get("Retry-After") == "" {
							t.Errorf("429 from %s without RateLimit/Retry-After headers", n.Snapshot().Node.Name)
						}
					default:
						t.Fatalf("GET /async/x = %d", code)
					}
				}
			}
			flushAll(t, ns)
		}
		// Views never under-admit. They over-admit for a round or two:
		// the two nodes that don't own the key decide from views one
		// sync old, and the first flushed misses the second's last
		// round.
		if admitted < burst || admitted > burst+3*perRound {
			t.Errorf("admitted %d of 180, want %d..%d", admitted, burst, burst+3*perRound)
		}
		t.Logf("async: admitted %d (burst %d)", admitted, burst)
	})

	t.Run("strict", func(t *testing.T) {
		var admitted, limited atomic.Int64
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 { // 120 requests
					switch code, _ := status(ns[(g+i)%3].URL + "/strict/x"); code {
					case 200:
						admitted.Add(1)
					case 429:
						limited.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if admitted.Load() != burst || limited.Load() != 120-burst {
			t.Errorf("strict: admitted %d, limited %d of 120, want exactly %d and %d", admitted.Load(), limited.Load(), burst, 120-burst)
		}
	})
}

// TestQuotaSurvivesClusterRestart: a plan quota counted across 3 nodes
// survives a restart of every node (the owner's counter file), then
// denies with quota-exceeded at exactly its limit, and a reset through the
// admin API of any node gives it back.
func TestQuotaSurvivesClusterRestart(t *testing.T) {
	up, _ := nodetest.Demo(t)
	clk := newFakeClock()
	doc := fmt.Sprintf(`
upstreams: [{name: demo, targets: [{url: %q}]}]
consumers: [{name: alice, plan: small, api_keys: [%q]}]
plans: [{name: small, quota: {limit: 10, per: day}}]
routes:
  - name: api
    match: {paths: ["/api/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    auth: {api_key: {}}
`, up, keyHash(aliceKey))
	ns := nodetest.StartCluster(t, 3, doc, withLimiter(clk))
	waitRing(t, ns)
	for i := range 6 {
		if r := get(t, ns[i%3].URL+"/api/x", "X-API-Key", aliceKey); r.status != 200 {
			t.Fatalf("request %d: %d %s", i+1, r.status, r.body)
		}
	}
	flushAll(t, ns)
	if used, limit, _ := usageOf(t, get(t, ns[2].AdminURL+"/consumers/alice/usage")); used != 6 || limit != 10 {
		t.Fatalf("usage before the restart: %d of %d, want 6 of 10", used, limit)
	}

	for _, n := range ns {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.Shutdown(ctx); err != nil {
			t.Fatalf("shutdown %s: %v", n.Snapshot().Node.Name, err)
		}
		cancel()
	}
	spec := ns[0].Spec
	spec.Seed = "" // the first node restarts on a new gossip port
	again := make([]*nodetest.Node, len(ns))
	for i, n := range ns {
		again[i] = spec.StartNode(t, n.Snapshot().Node.Name, n.DataDir, doc, withLimiter(clk))
	}
	waitRing(t, again)
	if used, _, _ := usageOf(t, get(t, again[0].AdminURL+"/consumers/alice/usage")); used != 6 {
		t.Fatalf("usage after restarting every node: %d, want 6", used)
	}
	// One node decides the rest, so its view is the only one that moves.
	n := again[1]
	for i := 7; i <= 10; i++ {
		if r := get(t, n.URL+"/api/x", "X-API-Key", aliceKey); r.status != 200 {
			t.Fatalf("request %d of a quota of 10: %d", i, r.status)
		}
	}
	r := get(t, n.URL+"/api/x", "X-API-Key", aliceKey)
	isProblem(t, r, 429, "quota-exceeded")
	// The day ends at midnight UTC, 12 hours after the fake clock's noon.
	if ra, pol := r.header.Get("Retry-After"), r.header.Get("RateLimit-Policy"); ra != "43200" || pol != `"small/day";q=10;w=86400` {
		t.Errorf("Retry-After %q, RateLimit-Policy %q; want 43200 and \"small/day\";q=10;w=86400", ra, pol)
	}
	if used, _, _ := usageOf(t, do(t, "POST", n.AdminURL+"/consumers/alice/usage/reset", nil)); used != 0 {
		t.Errorf("after reset: used %d, want 0", used)
	}
	if r := get(t, n.URL+"/api/x", "X-API-Key", aliceKey); r.status != 200 {
		t.Errorf("after reset: %d, want 200", r.status)
	}
}

// TestClientIPLimitPerIPv6Slash64: by: client_ip counts an IPv6 client
// by its /64, as the IP guard does: a host usually holds a whole /64, so
// counting each address would give one attacker 2^64 budgets. IPv4
// addresses count one by one, and another /64 has its own count.
func TestClientIPLimitPerIPv6Slash64(t *testing.T) {
	up, _ := nodetest.Demo(t)
	clk := newFakeClock()
	n := nodetest.Start(t, 1, gateway(up, `
  - name: limited
    match: {paths: ["/limited/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    rate_limits: [{name: per-ip, rate: 1/h, burst: 2, by: [client_ip], scope: local}]
`), withLimiter(clk), func(cfg *node.Config) {
		cfg.Override = func(f *config.File) { f.Node.TrustedProxies = []string{"127.0.0.1/32", "::1/128"} }
	})[0]
	from := func(addr string) int {
		return get(t, n.URL+"/limited/x", "X-Forwarded-For", addr).status
	}
	for i, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:1:2:3"} {
		if want := []int{200, 200, 429}[i]; from(addr) != want {
			t.Fatalf("request %d from %s (one /64): want %d", i+1, addr, want)
		}
	}
	if s := from("2001:db8:1:3::1"); s != 200 {
		t.Errorf("another /64: %d, want 200 (its own count)", s)
	}
	for i, addr := range []string{"192.0.2.1", "192.0.2.1", "192.0.2.2"} {
		if s := from(addr); s != 200 {
			t.Errorf("IPv4 request %d from %s: %d, want 200 (each address its own count)", i+1, addr, s)
		}
	}
}
