package edge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/portico-gw/portico/edge"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
		cfg.Handler = okHandler()
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

// okHandler answers every request with 200 "ok".
func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
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

// newTLSClient returns an HTTPS client trusting pool that speaks only
// proto ("h1" or "h2"); its idle connections are closed at the end of the
// test.
func newTLSClient(t testing.TB, pool *x509.CertPool, proto string) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Protocols: protocols(t, proto)}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// protocols is the http.Protocols set of one of "h1", "h2" or "h2c".
func protocols(t testing.TB, proto string) *http.Protocols {
	t.Helper()
	var p http.Protocols
	switch proto {
	case "h1":
		p.SetHTTP1(true)
	case "h2":
		p.SetHTTP2(true)
	case "h2c":
		p.SetUnencryptedHTTP2(true)
	default:
		t.Fatalf("unknown protocol %q", proto)
	}
	return &p
}

// serveTLS serves cfg over TLS with a fresh certificate for localhost and
// 127.0.0.1 (unless cfg.TLS is set) and returns the pool that trusts it.
func serveTLS(t testing.TB, cfg edge.Config) (*served, *x509.CertPool) {
	t.Helper()
	var pool *x509.CertPool
	if cfg.TLS == nil {
		var files edge.CertFiles
		files, pool = edge.NewTestCert(t, "localhost", "127.0.0.1")
		cfg.TLS = &edge.TLSConfig{Certificates: []edge.CertFiles{files}}
	}
	return serve(t, cfg), pool
}

// metric returns the value of the counter or gauge name{labels} (pairs
// of label name and value) gathered from reg, or 0 if it is absent.
func metric(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// rawRequest writes raw to c and returns everything read until the
// server closes the connection (at most 10s).
func rawRequest(t testing.TB, c net.Conn, raw string) string {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading until the server closes: %v (read %q)", err, got)
	}
	return string(got)
}
