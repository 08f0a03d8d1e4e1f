package node_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portico-gw/portico/node/nodetest"
)

// corsUpstream counts the requests by method and sends CORS headers of
// its own, which a cors route must not pass on.
func corsUpstream(t *testing.T, options *atomic.Int32) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			options.Add(1)
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "public, max-age=60")
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func corsGateway(up string) string {
	return fmt.Sprintf(`
upstreams: [{name: up, targets: [{url: %q}]}]
consumers:
  - {name: alice, api_keys: [%q]}
routes:
  # Reads and writes of one path, each with its own policy; neither
  # lists OPTIONS.
  - name: items-read
    match: {paths: ["/items"], methods: [GET]}
    upstream: up
    cors: {allow_origins: ["https://*.example.com"], max_age: 10m}
  - name: items-write
    match: {paths: ["/items"], methods: [POST, DELETE]}
    upstream: up
    cors:
      allow_origins: [https://admin.example.com]
      allow_headers: [Content-Type]
      allow_credentials: true
  # Authenticated and limited: a preflight is neither a 401 nor counted.
  - name: private
    match: {paths: ["/private"], methods: [GET, PUT]}
    upstream: up
    auth: {api_key: {}}
    rate_limits: [{rate: 1/m, burst: 1, scope: local}]
    cors:
      allow_origins: [https://app.example.com]
      expose_headers: [X-Request-Id]
  # Takes any method (OPTIONS too): plain OPTIONS reach the upstream.
  - name: open
    match: {paths: ["/open"]}
    upstream: up
    cache: {}
    cors: {allow_origins: ["*"]}
  # No cors: the upstream's headers pass.
  - name: plain
    match: {paths: ["/plain"], methods: [GET]}
    upstream: up
`, up, keyHash(aliceKey))
}

func corsPreflight(t *testing.T, url, origin, method string, hdr ...string) resp {
	t.Helper()
	return do(t, "OPTIONS", url, nil, append([]string{"Origin", origin, "Access-Control-Request-Method", method}, hdr...)...)
}

func TestCORS_Preflights(t *testing.T) {
	var options atomic.Int32
	n := nodetest.Start(t, 1, corsGateway(corsUpstream(t, &options)))[0]
	tests := []struct {
		name, path, origin, method, headers string
		wantOrigin, wantCreds, wantAge      string
	}{
		{name: "read route, wildcard", path: "/items", origin: "https://shop.example.com", method: "GET", wantOrigin: "https://shop.example.com", wantAge: "600"},
		{name: "write route judges writes", path: "/items", origin: "https://admin.example.com", method: "DELETE", headers: "content-type", wantOrigin: "https://admin.example.com", wantCreds: "true"},
		{name: "write route refuses a read origin", path: "/items", origin: "https://shop.example.com", method: "POST"},
		{name: "method no route allows", path: "/items", origin: "https://admin.example.com", method: "PATCH"},
		{name: "header not allowed", path: "/items", origin: "https://admin.example.com", method: "POST", headers: "x-secret"},
		{name: "auth route", path: "/private", origin: "https://app.example.com", method: "PUT", headers: "x-api-key", wantOrigin: "https://app.example.com"},
		{name: "auth route, other origin", path: "/private", origin: "https://evil.test", method: "PUT"},
		{name: "any origin", path: "/open", origin: "https://anyone.test", method: "POST", wantOrigin: "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.headers != "" {
				hdr = []string{"Access-Control-Request-Headers", tt.headers}
			}
			r := corsPreflight(t, n.URL+tt.path, tt.origin, tt.method, hdr...)
			if r.status != 204 {
				t.Fatalf("preflight = %d %s, want 204 from the gateway", r.status, r.body)
			}
			h := r.header
			if got := h.Get("Access-Control-Allow-Origin"); got != tt.wantOrigin {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantOrigin)
			}
			if h.Get("Access-Control-Allow-Credentials") != tt.wantCreds || h.Get("Access-Control-Max-Age") != tt.wantAge {
				t.Errorf("credentials %q max-age %q, want %q %q", h.Get("Access-Control-Allow-Credentials"), h.Get("Access-Control-Max-Age"), tt.wantCreds, tt.wantAge)
			}
			if tt.wantOrigin == "" {
				for k := range h {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("refused preflight carries %s", k)
					}
				}
			} else if h.Get("Access-Control-Allow-Methods") != tt.method || h.Get("Access-Control-Allow-Headers") != tt.headers {
				t.Errorf("methods %q headers %q", h.Get("Access-Control-Allow-Methods"), h.Get("Access-Control-Allow-Headers"))
			}
		})
	}
	if got := options.Load(); got != 0 {
		t.Errorf("the upstream saw %d preflights, want none", got)
	}

	// The preflights of the auth route spent nothing of its limit (burst 1).
	if r := get(t, n.URL+"/private", "X-API-Key", aliceKey); r.status != 200 {
		t.Errorf("first request after the preflights = %d, want 200 (preflights are not counted)", r.status)
	}

	// An OPTIONS that is not a preflight: the router's 405 on a route
	// without OPTIONS, Allow included; proxied on a route that takes it.
	r := do(t, "OPTIONS", n.URL+"/items", nil, "Origin", "https://shop.example.com")
	if r.status != 405 || r.header.Get("Allow") != "DELETE, GET, HEAD, POST" {
		t.Errorf("plain OPTIONS /items = %d, Allow %q; want 405 with the routes' methods", r.status, r.header.Get("Allow"))
	}
	if r := do(t, "OPTIONS", n.URL+"/open", nil); r.status != 200 || options.Load() != 1 {
		t.Errorf("plain OPTIONS /open = %d, upstream saw %d; want it proxied", r.status, options.Load())
	}
}

func TestCORS_ActualRequests(t *testing.T) {
	var options atomic.Int32
	n := nodetest.Start(t, 1, corsGateway(corsUpstream(t, &options)))[0]

	// An allowed origin: the gateway's headers only (the upstream's "*"
	// dropped), Vary: Origin.
	r := get(t, n.URL+"/items", "Origin", "https://shop.example.com")
	if v := r.header.Values("Access-Control-Allow-Origin"); r.status != 200 || !slices.Equal(v, []string{"https://shop.example.com"}) {
		t.Errorf("GET /items = %d, Access-Control-Allow-Origin %q", r.status, v)
	}
	if !slices.Contains(r.header.Values("Vary"), "Origin") {
		t.Errorf("Vary = %q, want Origin", r.header.Values("Vary"))
	}

	// A problem from an inner stage keeps them: the page can read its 401.
	r = get(t, n.URL+"/private", "Origin", "https://app.example.com")
	if r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.header.Get("Access-Control-Expose-Headers") != "X-Request-Id" {
		t.Errorf("GET /private without a key = %d, CORS %q expose %q; want 401 with them", r.status, r.header.Get("Access-Control-Allow-Origin"), r.header.Get("Access-Control-Expose-Headers"))
	}

	// Another origin: served as usual, with no CORS headers at all.
	r = get(t, n.URL+"/items", "Origin", "https://evil.test")
	if r.status != 200 || string(r.body) != "ok" {
		t.Errorf("GET /items from another origin = %d %q, want 200 ok", r.status, r.body)
	}
	for k := range r.header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("another origin's answer carries %s: %v", k, r.header[k])
		}
	}

	// A cached answer (the second) is the gateway's too.
	for i := range 2 {
		r = get(t, n.URL+"/open", "Origin", "https://anyone.test")
		if v := r.header.Values("Access-Control-Allow-Origin"); !slices.Equal(v, []string{"*"}) {
			t.Errorf("GET /open #%d (Cache-Status %q): Access-Control-Allow-Origin %q", i+1, r.header.Get("Cache-Status"), v)
		}
	}

	// A route without cors passes the upstream's headers.
	if r := get(t, n.URL+"/plain", "Origin", "https://evil.test"); r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("GET /plain: Access-Control-Allow-Origin %q, want the upstream's", r.header.Get("Access-Control-Allow-Origin"))
	}
}
