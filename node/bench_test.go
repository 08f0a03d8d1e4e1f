package node_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portico-gw/portico/node/nodetest"
)

// BenchmarkPipelineLimits runs requests through a whole node in process
// (upstream on loopback) without and with a local rate limit that never
// denies: the difference is what the limit stage costs per request.
//
//	go test -run '^$' -bench PipelineLimits -benchmem ./node
func BenchmarkPipelineLimits(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer up.Close()
	for _, bc := range []struct{ name, limits string }{
		{"none", ""},
		{"local", "    rate_limits: [{rate: 100000000/s, scope: local}]\n"},
		{"global-async-self", "    rate_limits: [{rate: 100000000/s}]\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			gw := fmt.Sprintf("upstreams: [{name: u, targets: [{url: %q}]}]\nroutes:\n  - name: r\n    upstream: u\n%s", up.URL, bc.limits)
			n := nodetest.StartOne(b, "bench", b.TempDir(), gw)
			req := httptest.NewRequest("GET", "/x", nil)
			req.RemoteAddr = "192.0.2.1:1234"
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				n.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// BenchmarkPipelineStages runs requests through a whole node in process
// on routes that use different stages: none, API-key authentication,
// and a cache hit (authenticated, so keyed by consumer). The differences are what the stages cost.
//
//	go test -run '^$' -bench PipelineStages -benchmem ./node
func BenchmarkPipelineStages(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write([]byte("ok"))
	}))
	defer up.Close()
	const key = "bench-key-0123456789"
	sum := sha256.Sum256([]byte(key))
	gw := fmt.Sprintf(`
upstreams: [{name: u, targets: [{url: %q}]}]
consumers:
  - {name: c, api_keys: ["sha256:%s"]}
routes:
  - {name: plain, match: {paths: ["/plain"]}, upstream: u}
  - {name: auth, match: {paths: ["/auth"]}, upstream: u, auth: {api_key: {}}}
  - {name: cached, match: {paths: ["/cached"]}, upstream: u, auth: {api_key: {}}, cache: {}}
`, up.URL, hex.EncodeToString(sum[:]))
	n := nodetest.StartOne(b, "bench", b.TempDir(), gw)
	for _, bc := range []struct{ name, path, key string }{
		{"none", "/plain", ""},
		{"auth", "/auth", key},
		{"auth-cache-hit", "/cached", key},
	} {
		b.Run(bc.name, func(b *testing.B) {
			serve := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest("GET", bc.path, nil)
				req.RemoteAddr = "192.0.2.1:1234"
				if bc.key != "" {
					req.Header.Set("X-API-Key", bc.key)
				}
				rec := httptest.NewRecorder()
				n.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				return rec
			}
			serve() // the cache's first fill
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				serve()
			}
		})
	}
}
