package node_test

import (
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
