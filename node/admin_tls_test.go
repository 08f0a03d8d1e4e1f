package node_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/portico-gw/portico/edge"
	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

// TestAdminServesTLS: node.admin.tls serves the admin API over HTTPS to a
// client that trusts the CA; with client_ca, a client without a
// certificate is refused in the handshake.
func TestAdminServesTLS(t *testing.T) {
	up, _ := nodetest.Demo(t)
	dc, err := edge.DevCertificate(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	withTLS := func(clientCA string) func(*node.Config) {
		return func(c *node.Config) {
			c.Override = func(f *config.File) {
				f.Node.Admin.TLS = &config.AdminTLS{Cert: dc.CertFile, Key: dc.KeyFile, ClientCA: clientCA}
			}
		}
	}
	pem, err := os.ReadFile(dc.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)

	n := nodetest.Start(t, 1, gateway(up, ""), withTLS(""))[0]
	res, err := client.Get("https://" + n.AdminAddr() + "/config")
	if err != nil {
		t.Fatalf("GET https://admin/config: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET https://admin/config = %d, want 200", res.StatusCode)
	}
	if res, err := http.Get("http://" + n.AdminAddr() + "/health"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Errorf("cleartext GET on the TLS admin listener = 200, want it refused")
		}
	}

	m := nodetest.Start(t, 1, gateway(up, ""), withTLS(dc.CAFile))[0]
	if res, err := client.Get("https://" + m.AdminAddr() + "/health"); err == nil {
		res.Body.Close()
		t.Errorf("mTLS admin answered a client without a certificate: %d", res.StatusCode)
	}
}
