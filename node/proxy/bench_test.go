package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchWriter is a minimal ResponseWriter that discards the body.
type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// benchUpstream starts a target answering 1KiB and a Handler for it.
func benchUpstream(b *testing.B) *Handler {
	body := bytes.Repeat([]byte("x"), 1024)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
	}))
	b.Cleanup(target.Close)
	up, err := NewUpstream(upstreamConfig(target.URL), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { up.Close(context.Background()) })
	h, err := NewHandler(route("pool"), up, HandlerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkProxy is one GET with a 1KiB response through the Handler, to a
// target over loopback. allocs/op counts the whole process: the handler,
// ReverseProxy, the transport, and the target's server (see
// BenchmarkTargetDirect to subtract the last two).
func BenchmarkProxy(b *testing.B) {
	h := benchUpstream(b)
	ctx, cancel := context.WithCancel(context.Background()) // like a server's
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "http://gateway.example/bench?x=1", nil)
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "*/*")
	w := &benchWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.code, w.n = 0, 0
		h.ServeHTTP(w, req)
		if w.code != 200 || w.n != 1024 {
			b.Fatalf("got %d with %d bytes", w.code, w.n)
		}
	}
}

// BenchmarkTargetDirect is the same request straight to the target with a
// plain client: the cost the proxy adds is BenchmarkProxy minus this.
func BenchmarkTargetDirect(b *testing.B) {
	h := benchUpstream(b)
	target := h.up.targets[0].url.String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(target + "/bench?x=1")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != 1024 {
			b.Fatalf("got %d bytes", n)
		}
	}
}

func TestBufferPool_NoAllocs(t *testing.T) {
	p := newBufferPool()
	p.Put(p.Get())
	allocs := testing.AllocsPerRun(100, func() {
		b := p.Get()
		if len(b) != bufferSize {
			t.Fatalf("len = %d, want %d", len(b), bufferSize)
		}
		p.Put(b)
	})
	// sync.Pool may drop an item at a GC, so allow a stray allocation.
	if allocs > 0.1 && !raceEnabled {
		t.Errorf("Get+Put allocates %.2f times per run, want 0", allocs)
	}
	p.Put(make([]byte, 10)) // a foreign buffer is dropped, not pooled
}
