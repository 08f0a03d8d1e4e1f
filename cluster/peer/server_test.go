package peer_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/cluster/peer"
)

func TestServer_ShutdownBeforeServe(t *testing.T) {
	s := peer.NewServer(creds(t, "n", key1), peer.ServerConfig{})
	for i := range 2 { // idempotent
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown #%d: %v", i+1, err)
		}
	}
	ln, _ := listen(t)
	if err := s.Serve(ln); err != nil {
		t.Errorf("Serve after Shutdown = %v, want nil", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("listener still open after Serve returned, want it closed")
	}
}

func TestServer_ServeNilListener(t *testing.T) {
	s := peer.NewServer(creds(t, "n", key1), peer.ServerConfig{})
	if err := s.Serve(nil); err == nil {
		t.Error("Serve(nil) = nil, want an error")
	}
}

// TestServer_Defaults: a zero ServerConfig answers 404 to an authenticated
// peer and logs a refused handshake to Logger (at warn: see
// TestRefusalsLoggedOncePerAddress).
func TestServer_Defaults(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := serve(t, creds(t, "node-b", key1), peer.ServerConfig{Logger: logger})
	status, _, err := get(t, client(t, creds(t, "node-a", key1), peer.ClientConfig{}), srv.url)
	if err != nil || status != http.StatusNotFound {
		t.Errorf("got %d (err %v), want 404 from the default handler", status, err)
	}
	if _, _, err := get(t, client(t, creds(t, "node-x", key2), peer.ClientConfig{}), srv.url); err == nil {
		t.Fatal("client with another key was served")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "refused a peer connection") {
		if time.Now().After(deadline) {
			t.Fatalf("log = %q, want the refused handshake", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// BenchmarkRoundTrip measures a peer request over the reused HTTP/2
// connection, by response size.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{0, 1 << 10, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			body := make([]byte, size)
			srv := serve(b, creds(b, "node-b", key1), peer.ServerConfig{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }),
			})
			hc := client(b, creds(b, "node-a", key1), peer.ClientConfig{})
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := hc.Get(srv.url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			})
		})
	}
}

// BenchmarkHandshake measures a request on a new connection each time:
// what a key rotation or a reconnect costs.
func BenchmarkHandshake(b *testing.B) {
	srv := serve(b, creds(b, "node-b", key1), peer.ServerConfig{})
	hc := client(b, creds(b, "node-a", key1), peer.ClientConfig{})
	b.ReportAllocs()
	for b.Loop() {
		hc.CloseIdleConnections()
		if _, _, err := get(b, hc, srv.url); err != nil {
			b.Fatal(err)
		}
	}
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
