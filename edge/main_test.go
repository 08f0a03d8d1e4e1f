package edge_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/portico-gw/portico/edge"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// served is an edge.Server serving on a loopback listener.
type served struct {
	*edge.Server
	addr     string
	serveErr chan error // receives Serve's result once
}

// serve starts an edge.Server for cfg (Handler defaults to a 200 "ok")
// and shuts it down at the end of the test.
func serve(t testing.TB, cfg edge.Config) *served {
	t.Helper()
	if cfg.Handler == nil {
		cfg.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	}
	s, err := edge.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	sv := &served{Server: s, addr: ln.Addr().String(), serveErr: make(chan error, 1)}
	go func() { sv.serveErr <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown at cleanup: %v", err)
		}
		sv.waitServe(t)
	})
	return sv
}

// waitServe waits for Serve to return and checks it returned nil. It
// may be called more than once.
func (sv *served) waitServe(t testing.TB) {
	t.Helper()
	select {
	case err, ok := <-sv.serveErr:
		if ok {
			close(sv.serveErr)
			if err != nil {
				t.Errorf("Serve = %v, want nil after Shutdown", err)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newClient returns an HTTP client whose idle connections are closed at
// the end of the test.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
