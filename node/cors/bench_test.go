package cors_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/cors"
)

// BenchmarkActualRequest is the stage's cost on an actual request from an
// allowed origin, in front of a handler that sets one header: compare
// with /no-cors, the handler alone.
func BenchmarkActualRequest(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		w.WriteHeader(200)
	})
	c := &config.CORS{AllowOrigins: []string{"https://app.example.com", "https://*.example.org"},
		AllowMethods: []string{"GET", "HEAD", "POST"}, ExposeHeaders: []string{"X-Request-Id"}, AllowCredentials: true}
	for _, bc := range []struct {
		name   string
		h      http.Handler
		origin string
	}{
		{"no-cors", next, "https://app.example.com"},
		{"exact", cors.New(next, c), "https://app.example.com"},
		{"wildcard", cors.New(next, c), "https://a.example.org"},
		{"other-origin", cors.New(next, c), "https://evil.test"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/x", nil)
			r.Header.Set("Origin", bc.origin)
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				bc.h.ServeHTTP(w, r)
			}
		})
	}
}

// discard is a ResponseWriter that keeps nothing but its header map.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
