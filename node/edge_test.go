package node_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

// withDevTLS serves HTTPS and HTTP/3 on a free port with the development
// certificate, and applies more node settings.
func withDevTLS(more func(*config.Node)) func(*node.Config) {
	return func(c *node.Config) {
		c.Override = func(f *config.File) {
			f.Node.TLS = &config.TLS{Listen: "127.0.0.1:0", DevCertificate: true}
			if more != nil {
				more(&f.Node)
			}
		}
	}
}

// devPool trusts the node's development CA.
func devPool(t *testing.T, n *nodetest.Node) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(n.Snapshot().Node.DataDir, "tls", "portico-dev-ca.pem"))
	if err != nil {
		t.Fatalf("dev CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("dev CA: no certificate")
	}
	return pool
}

func clientFor(t *testing.T, proto string, pool *x509.CertPool) *http.Client {
	t.Helper()
	tc := &tls.Config{RootCAs: pool}
	if proto == "h3" {
		tr := &http3.Transport{TLSClientConfig: tc}
		t.Cleanup(func() { tr.Close() })
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	var p http.Protocols
	if proto == "h2" {
		p.SetHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	tr := &http.Transport{TLSClientConfig: tc, Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestTLSEdgeEveryProtocol: one route through the whole pipeline answers
// alike over cleartext, HTTP/1.1 and HTTP/2 over TLS and HTTP/3 (on the
// TLS port number); TLS responses advertise HTTP/3.
func TestTLSEdgeEveryProtocol(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""), withDevTLS(nil))[0]
	if n.TLSURL == "" {
		t.Fatal("node has no TLS address")
	}
	pool := devPool(t, n)
	_, port, _ := net.SplitHostPort(n.TLSAddr())
	for _, tt := range []struct{ proto, base, altSvc string }{
		{"cleartext", n.URL, ""},
		{"h1", n.TLSURL, `h3=":` + port + `"; ma=86400`},
		{"h2", n.TLSURL, `h3=":` + port + `"; ma=86400`},
		{"h3", n.TLSURL, ""},
	} {
		t.Run(tt.proto, func(t *testing.T) {
			c := clientFor(t, tt.proto, pool)
			res, err := c.Post(tt.base+"/anything/x?a=1", "text/plain", strings.NewReader("hello"))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var echo struct {
				Method, Path, Body string
				Args               map[string][]string
			}
			if err := json.NewDecoder(res.Body).Decode(&echo); err != nil {
				t.Fatalf("decode echo: %v", err)
			}
			if res.StatusCode != 200 || echo.Method != "POST" || echo.Path != "/anything/x" || echo.Body != "hello" || echo.Args["a"][0] != "1" {
				t.Errorf("got %d %+v, want 200 POST /anything/x a=1 body hello", res.StatusCode, echo)
			}
			if got := res.Header.Get("Alt-Svc"); got != tt.altSvc {
				t.Errorf("Alt-Svc = %q, want %q", got, tt.altSvc)
			}
		})
	}
}

// TestSlowBodyIs408: a client that stops sending its body gets a
// problem+json 408 once the grace and minimum rate run out.
func TestSlowBodyIs408(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""), func(c *node.Config) {
		c.Override = func(f *config.File) {
			rate := config.Size(1 << 10)
			f.Node.Server.MinBodyRate = &rate
			f.Node.Server.MinBodyRateGrace = config.Duration(100 * time.Millisecond)
		}
	})[0]
	conn, err := net.Dial("tcp", n.EdgeAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers and 1 byte of a 1 MiB body, then silence.
	fmt.Fprintf(conn, "POST /anything/slow HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nx", 1<<20)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to a stalled body: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "#request-timeout") {
		t.Errorf("stalled body got %d %s, want 408 request-timeout", res.StatusCode, body)
	}
}
