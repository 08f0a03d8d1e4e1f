package edge

// Test certificates for the package's tests, internal and external
// (edge_test reaches them through the exported names, which exist only
// in test builds).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCA is a throwaway certificate authority for tests.
type TestCA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	Pool *x509.CertPool // holds Cert: use it as a client's RootCAs
}

// NewTestCA creates a CA valid from an hour ago for a day.
func NewTestCA(t testing.TB) *TestCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          testSerial(t),
		Subject:               pkix.Name{CommonName: "edge test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &TestCA{Cert: cert, Key: key, Pool: pool}
}

// LeafSpec describes a certificate for TestCA.Issue.
type LeafSpec struct {
	// Names go into the SANs: IPs as IP SANs, the rest as DNS names.
	Names []string
	// NotBefore and NotAfter default to an hour ago and a day from now.
	NotBefore, NotAfter time.Time
	// RSA makes an RSA 2048 key instead of ECDSA P-256.
	RSA bool
}

// TestLeaf is a certificate issued by a TestCA, with its key.
type TestLeaf struct {
	Cert            *x509.Certificate
	CertPEM, KeyPEM []byte
}

// Issue signs a server certificate for spec.
func (ca *TestCA) Issue(t testing.TB, spec LeafSpec) *TestLeaf {
	t.Helper()
	var key crypto.Signer
	var err error
	if spec.RSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	if spec.NotBefore.IsZero() {
		spec.NotBefore = time.Now().Add(-time.Hour)
	}
	if spec.NotAfter.IsZero() {
		spec.NotAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: testSerial(t),
		Subject:      pkix.Name{CommonName: "ignored.invalid"}, // names come from SANs only
		NotBefore:    spec.NotBefore,
		NotAfter:     spec.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range spec.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &TestLeaf{
		Cert:    cert,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// WriteFiles writes the certificate and key to dir/base.crt and
// dir/base.key and returns their names.
func (l *TestLeaf) WriteFiles(t testing.TB, dir, base string) CertFiles {
	t.Helper()
	f := CertFiles{CertFile: filepath.Join(dir, base+".crt"), KeyFile: filepath.Join(dir, base+".key")}
	writeTestFile(t, f.CertFile, l.CertPEM)
	writeTestFile(t, f.KeyFile, l.KeyPEM)
	return f
}

// ReplaceFiles writes the certificate and key next to f's files and
// renames them over f, the way a careful deployment replaces them.
func (l *TestLeaf) ReplaceFiles(t testing.TB, f CertFiles) {
	t.Helper()
	for _, w := range []struct {
		name string
		data []byte
	}{{f.KeyFile, l.KeyPEM}, {f.CertFile, l.CertPEM}} {
		tmp := w.name + ".new"
		writeTestFile(t, tmp, w.data)
		if err := os.Rename(tmp, w.name); err != nil {
			t.Fatal(err)
		}
	}
}

// testCert issues a certificate for names from a new test CA, writes it
// into a temporary directory and returns its files and a pool that
// trusts it.
func testCert(t testing.TB, names ...string) (CertFiles, *x509.CertPool) {
	t.Helper()
	ca := NewTestCA(t)
	return ca.Issue(t, LeafSpec{Names: names}).WriteFiles(t, t.TempDir(), "server"), ca.Pool
}

// NewTestCert is testCert for package edge_test.
var NewTestCert = testCert

func writeTestFile(t testing.TB, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func testSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
