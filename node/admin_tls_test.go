package node_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
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
	caPEM, err := os.ReadFile(dc.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
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

	caFile, clientCert := clientCA(t)
	m := nodetest.Start(t, 1, gateway(up, ""), withTLS(caFile))[0]
	if res, err := client.Get("https://" + m.AdminAddr() + "/health"); err == nil {
		res.Body.Close()
		t.Errorf("mTLS admin answered a client without a certificate: %d", res.StatusCode)
	}
	withCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{clientCert}}}}
	t.Cleanup(withCert.CloseIdleConnections)
	res, err = withCert.Get("https://" + m.AdminAddr() + "/config")
	if err != nil {
		t.Fatalf("mTLS admin refused a client with a certificate from client_ca: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET https://admin/config with a client certificate = %d, want 200", res.StatusCode)
	}
}

// clientCA writes a CA to a file and returns it with a client
// certificate it signed.
func clientCA(t *testing.T) (string, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "admin clients"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "operator"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "clients.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
