package edge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/edge"
	"github.com/prometheus/client_golang/prometheus"
)

// TestConnectionLimits: the connection over a limit is closed at once and
// counted; closing one frees its slot.
func TestConnectionLimits(t *testing.T) {
	tests := []struct {
		name   string
		tls    bool
		limits edge.Limits
		reason string
	}{
		{"per IP", false, edge.Limits{MaxConnsPerIP: 2}, "max_conns_per_ip"},
		{"in all", false, edge.Limits{MaxConns: 2, MaxConnsPerIP: -1}, "max_conns"},
		{"per IP over TLS", true, edge.Limits{MaxConnsPerIP: 2}, "max_conns_per_ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			cfg := edge.Config{Limits: tt.limits, Registerer: reg}
			var sv *served
			var pool *x509.CertPool
			if tt.tls {
				sv, pool = serveTLS(t, cfg)
			} else {
				sv = serve(t, cfg)
			}
			dial := func() (net.Conn, error) {
				if tt.tls {
					return tls.Dial("tcp", sv.addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
				}
				return net.Dial("tcp", sv.addr)
			}
			var held []net.Conn
			for range 2 {
				c, err := dial()
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				held = append(held, c)
			}
			waitFor(t, "2 open connections", func() bool { return sv.OpenConns() == 2 })

			if c, err := dial(); err == nil {
				// Cleartext: the dial succeeds, and the server closes the
				// connection without reading it.
				got, _ := io.ReadAll(deadline(t, c))
				c.Close()
				if len(got) != 0 {
					t.Errorf("the connection over the limit got %q, want nothing and a close", got)
				}
			}
			if got := metric(t, reg, "portico_edge_connections_refused_total", "reason", tt.reason); got != 1 {
				t.Errorf("connections_refused_total{reason=%q} = %v, want 1", tt.reason, got)
			}

			held[0].Close()
			waitFor(t, "the closed connection to be released", func() bool { return sv.OpenConns() == 1 })
			c, err := dial()
			if err != nil {
				t.Fatalf("dial after a slot was freed: %v", err)
			}
			defer c.Close()
			if got := rawRequest(t, c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 200 OK") {
				t.Errorf("request after a slot was freed = %q, want a 200", got)
			}
		})
	}
}

// deadline gives c a 10s deadline, so that a test reading from it
// cannot hang.
func deadline(t *testing.T, c net.Conn) net.Conn {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHandshakeErrors: each failed handshake is counted under its reason.
func TestHandshakeErrors(t *testing.T) {
	tests := []struct {
		name   string
		client func(t *testing.T, addr string, pool *x509.CertPool)
		reason string
	}{
		{
			name: "silent client times out",
			client: func(t *testing.T, addr string, _ *x509.CertPool) {
				c := dialTCP(t, addr)
				if got, _ := io.ReadAll(deadline(t, c)); len(got) != 0 {
					t.Errorf("silent client got %q, want a close", got)
				}
			},
			reason: "timeout",
		},
		{
			name: "plaintext HTTP on the TLS port",
			client: func(t *testing.T, addr string, _ *x509.CertPool) {
				got := rawRequest(t, dialTCP(t, addr), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				if !strings.HasPrefix(got, "HTTP/1.0 400 Bad Request") || !strings.Contains(got, "HTTPS") {
					t.Errorf("plaintext request got %q, want a 400 saying it was sent to HTTPS", got)
				}
			},
			reason: "not_tls",
		},
		{
			name: "client goes away",
			client: func(t *testing.T, addr string, _ *x509.CertPool) {
				dialTCP(t, addr).Close()
			},
			reason: "eof",
		},
		{
			name: "client offers only TLS 1.2 to a 1.3 server",
			client: func(t *testing.T, addr string, pool *x509.CertPool) {
				if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12}); err == nil {
					c.Close()
					t.Error("TLS 1.2 handshake succeeded with a TLS 1.3 server")
				}
			},
			reason: "protocol_version",
		},
		{
			name: "client does not trust the certificate",
			client: func(t *testing.T, addr string, _ *x509.CertPool) {
				if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"}); err == nil {
					c.Close()
					t.Error("handshake succeeded without trusting the certificate")
				}
			},
			reason: "bad_certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			files, pool := edge.NewTestCert(t, "localhost")
			sv := serve(t, edge.Config{Registerer: reg, Limits: edge.Limits{TLSHandshakeTimeout: 100 * time.Millisecond},
				TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{files}, MinVersion: tls.VersionTLS13}})
			tt.client(t, sv.addr, pool)
			waitFor(t, "the failed handshake to be counted", func() bool {
				return metric(t, reg, "portico_edge_tls_handshake_errors_total", "reason", tt.reason) == 1
			})
			if got := metric(t, reg, "portico_edge_connections_total", "proto", "h1"); got != 0 {
				t.Errorf("connections_total{proto=h1} = %v after a failed handshake, want 0", got)
			}
		})
	}
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestShutdown_AbortsHandshakes: a client stuck in its TLS handshake does
// not hold Shutdown up, and its abort is not counted as a failure.
func TestShutdown_AbortsHandshakes(t *testing.T) {
	reg := prometheus.NewRegistry()
	sv, _ := serveTLS(t, edge.Config{Registerer: reg, Limits: edge.Limits{MaxConns: 1}}) // 10s handshake timeout
	silent := dialTCP(t, sv.addr)
	// A second connection refused for max_conns proves that the first
	// was admitted, so its handshake has begun.
	waitFor(t, "the silent connection to be admitted", func() bool {
		_, _ = io.ReadAll(deadline(t, dialTCP(t, sv.addr)))
		return metric(t, reg, "portico_edge_connections_refused_total", "reason", "max_conns") > 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v, want nil before the handshake timeout", err)
	}
	if got, _ := io.ReadAll(deadline(t, silent)); len(got) != 0 {
		t.Errorf("silent client got %q, want a close", got)
	}
	for _, r := range []string{"timeout", "eof", "other"} {
		if got := metric(t, reg, "portico_edge_tls_handshake_errors_total", "reason", r); got != 0 {
			t.Errorf("tls_handshake_errors_total{reason=%s} = %v after Shutdown, want 0", r, got)
		}
	}
}
