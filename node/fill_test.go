package node_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

// pathUpstream answers every request with a shared-cacheable body naming
// the path it got, and counts requests per path.
type pathUpstream struct {
	mu   sync.Mutex
	hits map[string]int
}

func (u *pathUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.hits[r.URL.Path]++
	u.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=300")
	fmt.Fprintf(w, "upstream path %s", r.URL.Path)
}

func (u *pathUpstream) snapshot() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]int, len(u.hits))
	for k, v := range u.hits {
		out[k] = v
	}
	return out
}

// TestClusterCacheFillByRoute: a cache owner fills a peer's miss through
// the route's fill chain alone. The upstream path is the route's rewrite
// of the request (its parameters recovered from the path on the owner,
// under the same config — the fill has lost the header the route's
// condition names), every key costs one upstream request cluster-wide, and
// the owner's client-facing stages never see the fill: its per-address
// flood guard does not count the requests it filled for the node that
// admitted them.
func TestClusterCacheFillByRoute(t *testing.T) {
	up := &pathUpstream{hits: map[string]int{}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	const burst = 16
	guard := func(c *node.Config) {
		c.Override = func(f *config.File) {
			f.Node.Server.IPRateLimit = &config.IPRateLimit{
				Rate: config.Rate{Count: burst, Period: time.Hour}, Burst: burst, MaxAddresses: 1024}
		}
	}
	gw := fmt.Sprintf(`
upstreams: [{name: up, targets: [{url: %q}]}]
routes:
  - name: items
    match: {paths: ["/items/{id}/parts/{part}"], headers: {X-Forwarded-Proto: https}}
    upstream: up
    rewrite: /v1/things/{id}/{part}
    cache: {}
`, srv.URL)
	ns := nodetest.StartCluster(t, 3, gw, guard)
	nodetest.WaitFor(t, 20*time.Second, func() bool {
		for _, n := range ns {
			if n.Cluster().Ring().Len() != 3 {
				return false
			}
		}
		return true
	})
	// The route's condition names a header fills never carry (the cache
	// drops X-Forwarded-Proto unless keyed): the owner must not need it.
	get := func(n *nodetest.Node, path string) cachedResp {
		t.Helper()
		req, _ := http.NewRequest("GET", n.URL+path, nil)
		req.Header.Set("X-Forwarded-Proto", "https")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return cachedResp{res.StatusCode, string(b), res.Header.Get("Cache-Status")}
	}

	// burst requests for distinct keys on node A: each admitted by A's
	// guard; those another node owns are filled there.
	a := ns[0]
	filledBy := map[string]int{}
	for i := range burst {
		path := fmt.Sprintf("/items/%d/parts/p%d", i, i)
		r := get(a, path)
		want := fmt.Sprintf("upstream path /v1/things/%d/p%d", i, i)
		if r.status != 200 || r.body != want {
			t.Fatalf("GET %s on %s = %d %q (%s), want 200 %q", path, a.Snapshot().Node.Name, r.status, r.body, r.cacheStatus, want)
		}
		if m := cacheStatusNode.FindStringSubmatch(r.cacheStatus); m != nil && m[1] != a.Snapshot().Node.Name {
			filledBy[m[1]]++
		}
	}
	// The node that filled most of them for A now takes burst requests of
	// its own client's: its guard must admit them all.
	var b *nodetest.Node
	for _, n := range ns[1:] {
		if b == nil || filledBy[n.Snapshot().Node.Name] > filledBy[b.Snapshot().Node.Name] {
			b = n
		}
	}
	if filledBy[b.Snapshot().Node.Name] == 0 {
		// A owning all 16 keys of 3 nodes' ring: 1 in 43 million.
		t.Fatalf("no key of %s's %d was filled by a peer (%v): the owners refused every fill", a.Snapshot().Node.Name, burst, filledBy)
	}
	for i := range burst {
		path := fmt.Sprintf("/items/b%d/parts/q%d", i, i)
		if r := get(b, path); r.status != 200 {
			t.Fatalf("GET %s on %s after it filled %d of %s's keys = %d %q: its flood guard counted the fills",
				path, b.Snapshot().Node.Name, filledBy[b.Snapshot().Node.Name], a.Snapshot().Node.Name, r.status, r.body)
		}
	}
	// Every node now answers every key of A's from the cache: one
	// upstream request per key, at the rewritten path only.
	for _, n := range ns[1:] {
		if n == b {
			continue
		}
		for i := range burst / 2 {
			path := fmt.Sprintf("/items/%d/parts/p%d", i, i)
			if r := get(n, path); r.status != 200 || !strings.HasPrefix(r.body, "upstream path /v1/things/") {
				t.Fatalf("GET %s on %s = %d %q", path, n.Snapshot().Node.Name, r.status, r.body)
			}
		}
	}
	for path, count := range up.snapshot() {
		if !strings.HasPrefix(path, "/v1/things/") || count != 1 {
			t.Errorf("upstream saw %s %d times, want only rewritten paths, once each", path, count)
		}
	}
}

// TestOnlyIfCachedProblem: the cache's own 504 for only-if-cached on a
// miss is the not-cached problem with the request's id, like every other
// answer of the gateway.
func TestOnlyIfCachedProblem(t *testing.T) {
	up := &pathUpstream{hits: map[string]int{}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	n := nodetest.StartOne(t, "solo", t.TempDir(), fmt.Sprintf(`
upstreams: [{name: up, targets: [{url: %q}]}]
routes: [{name: c, upstream: up, cache: {}}]
`, srv.URL))
	req, _ := http.NewRequest("GET", n.URL+"/cold", nil)
	req.Header.Set("Cache-Control", "only-if-cached")
	req.Header.Set("X-Request-Id", "ask-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 504 || res.Header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(string(b), `#not-cached"`) || !strings.Contains(string(b), `"request_id":"ask-1"`) {
		t.Errorf("only-if-cached miss = %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	if len(up.snapshot()) != 0 {
		t.Errorf("only-if-cached reached the upstream: %v", up.snapshot())
	}
}
