package node_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/nodetest"
)

// reflectingUpstream is a framework that builds its links from whatever
// the request says about its host, scheme and path: it writes every
// such header it gets into the body. It counts requests per path.
type reflectingUpstream struct {
	mu    sync.Mutex
	hits  map[string]int
	total int // requests so far: each response says its number
}

// poisonHeaders are the request headers some upstreams read the
// client's host, scheme, port or path from.
var poisonHeaders = []string{
	"X-Forwarded-Host", "Forwarded", "X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Forwarded-Ssl",
	"Front-End-Https", "X-Url-Scheme", "X-Http-Host-Override", "X-Original-Host", "X-Original-Uri",
	"X-Original-Url", "X-Forwarded-Path", "X-Forwarded-Prefix", "X-Forwarded-Uri", "X-Rewrite-Url",
	"X-Forwarded-Server", "X-Host", "X-Forwarded-Port", "X-Http-Method-Override", "X-Http-Method",
	"X-Method-Override",
}

func (u *reflectingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.hits[r.Method+" "+r.URL.Path]++
	u.total++
	n := u.total
	u.mu.Unlock()
	var lines []string
	lines = append(lines, "Host: "+r.Host, fmt.Sprintf("Response: %d", n))
	for k, v := range r.Header {
		lines = append(lines, k+": "+strings.Join(v, ", "))
	}
	sort.Strings(lines)
	w.Header().Set("Cache-Control", "public, max-age=300")
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

func (u *reflectingUpstream) count(method, path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[method+" "+path]
}

func startReflecting(t *testing.T) (*reflectingUpstream, []*nodetest.Node) {
	t.Helper()
	return startReflectingRoutes(t, `
  - name: cached
    match: {paths: ["/c/{name}"]}
    upstream: up
    cache: {}
`)
}

// startReflectingRoutes is startReflecting with the given routes (YAML
// list items) on the upstream "up".
func startReflectingRoutes(t *testing.T, routes string) (*reflectingUpstream, []*nodetest.Node) {
	t.Helper()
	up := &reflectingUpstream{hits: map[string]int{}}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	gw := fmt.Sprintf(`
upstreams: [{name: up, targets: [{url: %q}], retries: {attempts: -1}}]
routes:%s`, srv.URL, routes)
	ns := nodetest.StartCluster(t, 2, gw)
	nodetest.WaitFor(t, 20*time.Second, func() bool {
		for _, n := range ns {
			if n.Cluster().Ring().Len() != 2 {
				return false
			}
		}
		return true
	})
	return up, ns
}

func doCached(t *testing.T, method, url string, kv ...string) cachedResp {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "Host" {
			req.Host = kv[i+1]
			continue
		}
		req.Header.Add(kv[i], kv[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return cachedResp{res.StatusCode, string(b), res.Header.Get("Cache-Status")}
}

// TestCachePoisoningAcrossNodes: a request whose Host carries a port, or
// that sets any header an upstream may build URLs from, must not leave
// an entry that clean clients of either node are served.
func TestCachePoisoningAcrossNodes(t *testing.T) {
	_, ns := startReflecting(t)
	host := strings.TrimPrefix(ns[0].URL, "http://")
	hostOnly := host[:strings.LastIndexByte(host, ':')]
	cases := [][]string{{"Host", hostOnly + ":31337"}, {"Host", strings.ToUpper(hostOnly) + ":31337"}}
	for _, h := range poisonHeaders {
		v := "evil31337.example"
		if h == "Forwarded" {
			v = "host=evil31337.example;proto=http"
		}
		cases = append(cases, []string{h, v})
	}
	for i, c := range cases {
		for from := range ns {
			path := fmt.Sprintf("/c/p%d-%d", i, from)
			t.Run(fmt.Sprintf("%s via node %d", c[0], from), func(t *testing.T) {
				doCached(t, http.MethodGet, ns[from].URL+path, c...)
				for j, n := range ns {
					r := doCached(t, http.MethodGet, n.URL+path)
					if r.status != 200 || strings.Contains(r.body, "31337") {
						t.Errorf("clean GET on node %d after %s: %q on node %d = %d (%s), body:\n%s", j, c[0], c[1], from, r.status, r.cacheStatus, r.body)
					}
				}
			})
		}
	}
}

// TestUnsafeMethodInvalidates: a successful POST, PUT, DELETE, PATCH or
// unknown method removes the stored responses of its URL, and of its
// Location and Content-Location on the same host, from every node
// (RFC 9111 §4.4); a failed one removes nothing.
func TestUnsafeMethodInvalidates(t *testing.T) {
	up, ns := startReflecting(t)
	warm := func(path string) string {
		t.Helper()
		body := doCached(t, http.MethodGet, ns[0].URL+path).body
		for _, n := range ns {
			if r := doCached(t, http.MethodGet, n.URL+path); r.body != body || !strings.Contains(r.cacheStatus, "hit") {
				t.Fatalf("warm %s: %s", path, r.cacheStatus)
			}
		}
		return body
	}
	for i, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, "FROB"} {
		for from := range ns {
			path := fmt.Sprintf("/c/inv%d-%d", i, from)
			old := warm(path)
			before := up.count(http.MethodGet, path)
			if r := doCached(t, m, ns[from].URL+path); r.status != 200 {
				t.Fatalf("%s %s = %d", m, path, r.status)
			}
			for j, n := range ns {
				if r := doCached(t, http.MethodGet, n.URL+path); r.body == old {
					t.Errorf("GET %s on node %d after %s on node %d: the old entry (%s), want a new response", path, j, m, from, r.cacheStatus)
				}
			}
			if got := up.count(http.MethodGet, path); got != before+1 {
				t.Errorf("after %s %s: upstream saw %d more GETs, want 1 (one refill, shared)", m, path, got-before)
			}
		}
	}
}

// TestUnsafeMethodOnUncachedRouteInvalidates: a POST matched by a route
// without a cache still drops, on every node, the entry that the caching
// GET route holds for its URL.
func TestUnsafeMethodOnUncachedRouteInvalidates(t *testing.T) {
	up, ns := startReflectingRoutes(t, `
  - name: reads
    match: {paths: ["/c/{name}"], methods: [GET, HEAD]}
    upstream: up
    cache: {}
  - name: writes
    match: {paths: ["/c/{name}"], methods: [POST]}
    upstream: up
`)
	const path = "/c/split"
	old := doCached(t, http.MethodGet, ns[0].URL+path).body
	for _, n := range ns {
		if r := doCached(t, http.MethodGet, n.URL+path); r.body != old || !strings.Contains(r.cacheStatus, "hit") {
			t.Fatalf("warm: %s", r.cacheStatus)
		}
	}
	if r := doCached(t, http.MethodPost, ns[1].URL+path); r.status != 200 {
		t.Fatalf("POST = %d", r.status)
	}
	for j, n := range ns {
		if r := doCached(t, http.MethodGet, n.URL+path); r.body == old {
			t.Errorf("GET on node %d after a POST through the uncached route: the old entry (%s)", j, r.cacheStatus)
		}
	}
	if got := up.count(http.MethodPost, path); got != 1 {
		t.Errorf("upstream saw %d POSTs, want 1", got)
	}
}
