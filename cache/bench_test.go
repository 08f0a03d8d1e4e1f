package cache

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchWriter is a ResponseWriter that keeps its header map between
// requests, so that benchmarks count the cache's allocations only.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header  { return w.h }
func (w *benchWriter) WriteHeader(code int) { w.status = code }
func (w *benchWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

func (w *benchWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

var benchSizes = []int{1 << 10, 16 << 10, 256 << 10}

// benchServe fills the entry through node i's middleware, then measures
// b.N more requests to it, which must be answered with verdict.
func benchServe(b *testing.B, cl *cluster, i, size int, verdict string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "https://example.com/bench", nil)
	w := &benchWriter{h: make(http.Header)}
	route := cl.nodes[i].handler()
	route.ServeHTTP(w, req)
	cl.settle()
	w.reset()
	route.ServeHTTP(w, req)
	if w.status != 200 || w.n != size || !strings.HasPrefix(w.h.Get("Cache-Status"), "Portico; "+verdict) {
		b.Fatalf("warm-up answer %d, %d bytes, %q; want 200, %d bytes, %s", w.status, w.n, w.h.Get("Cache-Status"), size, verdict)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		route.ServeHTTP(w, req)
	}
	if w.status != 200 || w.n != size {
		b.Fatalf("last answer %d, %d bytes", w.status, w.n)
	}
}

// BenchmarkHit is a fresh hit in the owner tier, through the middleware.
func BenchmarkHit(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("body=%dKiB", size>>10), func(b *testing.B) {
			cl := newCluster(b, 1, Policy{}, nil, func(c *Config) { c.MaxBytes = 64 << 20 })
			cl.origin.set(answer(cl.clk, 200, "max-age=3600", strings.Repeat("x", size)))
			benchServe(b, cl, 0, size, "hit")
		})
	}
}

// BenchmarkNearHit is a fresh hit in the near tier of a node that does
// not own the key.
func BenchmarkNearHit(b *testing.B) {
	cl := newCluster(b, 2, Policy{}, nil, func(c *Config) { c.NearTTL = 1 << 62 })
	cl.origin.set(answer(cl.clk, 200, "max-age=3600", strings.Repeat("x", 1<<10)))
	benchServe(b, cl, 1, 1<<10, "hit")
}

// BenchmarkRemoteHit is a hit at the owner, asked over loopback HTTPS by a
// node without a near tier: descriptor out, envelope and body back.
func BenchmarkRemoteHit(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("body=%dKiB", size>>10), func(b *testing.B) {
			cl := newCluster(b, 2, Policy{}, nil, func(c *Config) {
				c.NearMaxBytes = -1
				c.MaxBytes = 64 << 20
			})
			cl.origin.set(answer(cl.clk, 200, "max-age=3600", strings.Repeat("x", size)))
			benchServe(b, cl, 1, size, "hit")
		})
	}
}

func BenchmarkKeyOf(b *testing.B) {
	p, _ := compile(Policy{Key: KeySpec{Headers: []string{"Accept-Language"}}})
	r := httptest.NewRequest(http.MethodGet, "https://example.com/a/b/c?z=1&a=2", nil)
	r.Header.Set("Accept-Language", "en")
	b.ReportAllocs()
	for b.Loop() {
		p.keyOf(r)
	}
}
