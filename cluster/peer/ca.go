package peer

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

const (
	// ServerName is the DNS SAN every node certificate carries and the
	// name clients verify: node identity comes from the certificate's CN,
	// not from the address dialled.
	ServerName = "portico-peer"

	// caSalt separates the CA seed from every other use of the cluster key
	// (memberlist encrypts gossip with the same key). Changing it is a
	// protocol break: nodes on either side would no longer trust each
	// other.
	caSalt = "portico peer ca v1"
	// caName is the CA's subject. All CAs share it, so a chain is found
	// by name and the right CA by its key (SubjectKeyId, then signature).
	caName = "portico-peer-ca"

	// nodeCertLifetime is the validity of a node certificate. It is
	// renewed in memory at half its life (see Credentials.current), so a
	// long-running node never presents an expired one.
	nodeCertLifetime = 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so that a peer whose clock is a little
	// behind accepts a certificate issued a moment ago.
	clockSkew = time.Hour
)

// The CA validity is fixed, not derived from the clock, so that every node
// builds a byte-identical CA certificate (ed25519 signatures are
// deterministic). A CA is retired by removing its key, not by expiry.
var (
	caNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	caNotAfter  = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// authority is the CA derived from one cluster key.
type authority struct {
	cert *x509.Certificate
	key  ed25519.PrivateKey
}

// deriveAuthority builds the CA of key. Every node holding key gets the
// same private key and the same certificate.
func deriveAuthority(key []byte) (authority, error) {
	seed, err := hkdf.Key(sha256.New, key, []byte(caSalt), "", ed25519.SeedSize)
	if err != nil {
		return authority{}, fmt.Errorf("deriving ca seed: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	skid := sha256.Sum256(pub)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: caName},
		NotBefore:             caNotBefore,
		NotAfter:              caNotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true, // signs node certificates only
		KeyUsage:              x509.KeyUsageCertSign,
		SubjectKeyId:          skid[:20],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return authority{}, fmt.Errorf("signing ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return authority{}, fmt.Errorf("parsing ca certificate: %w", err)
	}
	return authority{cert: cert, key: priv}, nil
}

// issue signs a certificate for node on a fresh ed25519 key, valid for
// server and client authentication from now-clockSkew to
// now+nodeCertLifetime.
func (a authority) issue(node string, now time.Time) (tls.Certificate, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating node key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("drawing serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: node},
		DNSNames:              nodeSANs(node),
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(nodeCertLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, pub, a.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("signing node certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parsing node certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// nodeSANs lists the DNS names of node's certificate: ServerName always,
// and the node name when it fits a dNSName (ASCII); the CN carries the
// name in every case.
func nodeSANs(node string) []string {
	sans := []string{ServerName}
	if node == ServerName {
		return sans
	}
	for i := 0; i < len(node); i++ {
		if node[i] <= ' ' || node[i] >= 0x7f {
			return sans
		}
	}
	return append(sans, node)
}

// verifyChain checks that certs (leaf first, as sent in the handshake)
// chain to one of roots, for usage, at now. dnsName, if not empty, must be
// among the leaf's SANs.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage, dnsName string, now time.Time) error {
	if len(certs) == 0 {
		return errors.New("peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		DNSName:       dnsName,
		KeyUsages:     []x509.ExtKeyUsage{usage},
		CurrentTime:   now,
	})
	if err != nil {
		return fmt.Errorf("verifying peer certificate %q: %w", certs[0].Subject.CommonName, err)
	}
	return nil
}
