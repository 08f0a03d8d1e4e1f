package node_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

// sendH sends GET url with the header lines h (each value its own line).
func sendH(t *testing.T, url string, h http.Header) resp {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	return doReq(t, req)
}

// forgedIdentity is what a client claiming to be someone else sends.
func forgedIdentity() http.Header {
	return http.Header{
		"X-Consumer-Name":      {"root", "admin"},
		"X-Consumer-Groups":    {"ops", "staff"},
		"X-Anonymous-Consumer": {"false"},
	}
}

// identityGateway: alice (no group) and bob (group staff); routes that
// send the identity upstream (required and optional auth), one that
// doesn't, and one reading the key from a cookie.
func identityGateway(up string) string {
	return fmt.Sprintf(`
upstreams: [{name: demo, targets: [{url: %q}]}]
consumers:
  - {name: alice, api_keys: [%q]}
  - {name: bob, group: staff, api_keys: [%q]}
consumer_groups: [{name: staff}]
routes:
  - name: ids
    match: {paths: ["/ids/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    auth: {api_key: {}, upstream_headers: {}}
  - name: open
    match: {paths: ["/open/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    auth: {api_key: {}, optional: true, upstream_headers: {}}
  - name: plain
    match: {paths: ["/plain/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    auth: {api_key: {}, optional: true}
  - name: cookie
    match: {paths: ["/cookie/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    auth: {api_key: {cookie: portico_key}}
`, up, keyHash(aliceKey), keyHash(bobKey))
}

// TestIdentityUpstream: the identity headers the upstream gets are the
// gateway's, never the client's: set for a consumer, replaced when forged
// (repeated values too), removed with the anonymous marker on an optional
// route, and left alone on a route without upstream_headers; an API key
// in a cookie identifies and is removed from the Cookie header, the other
// cookies reaching the upstream as sent, and never from the access log.
func TestIdentityUpstream(t *testing.T) {
	up, _ := nodetest.Demo(t)
	var log syncBuffer
	n := nodetest.Start(t, 1, identityGateway(up), func(c *node.Config) {
		c.Stdout = &log
		c.Override = func(f *config.File) { f.Node.AccessLog.Output = "stdout" }
	})[0]
	headers := func(t *testing.T, r resp) map[string][]string {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("got %d %s, want 200", r.status, r.body)
		}
		return echoOf(t, r).Headers
	}
	check := func(t *testing.T, h map[string][]string, want map[string][]string) {
		t.Helper()
		for k, w := range want {
			if !slices.Equal(h[k], w) {
				t.Errorf("the upstream got %s: %q, want %q", k, h[k], w)
			}
		}
	}
	withKey := func(h http.Header, key string) http.Header { h.Set("X-API-Key", key); return h }

	t.Run("consumer", func(t *testing.T) {
		check(t, headers(t, sendH(t, n.URL+"/ids/x", withKey(http.Header{}, bobKey))),
			map[string][]string{"X-Consumer-Name": {"bob"}, "X-Consumer-Groups": {"staff"}, "X-Anonymous-Consumer": nil})
	})
	t.Run("forged, repeated", func(t *testing.T) {
		check(t, headers(t, sendH(t, n.URL+"/ids/x", withKey(forgedIdentity(), bobKey))),
			map[string][]string{"X-Consumer-Name": {"bob"}, "X-Consumer-Groups": {"staff"}, "X-Anonymous-Consumer": nil})
		check(t, headers(t, sendH(t, n.URL+"/ids/x", withKey(forgedIdentity(), aliceKey))),
			map[string][]string{"X-Consumer-Name": {"alice"}, "X-Consumer-Groups": nil, "X-Anonymous-Consumer": nil})
	})
	t.Run("anonymous on an optional route", func(t *testing.T) {
		check(t, headers(t, sendH(t, n.URL+"/open/x", forgedIdentity())),
			map[string][]string{"X-Consumer-Name": nil, "X-Consumer-Groups": nil, "X-Anonymous-Consumer": {"true"}})
		check(t, headers(t, sendH(t, n.URL+"/open/x", withKey(forgedIdentity(), bobKey))),
			map[string][]string{"X-Consumer-Name": {"bob"}, "X-Consumer-Groups": {"staff"}, "X-Anonymous-Consumer": nil})
	})
	t.Run("never set without upstream_headers", func(t *testing.T) {
		check(t, headers(t, sendH(t, n.URL+"/plain/x", withKey(http.Header{}, bobKey))),
			map[string][]string{"X-Consumer-Name": nil, "X-Consumer-Groups": nil, "X-Anonymous-Consumer": nil})
	})
	t.Run("cookie key", func(t *testing.T) {
		h := http.Header{"Cookie": {"theme=dark; portico_key=" + aliceKey + `;  cart="a b"`}}
		check(t, headers(t, sendH(t, n.URL+"/cookie/x", h)), map[string][]string{"Cookie": {`theme=dark;  cart="a b"`}})
		r := sendH(t, n.URL+"/cookie/x", http.Header{"Cookie": {"portico_key=not-a-key; theme=dark"}})
		isProblem(t, r, 401, "credentials-invalid")
		r = sendH(t, n.URL+"/cookie/x", http.Header{"Cookie": {"theme=dark"}})
		isProblem(t, r, 401, "credentials-missing")
		if got, want := r.header.Get("WWW-Authenticate"), `ApiKey header="X-API-Key", cookie="portico_key"`; got != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
	})

	waitFor(t, 5*time.Second, func() bool { return strings.Contains(log.String(), `"credentials-missing"`) })
	if l := log.String(); strings.Contains(l, aliceKey) || strings.Contains(l, bobKey) {
		t.Errorf("an API key is in the access log:\n%s", l)
	}
}

// identityUpstream answers every request with a shared-cacheable body and
// records the identity headers of each request by path.
type identityUpstream struct {
	mu   sync.Mutex
	seen map[string][]http.Header
}

func (u *identityUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.seen[r.URL.Path] = append(u.seen[r.URL.Path], http.Header{
		"X-Consumer-Name":      r.Header.Values("X-Consumer-Name"),
		"X-Consumer-Groups":    r.Header.Values("X-Consumer-Groups"),
		"X-Anonymous-Consumer": r.Header.Values("X-Anonymous-Consumer"),
	})
	u.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = io.WriteString(w, "for "+r.Header.Get("X-Consumer-Name"))
}

// TestClusterFillIdentity: on a cached route with upstream_headers, a
// cache owner filling a peer's miss sends the upstream the identity the
// asker's auth stage set, never the client's forged one, and entries
// never cross consumers.
func TestClusterFillIdentity(t *testing.T) {
	up := &identityUpstream{seen: map[string][]http.Header{}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	gw := fmt.Sprintf(`
upstreams: [{name: up, targets: [{url: %q}]}]
consumers:
  - {name: alice, api_keys: [%q]}
  - {name: bob, group: staff, api_keys: [%q]}
consumer_groups: [{name: staff}]
routes:
  - name: items
    match: {paths: ["/items/{id}"]}
    upstream: up
    auth: {api_key: {}, optional: true, upstream_headers: {}}
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
	a := ns[0]
	const keys = 12
	filled := 0
	for i := range keys {
		for _, who := range []struct{ key, name string }{{bobKey, "bob"}, {aliceKey, "alice"}, {"", ""}} {
			h := forgedIdentity()
			if who.key != "" {
				h.Set("X-API-Key", who.key)
			}
			r := sendH(t, fmt.Sprintf("%s/items/%d", a.URL, i), h)
			if r.status != 200 || string(r.body) != "for "+who.name {
				t.Fatalf("GET /items/%d as %q = %d %q, want 200 %q", i, who.name, r.status, r.body, "for "+who.name)
			}
			if m := cacheStatusNode.FindStringSubmatch(r.header.Get("Cache-Status")); m != nil && m[1] != a.Snapshot().Node.Name {
				filled++
			}
		}
	}
	if filled == 0 {
		t.Fatalf("no request of %d was filled by a peer: the test proves nothing", 3*keys)
	}
	want := map[string]http.Header{
		"bob":   {"X-Consumer-Name": {"bob"}, "X-Consumer-Groups": {"staff"}, "X-Anonymous-Consumer": nil},
		"alice": {"X-Consumer-Name": {"alice"}, "X-Consumer-Groups": nil, "X-Anonymous-Consumer": nil},
		"":      {"X-Consumer-Name": nil, "X-Consumer-Groups": nil, "X-Anonymous-Consumer": {"true"}},
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	for path, hs := range up.seen {
		if len(hs) != 3 {
			t.Errorf("upstream saw %s %d times, want 3 (once per consumer and the anonymous caller)", path, len(hs))
		}
		for _, h := range hs {
			w, ok := want[h.Get("X-Consumer-Name")]
			if !ok {
				t.Errorf("upstream saw %s as %q", path, h["X-Consumer-Name"])
				continue
			}
			for k, v := range w {
				if !slices.Equal(h[k], v) {
					t.Errorf("upstream saw %s with %s %q, want %q", path, k, h[k], v)
				}
			}
		}
	}
}
