package edge_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portico-gw/portico/edge"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(readFile(t, name))
	if b == nil {
		t.Fatalf("%s holds no PEM", name)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDevCertificate: the CA and certificate are created once, trusted
// by a client given the CA for localhost and 127.0.0.1, kept on the next
// call, and replaced when they no longer fit.
func TestDevCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	now := time.Now()
	dc, err := edge.DevCertificate(dir, nil, now)
	if err != nil {
		t.Fatalf("DevCertificate = %v", err)
	}
	ca := parseCert(t, dc.CAFile)
	if !ca.IsCA || ca.Subject.CommonName != "Portico Development CA" || ca.NotAfter.Before(now.AddDate(9, 11, 0)) {
		t.Errorf("CA = %q, IsCA %v, until %v; want Portico Development CA valid 10 years", ca.Subject.CommonName, ca.IsCA, ca.NotAfter)
	}
	for name, want := range map[string]os.FileMode{dc.CAFile: 0o644, dc.CertFile: 0o644, dc.KeyFile: 0o600, filepath.Join(dir, "portico-dev-ca.key"): 0o600} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode().Perm(), err, want)
		}
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(readFile(t, dc.CAFile))
	sv := serve(t, edge.Config{TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{{CertFile: dc.CertFile, KeyFile: dc.KeyFile}}}})
	c := newTLSClient(t, pool, "h2")
	for _, host := range []string{"localhost", "127.0.0.1"} {
		url := "https://" + host + ":" + port(sv) + "/"
		resp, err := c.Get(url)
		if err != nil {
			t.Errorf("GET %s trusting the dev CA: %v", url, err)
			continue
		}
		resp.Body.Close()
	}
	// The server listens on 127.0.0.1 only: check ::1 by name.
	if err := parseCert(t, dc.CertFile).VerifyHostname("::1"); err != nil {
		t.Errorf("certificate does not cover ::1: %v", err)
	}

	before := map[string][]byte{dc.CAFile: readFile(t, dc.CAFile), dc.CertFile: readFile(t, dc.CertFile), dc.KeyFile: readFile(t, dc.KeyFile)}
	again, err := edge.DevCertificate(dir, nil, now.Add(time.Hour))
	if err != nil || again != dc {
		t.Fatalf("second DevCertificate = %+v, %v; want %+v", again, err, dc)
	}
	for name, b := range before {
		if !bytes.Equal(readFile(t, name), b) {
			t.Errorf("%s changed on the second call, want it kept", name)
		}
	}

	if _, err := edge.DevCertificate(dir, []string{"localhost", "api.local.test"}, now); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, dc.CAFile), before[dc.CAFile]) {
		t.Error("a new host replaced the CA, want only the certificate replaced")
	}
	if err := parseCert(t, dc.CertFile).VerifyHostname("api.local.test"); err != nil {
		t.Errorf("certificate after adding a host: %v", err)
	}

	if _, err := edge.DevCertificate(dir, []string{"localhost", "api.local.test"}, now.Add(340*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if leaf := parseCert(t, dc.CertFile); leaf.NotAfter.Before(now.Add(600 * 24 * time.Hour)) {
		t.Errorf("certificate with under 30 days left was kept (until %v), want a new one", leaf.NotAfter)
	}

	if _, err := edge.DevCertificate(dir, nil, now.AddDate(11, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(readFile(t, dc.CAFile), before[dc.CAFile]) {
		t.Error("an expired CA was kept, want a new one")
	}
}

func TestDevCertificate_BadHost(t *testing.T) {
	if _, err := edge.DevCertificate(t.TempDir(), []string{"local host"}, time.Now()); err == nil {
		t.Error("DevCertificate with a host containing a space = nil, want an error")
	}
}
