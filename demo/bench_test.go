package demo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/portico-gw/portico/demo"
)

// discard is a ResponseWriter that keeps nothing, so handler benchmarks
// count the demo's own allocations and not a recorder's.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

func benchHandler(b *testing.B, path string, wantCode int) {
	s := demo.New(demo.Options{})
	r := httptest.NewRequest(http.MethodGet, path, nil)
	w := &discard{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, r)
	}
	if w.code != wantCode {
		b.Fatalf("%s answered %d, want %d", path, w.code, wantCode)
	}
}

func BenchmarkHandler_Bytes1024(b *testing.B) { benchHandler(b, "/bytes/1024", http.StatusOK) }
func BenchmarkHandler_Status204(b *testing.B) { benchHandler(b, "/status/204", http.StatusNoContent) }

// BenchmarkLoopback_Bytes measures the whole exchange over a real
// connection, as a gateway benchmark's backend sees it.
func BenchmarkLoopback_Bytes(b *testing.B) {
	ts := httptest.NewServer(demo.New(demo.Options{}))
	defer ts.Close()
	c := ts.Client()
	for _, n := range []int{1024, 64 << 10, 1 << 20} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			url := ts.URL + "/bytes/" + strconv.Itoa(n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
