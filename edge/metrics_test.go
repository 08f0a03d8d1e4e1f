package edge_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/portico-gw/portico/edge"
	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// TestMetrics_ConnectionsByProtocol: connections are counted under the
// protocol ALPN chose (TLS) or the first request used (h2c), and leave
// connections_open when they close.
func TestMetrics_ConnectionsByProtocol(t *testing.T) {
	tests := []struct {
		name   string
		tls    bool
		client string // h1, h2, h2c
		proto  string // the label it must count under
	}{
		{"TLS h1", true, "h1", "h1"},
		{"TLS h2", true, "h2", "h2"},
		{"cleartext h1 on an h2c server", false, "h1", "h1"},
		{"h2c prior knowledge", false, "h2c", "h2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			cfg := edge.Config{Registerer: reg, H2C: !tt.tls}
			var c *http.Client
			var url string
			if tt.tls {
				sv, pool := serveTLS(t, cfg)
				c, url = newTLSClient(t, pool, tt.client), "https://localhost:"+port(sv)+"/"
			} else {
				sv := serve(t, cfg)
				url = "http://" + sv.addr + "/"
				if c = newClient(t); tt.client == "h2c" {
					c = newH2CClient(t)
				}
			}
			get(t, c, url)
			get(t, c, url)
			value := func(name, proto string) float64 { return metric(t, reg, "portico_edge_"+name, "proto", proto) }
			for _, p := range []string{"h1", "h2", "h3"} {
				want := 0.0
				if p == tt.proto {
					want = 1
				}
				if got := value("connections_open", p); got != want {
					t.Errorf("connections_open{proto=%s} = %v, want %v", p, got, want)
				}
				if got := value("connections_total", p); got != want {
					t.Errorf("connections_total{proto=%s} = %v, want %v", p, got, want)
				}
				if got := value("requests_total", p); got != 2*want {
					t.Errorf("requests_total{proto=%s} = %v, want %v", p, got, 2*want)
				}
			}
			c.CloseIdleConnections()
			waitFor(t, "connections_open to drop to 0", func() bool { return value("connections_open", tt.proto) == 0 })
			if got := value("connections_total", tt.proto); got != 1 {
				t.Errorf("connections_total{proto=%s} after close = %v, want 1", tt.proto, got)
			}
		})
	}
}

// TestMetrics_TwoServersTwoRegistries: no collector is shared between
// Servers, so one registry cannot take two.
func TestMetrics_TwoServersTwoRegistries(t *testing.T) {
	reg1, reg2 := prometheus.NewRegistry(), prometheus.NewRegistry()
	a := serve(t, edge.Config{Registerer: reg1})
	serve(t, edge.Config{Registerer: reg2})
	get(t, newClient(t), "http://"+a.addr+"/")
	if got := metric(t, reg1, "portico_edge_requests_total", "proto", "h1"); got != 1 {
		t.Errorf("first registry requests_total = %v, want 1", got)
	}
	if got := metric(t, reg2, "portico_edge_requests_total", "proto", "h1"); got != 0 {
		t.Errorf("second registry requests_total = %v, want 0", got)
	}
	_, err := edge.New(edge.Config{Handler: okHandler(), Registerer: reg1})
	if err == nil || !strings.Contains(err.Error(), "registering") {
		t.Errorf("New with a registry already used = %v, want a registration error", err)
	}
}
