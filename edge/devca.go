package edge

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DevCert names the files DevCertificate keeps: a local certificate
// authority and a certificate for the development hosts signed by it.
type DevCert struct {
	// CAFile is the CA's certificate (PEM): what a client must trust, e.g.
	// curl --cacert CAFile https://localhost:8443/.
	CAFile string
	// CertFile and KeyFile are the server certificate and its key (PEM),
	// ready for TLSConfig.Certificates.
	CertFile, KeyFile string
}

// Development CA and certificate parameters.
const (
	devCAName       = "Portico Development CA"
	devCAValidity   = 10 * 365 * 24 * time.Hour
	devCertValidity = 365 * 24 * time.Hour
	// devMinLeft is the validity a kept CA or certificate must have left.
	devMinLeft = 30 * 24 * time.Hour
)

// DevCertificate makes sure dir holds a development CA ("Portico
// Development CA", ECDSA P-256, valid 10 years) and a certificate signed
// by it for hosts (DNS names, wildcards such as *.local.test, or IPs;
// if empty: localhost, 127.0.0.1 and ::1), valid for a year, and returns
// their paths. Files already there are kept when they are valid for more
// than 30 days after now and, for the certificate, cover every host and
// chain to the CA; otherwise they are replaced (a new CA means a new
// certificate too). Keys are written 0600, certificates 0644, each by
// rename so that a reader never sees half a file. It is for development
// only: the CA key sits next to the certificates. Calls for the same dir
// must not overlap.
func DevCertificate(dir string, hosts []string, now time.Time) (DevCert, error) {
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, " \t/\\") {
			return DevCert{}, fmt.Errorf("edge: dev certificate: host %q is neither a DNS name nor an IP", h)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return DevCert{}, fmt.Errorf("edge: dev certificate: %w", err)
	}
	dc := DevCert{
		CAFile:   filepath.Join(dir, "portico-dev-ca.pem"),
		CertFile: filepath.Join(dir, "portico-dev.pem"),
		KeyFile:  filepath.Join(dir, "portico-dev.key"),
	}
	caKeyFile := filepath.Join(dir, "portico-dev-ca.key")

	ca, caKey := loadDevPair(dc.CAFile, caKeyFile, now)
	newCA := ca == nil || !ca.IsCA || ca.Subject.CommonName != devCAName
	if newCA {
		var err error
		if ca, caKey, err = createDevCert(nil, nil, nil, now); err != nil {
			return DevCert{}, fmt.Errorf("edge: dev certificate: creating the CA: %w", err)
		}
		if err := writeDevPair(dc.CAFile, caKeyFile, ca, caKey); err != nil {
			return DevCert{}, fmt.Errorf("edge: dev certificate: %w", err)
		}
	}
	if !newCA {
		if leaf, _ := loadDevPair(dc.CertFile, dc.KeyFile, now); leaf != nil && devCertCovers(leaf, ca, hosts, now) {
			return dc, nil
		}
	}
	leaf, key, err := createDevCert(ca, caKey, hosts, now)
	if err != nil {
		return DevCert{}, fmt.Errorf("edge: dev certificate: creating the certificate: %w", err)
	}
	if err := writeDevPair(dc.CertFile, dc.KeyFile, leaf, key); err != nil {
		return DevCert{}, fmt.Errorf("edge: dev certificate: %w", err)
	}
	return dc, nil
}

// loadDevPair returns the certificate in certFile if it and the key in
// keyFile belong together and the certificate stays valid for
// devMinLeft; nil otherwise (missing, damaged or too old files are simply
// replaced).
func loadDevPair(certFile, keyFile string, now time.Time) (*x509.Certificate, crypto.Signer) {
	c, notAfter, err := loadPair(CertFiles{CertFile: certFile, KeyFile: keyFile}, now)
	if err != nil || notAfter.Sub(now) < devMinLeft {
		return nil, nil
	}
	return c.Leaf, c.PrivateKey.(crypto.Signer)
}

// devCertCovers reports whether leaf chains to ca and names every host.
func devCertCovers(leaf, ca *x509.Certificate, hosts []string, now time.Time) bool {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now}); err != nil {
		return false
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "*.") {
			// A wildcard host is covered by the same wildcard SAN.
			if !containsFold(leaf.DNSNames, h) {
				return false
			}
			continue
		}
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// createDevCert makes a P-256 key and a certificate for it: the CA when
// parent is nil, else a server certificate for hosts signed by parent.
func createDevCert(parent *x509.Certificate, parentKey crypto.Signer, hosts []string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    now.Add(-time.Hour), // tolerate a client clock a little behind
	}
	if parent == nil {
		tmpl.Subject = pkix.Name{CommonName: devCAName, Organization: []string{"Portico development"}}
		tmpl.NotAfter = now.Add(devCAValidity)
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.MaxPathLenZero = true, true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
		parent, parentKey = tmpl, key
	} else {
		tmpl.Subject = pkix.Name{CommonName: hosts[0], Organization: []string{"Portico development"}}
		tmpl.NotAfter = now.Add(devCertValidity)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// writeDevPair writes the key (0600) then the certificate (0644).
func writeDevPair(certFile, keyFile string, cert *x509.Certificate, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding the key for %s: %w", keyFile, err)
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// writeFileAtomic writes data to a temporary file beside name, sets its
// mode and renames it over name.
func writeFileAtomic(name string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(mode), f.Close())
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
