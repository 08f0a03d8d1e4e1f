package peer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/cluster/peer"
)

// onlyReader hides the length of its reader so the request body is sent
// without Content-Length.
type onlyReader struct{ io.Reader }

// TestRequestBodyCap: a body over MaxRequestBytes gets 413, declared or
// not; one at the limit goes through.
func TestRequestBodyCap(t *testing.T) {
	const limit = 1 << 10
	var calls atomic.Int64
	srv := serve(t, creds(t, "node-b", key1), peer.ServerConfig{
		MaxRequestBytes: limit,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest) // rewritten to 413
				return
			}
			_, _ = w.Write([]byte{byte(len(b) >> 8)})
		}),
	})
	hc := client(t, creds(t, "node-a", key1), peer.ClientConfig{})
	tests := []struct {
		name        string
		body        io.Reader
		wantStatus  int
		wantHandled bool
	}{
		{"at the limit", bytes.NewReader(make([]byte, limit)), http.StatusOK, true},
		{"declared over the limit", bytes.NewReader(make([]byte, limit+1)), http.StatusRequestEntityTooLarge, false},
		{"undeclared over the limit", onlyReader{bytes.NewReader(make([]byte, 4*limit))}, http.StatusRequestEntityTooLarge, true},
		{"undeclared at the limit", onlyReader{bytes.NewReader(make([]byte, limit))}, http.StatusOK, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.Load()
			resp, err := hc.Post(srv.url+"/put", "application/octet-stream", tc.body)
			if err != nil {
				t.Fatalf("Post: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if got := calls.Load() > before; got != tc.wantHandled {
				t.Errorf("handler ran = %v, want %v", got, tc.wantHandled)
			}
		})
	}
}

// TestResponseCap: a response over MaxResponseBytes is an error for the
// caller, declared or streamed; one at the limit is read whole.
func TestResponseCap(t *testing.T) {
	const limit = 1 << 10
	srv := serve(t, creds(t, "node-b", key1), peer.ServerConfig{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := limit
			if r.URL.Query().Has("over") {
				n = 4 * limit
			}
			body := make([]byte, n)
			if r.URL.Query().Has("stream") {
				// Flushing first sends the headers without Content-Length.
				http.NewResponseController(w).Flush()
			}
			_, _ = w.Write(body)
		}),
	})
	hc := client(t, creds(t, "node-a", key1), peer.ClientConfig{MaxResponseBytes: limit})
	tests := []struct {
		name    string
		query   string
		wantErr bool
	}{
		{"declared at the limit", "", false},
		{"streamed at the limit", "stream", false},
		{"declared over the limit", "over", true},
		{"streamed over the limit", "over&stream", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, body, err := get(t, hc, srv.url+"/?"+tc.query)
			if tc.wantErr {
				if !errors.Is(err, peer.ErrResponseTooLarge) {
					t.Errorf("got %d bytes, err %v; want ErrResponseTooLarge", len(body), err)
				}
				return
			}
			if err != nil || len(body) != limit {
				t.Errorf("got %d bytes, err %v; want %d bytes", len(body), err, limit)
			}
		})
	}
}

// TestTimeout: a peer that doesn't answer within Timeout fails the
// request, whether it stalls before the headers or within the body.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release) // before the server's cleanup drains the handlers
	srv := serve(t, creds(t, "node-b", key1), peer.ServerConfig{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/body" {
				_, _ = io.WriteString(w, "partial")
				http.NewResponseController(w).Flush()
			}
			select {
			case <-release:
			case <-r.Context().Done():
			case <-time.After(10 * time.Second): // the client should have given up long ago
				_, _ = io.WriteString(w, " unbounded")
			}
		}),
	})
	hc := client(t, creds(t, "node-a", key1), peer.ClientConfig{Timeout: 100 * time.Millisecond})
	for _, path := range []string{"/headers", "/body"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			_, body, err := get(t, hc, srv.url+path)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got body %q, err %v; want context.DeadlineExceeded", body, err)
			}
		})
	}
}

func TestTransport_RefusesPlainHTTP(t *testing.T) {
	hc := client(t, creds(t, "node-a", key1), peer.ClientConfig{})
	if _, _, err := get(t, hc, "http://127.0.0.1:1/"); err == nil || !strings.Contains(err.Error(), "https://") {
		t.Errorf("GET http:// = %v, want an error asking for https://", err)
	}
}
