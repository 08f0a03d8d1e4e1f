package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/cache"
	"github.com/portico-gw/portico/node/nodetest"
)

// countingUpstream answers /c/NAME with a shared-cacheable body tagged
// tag-NAME, and counts requests per path.
type countingUpstream struct {
	mu     sync.Mutex
	hits   map[string]int
	down   atomic.Bool
	leaked atomic.Bool // a request arrived with Portico-Consumer
}

func (u *countingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.hits[r.URL.Path]++
	u.mu.Unlock()
	if r.Header.Get("Portico-Consumer") != "" || r.Header.Get("X-Api-Key") != "" {
		u.leaked.Store(true)
	}
	if u.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/c/")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Surrogate-Key", "tag-"+name+" all")
	fmt.Fprintf(w, "body of %s", name)
}

func (u *countingUpstream) count(path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[path]
}

var cacheStatusNode = regexp.MustCompile(`node=([A-Za-z0-9._-]+)`)

type cachedResp struct {
	status      int
	body        string
	cacheStatus string
}

func getCached(t *testing.T, c *http.Client, url string) cachedResp {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return cachedResp{res.StatusCode, string(b), res.Header.Get("Cache-Status")}
}

// TestClusterCache: a 3-node cluster shares one cache: cross-node hits from
// the owner's copy, 1,000 concurrent requests for a cold key cost one
// upstream request, purges reach every node, and a dead owner costs
// nothing but a trip to the upstream.
func TestClusterCache(t *testing.T) {
	up := &countingUpstream{hits: map[string]int{}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	gw := fmt.Sprintf(`
upstreams:
  - name: up
    targets: [{url: %q}]
    retries: {attempts: -1}
routes:
  - name: cached
    match: {paths: ["/c/{name}"]}
    upstream: up
    cache: {stale_if_error: 1m}
`, srv.URL)
	ns := nodetest.StartCluster(t, 3, gw)
	nodetest.WaitFor(t, 20*time.Second, func() bool {
		for _, n := range ns {
			if n.Cluster().Ring().Len() != 3 {
				return false
			}
		}
		return true
	})
	tr := &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}

	t.Run("cross-node hit", func(t *testing.T) {
		first := getCached(t, client, ns[0].URL+"/c/one")
		if first.status != 200 || first.body != "body of one" {
			t.Fatalf("first GET = %d %q", first.status, first.body)
		}
		for _, n := range ns {
			r := getCached(t, client, n.URL+"/c/one")
			if r.status != 200 || r.body != "body of one" || !strings.Contains(r.cacheStatus, "hit") {
				t.Errorf("GET on %s = %d %q, Cache-Status %q; want a hit", n.Snapshot().Node.Name, r.status, r.body, r.cacheStatus)
			}
		}
		if got := up.count("/c/one"); got != 1 {
			t.Errorf("upstream saw %d requests for /c/one, want 1", got)
		}
	})

	t.Run("1000 concurrent cold requests, one upstream request", func(t *testing.T) {
		var wg sync.WaitGroup
		var bad atomic.Int64
		for i := range 1000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := client.Get(ns[i%3].URL + "/c/cold")
				if err != nil {
					bad.Add(1)
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || string(b) != "body of cold" {
					bad.Add(1)
				}
			}()
		}
		wg.Wait()
		if bad.Load() != 0 {
			t.Errorf("%d of 1000 requests failed", bad.Load())
		}
		if got := up.count("/c/cold"); got != 1 {
			t.Errorf("upstream saw %d requests for /c/cold, want exactly 1", got)
		}
	})

	purge := func(t *testing.T, n *nodetest.Node, sel string) map[string]any {
		t.Helper()
		res, err := http.Post(n.AdminURL+"/cache/purge", "application/json", bytes.NewReader([]byte(sel)))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode != 200 || out["complete"] != true {
			t.Fatalf("purge %s = %d %v, want 200 complete", sel, res.StatusCode, out)
		}
		return out
	}
	t.Run("purge by prefix, tag and key on every node", func(t *testing.T) {
		for _, tt := range []struct{ name, sel string }{
			{"prefix", `{"prefix": "http://127.0.0.1/c/p"}`},
			{"tag", `{"tag": "tag-ptag"}`},
			{"key", `{"key": "GET http://127.0.0.1/c/pkey"}`},
		} {
			path := map[string]string{"prefix": "/c/pfx", "tag": "/c/ptag", "key": "/c/pkey"}[tt.name]
			for _, n := range ns { // stored on the owner, near copies on the others
				getCached(t, client, n.URL+path)
			}
			before := up.count(path)
			out := purge(t, ns[1], tt.sel)
			if removed, _ := out["removed"].(map[string]any); len(removed) != 3 {
				t.Errorf("purge %s: removed %v, want an answer from all 3 nodes", tt.name, out["removed"])
			}
			for _, n := range ns {
				getCached(t, client, n.URL+path)
			}
			if got := up.count(path); got != before+1 {
				t.Errorf("purge by %s: upstream saw %d more requests after the purge, want 1 (refetched once, by the owner)", tt.name, got-before)
			}
		}
	})

	t.Run("owner down: still answered", func(t *testing.T) {
		getCached(t, client, ns[0].URL+"/c/orphan")
		r := getCached(t, client, ns[1].URL+"/c/orphan")
		m := cacheStatusNode.FindStringSubmatch(r.cacheStatus)
		if m == nil {
			t.Fatalf("Cache-Status %q names no node", r.cacheStatus)
		}
		var owner *nodetest.Node
		var others []*nodetest.Node
		for _, n := range ns {
			if n.Snapshot().Node.Name == m[1] {
				owner = n
			} else {
				others = append(others, n)
			}
		}
		if owner == nil {
			t.Fatalf("Cache-Status %q names no node of the cluster", r.cacheStatus)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := owner.Shutdown(ctx); err != nil {
			t.Fatalf("shutting the owner down: %v", err)
		}
		for _, n := range others {
			for _, path := range []string{"/c/orphan", "/c/fresh-after-owner-died"} {
				if r := getCached(t, client, n.URL+path); r.status != 200 || !strings.HasPrefix(r.body, "body of ") {
					t.Errorf("GET %s on %s with its owner down = %d %q, want 200", path, n.Snapshot().Node.Name, r.status, r.body)
				}
			}
		}
	})
}

// TestClusterCacheWithAuth: on a route that both authenticates and
// caches, a non-owner asks the owner for a consumer's entry — the owner
// must serve the same consumer (not refuse the request whose key the
// asker already removed), and entries never cross consumers.
func TestClusterCacheWithAuth(t *testing.T) {
	up := &countingUpstream{hits: map[string]int{}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	const aliceKey, bobKey = "alice-key-0123456789", "bob-key-0123456789"
	gw := fmt.Sprintf(`
upstreams: [{name: up, targets: [{url: %q}]}]
consumers:
  - {name: alice, api_keys: ["%s"]}
  - {name: bob, api_keys: ["%s"]}
routes:
  - name: cached
    match: {paths: ["/c/{name}"]}
    upstream: up
    auth: {api_key: {}}
    cache: {}
`, srv.URL, keyHash(aliceKey), keyHash(bobKey))
	ns := nodetest.StartCluster(t, 3, gw)
	nodetest.WaitFor(t, 20*time.Second, func() bool {
		for _, n := range ns {
			if n.Cluster().Ring().Len() != 3 {
				return false
			}
		}
		return true
	})
	get := func(n *nodetest.Node, path, key string) cachedResp {
		t.Helper()
		req, _ := http.NewRequest("GET", n.URL+path, nil)
		req.Header.Set("X-API-Key", key)
		req.Header.Set("Portico-Consumer", "alice") // a client can't pick its consumer
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return cachedResp{res.StatusCode, string(b), res.Header.Get("Cache-Status")}
	}
	// Several paths, so that some are owned by a node other than the one asked.
	for i := range 6 {
		path := fmt.Sprintf("/c/p%d", i)
		for _, n := range ns {
			for _, key := range []string{aliceKey, bobKey} {
				if r := get(n, path, key); r.status != 200 {
					t.Fatalf("GET %s on %s = %d %q (%s), want 200", path, n.Snapshot().Node.Name, r.status, r.body, r.cacheStatus)
				}
			}
		}
		// One entry per consumer, fetched once each.
		if got := up.count(path); got != 2 {
			t.Errorf("upstream saw %d requests for %s, want 2 (one per consumer)", got, path)
		}
	}
	if up.leaked.Load() {
		t.Error("the upstream saw Portico-Consumer or X-API-Key")
	}
}

// TestClusterCacheFillsAreNotLimitedTwice: a request admitted by a
// route's limit on the node it reached is not counted again when the
// cache's owner fills it (which would answer 429 to an admitted request).
func TestClusterCacheFillsAreNotLimitedTwice(t *testing.T) {
	up := &countingUpstream{hits: map[string]int{}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	gw := fmt.Sprintf(`
upstreams: [{name: up, targets: [{url: %q}]}]
routes:
  - name: cached
    match: {paths: ["/c/{name}"]}
    upstream: up
    cache: {}
    rate_limits: [{rate: 1/h, burst: 1, by: [route], mode: strict}]
`, srv.URL)
	ns := nodetest.StartCluster(t, 3, gw)
	nodetest.WaitFor(t, 20*time.Second, func() bool {
		for _, n := range ns {
			if n.Cluster().Ring().Len() != 3 {
				return false
			}
		}
		return true
	})
	// A path whose entry another node owns: node 1 admits the request
	// (the limit's one unit) and asks the owner to fill it.
	self := ns[0].Snapshot().Node
	ring := ns[0].Cluster().Ring().Scope(self.Region)
	path := ""
	for i := range 100 {
		p := fmt.Sprintf("/c/x%d", i)
		key := cache.KeyOf(httptest.NewRequest("GET", ns[0].URL+p, nil), cache.Policy{})
		if m, ok := ring.Owner(key); ok && m.ID != self.Name {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("no path owned by another node among 100")
	}
	r := getCached(t, http.DefaultClient, ns[0].URL+path)
	if r.status != 200 {
		t.Fatalf("the one admitted request = %d %q (%s), want 200", r.status, r.body, r.cacheStatus)
	}
	if m := cacheStatusNode.FindStringSubmatch(r.cacheStatus); m == nil || m[1] == self.Name {
		t.Errorf("Cache-Status %q: want the entry stored by its owner, another node", r.cacheStatus)
	}
	if r := getCached(t, http.DefaultClient, ns[1].URL+"/c/other"); r.status != 429 {
		t.Errorf("second request = %d, want 429 (the limit holds)", r.status)
	}
}
