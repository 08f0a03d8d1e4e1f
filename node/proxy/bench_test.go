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

// BenchmarkProxyProtocols is BenchmarkProxy per upstream protocol, one
// request at a time: the target answers 1KiB over loopback. allocs/op
// counts the whole process (both ends of the upstream connection).
func BenchmarkProxyProtocols(b *testing.B) {
	for _, p := range benchProtocols {
		b.Run(p.name, func(b *testing.B) {
			h := benchProtocolUpstream(b, p.protocol, p.stack)
			req, w := benchRequest(b)
			b.ReportAllocs()
			for b.Loop() {
				serveBench(b, h, w, req)
			}
		})
	}
}

// BenchmarkProxyProtocolsParallel is BenchmarkProxyProtocols with
// GOMAXPROCS concurrent requests: HTTP/2 and HTTP/3 multiplex them on one
// connection, HTTP/1.1 opens one per request in flight.
func BenchmarkProxyProtocolsParallel(b *testing.B) {
	for _, p := range benchProtocols {
		b.Run(p.name, func(b *testing.B) {
			h := benchProtocolUpstream(b, p.protocol, p.stack)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, w := benchRequest(b)
				for pb.Next() {
					serveBench(b, h, w, req)
				}
			})
		})
	}
}

var benchProtocols = []struct {
	name, protocol string
	stack          stack
}{
	{"http1", "http1", plainH1},
	{"http1-tls", "http1", tlsH1},
	{"h2", "h2", tlsH2},
	{"h2c", "h2c", plainH2C},
	{"h3", "h3", quicH3},
}

// benchProtocolUpstream starts a target of stack answering 1KiB and a
// Handler speaking protocol to it.
func benchProtocolUpstream(b *testing.B, protocol string, s stack) *Handler {
	body := bytes.Repeat([]byte("x"), 1024)
	srv := startServer(b, s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
	}))
	cfg := upstreamConfig(srv.url)
	cfg.Protocol = protocol
	up, err := NewUpstream(cfg, Options{TLSClientConfig: srv.tls})
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

func benchRequest(b *testing.B) (*http.Request, *benchWriter) {
	ctx, cancel := context.WithCancel(context.Background()) // like a server's
	b.Cleanup(cancel)
	req := httptest.NewRequestWithContext(ctx, "GET", "http://gateway.example/bench?x=1", nil)
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "*/*")
	return req, &benchWriter{h: make(http.Header)}
}

func serveBench(b *testing.B, h *Handler, w *benchWriter, req *http.Request) {
	clear(w.h)
	w.code, w.n = 0, 0
	h.ServeHTTP(w, req)
	if w.code != 200 || w.n != 1024 {
		b.Errorf("got %d with %d bytes", w.code, w.n)
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
