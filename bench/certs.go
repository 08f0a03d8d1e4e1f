package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certServerName is the name every edge client verifies the gateway's
// certificate against, whatever address it dials: the leaf is valid for
// it, for 127.0.0.1 and for ::1, so one leaf serves loopback and the WAN
// scenario's emulated address alike.
const certServerName = "localhost"

// certFiles is a throwaway CA and a leaf it signed, written in a run's
// work dir for the gateway and Caddy to load (both read the same files).
type certFiles struct {
	cert, key string         // PEM files of the leaf and its private key
	roots     *x509.CertPool // holds the CA: what clients trust
}

// clientTLS is a client config that trusts only the throwaway CA and
// verifies certServerName. Each caller gets its own copy.
func (c *certFiles) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: c.roots, ServerName: certServerName, MinVersion: tls.VersionTLS12}
}

// writeCerts makes a fresh ECDSA P-256 CA and a leaf for localhost,
// 127.0.0.1 and ::1, valid for a day, and writes the leaf and its key
// into dir as leaf.pem and leaf-key.pem (the CA's key is never written).
func writeCerts(dir string, now time.Time) (*certFiles, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ca key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "portico bench throwaway CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing ca: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parsing ca: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating leaf key: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: certServerName},
		DNSNames:     []string{certServerName},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing leaf: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return nil, fmt.Errorf("encoding leaf key: %w", err)
	}
	c := &certFiles{cert: filepath.Join(dir, "leaf.pem"), key: filepath.Join(dir, "leaf-key.pem"), roots: x509.NewCertPool()}
	c.roots.AddCert(ca)
	if err := os.WriteFile(c.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644); err != nil {
		return nil, fmt.Errorf("writing leaf: %w", err)
	}
	// 0644, not 0600: a throwaway key in a private temp dir, which a proxy
	// running as another user must still read.
	if err := os.WriteFile(c.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o644); err != nil {
		return nil, fmt.Errorf("writing leaf key: %w", err)
	}
	return c, nil
}

// serial is a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		// crypto/rand does not fail on Linux (Go 1.24+ crashes instead).
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
