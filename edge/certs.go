package edge

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// certExpiryWarning is how close to its expiry a certificate makes the
// Server log a warning.
const certExpiryWarning = 14 * 24 * time.Hour

// certStore is an immutable set of certificates indexed by the names in
// their subject alternative names (the common name is ignored, as by
// browsers). A Server swaps whole stores on reload, so a handshake sees
// either the old set or the new one. Its methods may be called from many
// goroutines at once.
type certStore struct {
	chains   []*chain // as configured; chains[0] is the default
	exact    map[string][]*chain
	wildcard map[string][]*chain // "*.example.com" under "example.com"
	ips      map[netip.Addr][]*chain
}

// chain is one configured certificate chain with its key.
type chain struct {
	cert     *tls.Certificate
	files    CertFiles
	name     string    // first SAN: the metric label
	notAfter time.Time // earliest NotAfter in the chain
}

// getCertificate picks the certificate for a handshake: the first
// configured chain whose SANs cover the server name exactly, else one
// whose wildcard (one label only: *.example.com covers a.example.com, not
// a.b.example.com or example.com) does; with no server name (clients
// connecting to an IP send none), one with an IP SAN for the local
// address the client reached. Among chains for the same name, the first
// the client supports (ECDSA vs RSA) wins. Anything else gets the default,
// the first configured chain: it never fails the handshake.
func (st *certStore) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	var candidates []*chain
	switch {
	case name != "":
		candidates = st.exact[name]
		if candidates == nil {
			if _, parent, ok := strings.Cut(name, "."); ok {
				candidates = st.wildcard[parent]
			}
		}
		if candidates == nil {
			// Some clients put an IP literal in SNI despite RFC 6066.
			if ip, err := netip.ParseAddr(name); err == nil {
				candidates = st.ips[ip.Unmap()]
			}
		}
	case hello.Conn != nil:
		if ip, ok := addrIP(hello.Conn.LocalAddr()); ok {
			candidates = st.ips[ip]
		}
	}
	for _, c := range candidates {
		if hello.SupportsCertificate(c.cert) == nil {
			return c.cert, nil
		}
	}
	if len(candidates) > 0 {
		return candidates[0].cert, nil
	}
	return st.chains[0].cert, nil
}

// loadCertificates reads every pair of files and indexes them. It reports
// all problems at once, each naming its file: unreadable files, files
// without PEM, a key that is not the certificate's, a certificate not
// valid at now or without names.
func loadCertificates(files []CertFiles, now time.Time) (*certStore, error) {
	st := &certStore{
		exact:    map[string][]*chain{},
		wildcard: map[string][]*chain{},
		ips:      map[netip.Addr][]*chain{},
	}
	var errs []error
	for _, f := range files {
		c, err := loadChain(f, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st.add(c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *certStore) add(c *chain) {
	st.chains = append(st.chains, c)
	leaf := c.cert.Leaf
	for _, n := range leaf.DNSNames {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if parent, ok := strings.CutPrefix(n, "*."); ok {
			st.wildcard[parent] = append(st.wildcard[parent], c)
		} else {
			st.exact[n] = append(st.exact[n], c)
		}
	}
	for _, ip := range leaf.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			st.ips[a.Unmap()] = append(st.ips[a.Unmap()], c)
		}
	}
}

// loadChain reads, parses and checks one certificate/key pair for
// serving: as loadPair, and the leaf must have names.
func loadChain(f CertFiles, now time.Time) (*chain, error) {
	cert, notAfter, err := loadPair(f, now)
	if err != nil {
		return nil, err
	}
	name := firstName(cert.Leaf)
	if name == "" {
		return nil, fmt.Errorf("cert %s: has no DNS or IP subject alternative names; the common name is not used: reissue it with SANs", f.CertFile)
	}
	return &chain{cert: cert, files: f, name: name, notAfter: notAfter}, nil
}

// loadPair reads a certificate chain and its key, checks that the key is
// the leaf's and that the leaf is valid at now, and returns them with the
// earliest NotAfter of the chain. Errors name the files.
func loadPair(f CertFiles, now time.Time) (*tls.Certificate, time.Time, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("cert %s: "+format, append([]any{f.CertFile}, args...)...)
	}
	certPEM, errCert := os.ReadFile(f.CertFile)
	keyPEM, errKey := os.ReadFile(f.KeyFile)
	if errCert != nil || errKey != nil {
		var errs []error
		if errCert != nil {
			errs = append(errs, fail("reading the certificate: %w", errCert))
		}
		if errKey != nil {
			errs = append(errs, fail("reading its key %s: %w", f.KeyFile, errKey))
		}
		return nil, time.Time{}, errors.Join(errs...)
	}
	ders, err := pemBlocks(certPEM, func(t string) bool { return t == "CERTIFICATE" })
	if err != nil {
		return nil, time.Time{}, fail("%w", err)
	}
	keyDER, err := pemBlocks(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") })
	if err != nil {
		return nil, time.Time{}, fail("key %s: %w", f.KeyFile, err)
	}
	var chainCerts []*x509.Certificate
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, time.Time{}, fail("parsing certificate #%d of the chain: %w", i+1, err)
		}
		chainCerts = append(chainCerts, c)
	}
	key, err := parsePrivateKey(keyDER[0])
	if err != nil {
		return nil, time.Time{}, fail("key %s: %w", f.KeyFile, err)
	}
	leaf := chainCerts[0]
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return nil, time.Time{}, fail("private key does not match the certificate's public key (key file %s)", f.KeyFile)
	}
	if now.Before(leaf.NotBefore) {
		return nil, time.Time{}, fail("not valid yet: valid from %s to %s, now is %s", stamp(leaf.NotBefore), stamp(leaf.NotAfter), stamp(now))
	}
	if now.After(leaf.NotAfter) {
		return nil, time.Time{}, fail("expired on %s (valid from %s), now is %s", stamp(leaf.NotAfter), stamp(leaf.NotBefore), stamp(now))
	}
	notAfter := leaf.NotAfter
	for _, c := range chainCerts[1:] {
		if c.NotAfter.Before(notAfter) {
			notAfter = c.NotAfter
		}
	}
	return &tls.Certificate{Certificate: ders, PrivateKey: key, Leaf: leaf}, notAfter, nil
}

// pemBlocks returns the DER bytes of the PEM blocks whose type keep
// accepts, in order; it fails if there are none.
func pemBlocks(data []byte, keep func(string) bool) ([][]byte, error) {
	var ders [][]byte
	found := false
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		found = true
		if keep(b.Type) {
			ders = append(ders, b.Bytes)
		}
	}
	switch {
	case !found:
		return nil, errors.New("no PEM data found")
	case len(ders) == 0:
		return nil, errors.New("no PEM block of the expected type (CERTIFICATE, or PRIVATE KEY for keys) found")
	}
	return ders, nil
}

// parsePrivateKey parses a PKCS #8, PKCS #1 (RSA) or SEC 1 (EC) key.
func parsePrivateKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch k := k.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return k.(crypto.Signer), nil
		default:
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("cannot parse the private key (PKCS #8, PKCS #1 and SEC 1 are supported)")
}

// firstName is the first DNS SAN of c, else its first IP SAN, else "".
func firstName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	if len(c.IPAddresses) > 0 {
		return c.IPAddresses[0].String()
	}
	return ""
}

// addrIP returns the IP of a TCP or UDP address, unmapped from IPv6.
func addrIP(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case *net.UDPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case nil:
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap(), err == nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// expiringSoon returns the chains of st that expire within
// certExpiryWarning of now.
func (st *certStore) expiringSoon(now time.Time) []*chain {
	var soon []*chain
	for _, c := range st.chains {
		if c.notAfter.Sub(now) < certExpiryWarning {
			soon = append(soon, c)
		}
	}
	return soon
}

// newTLSConfig returns the server tls.Config for minVersion whose
// certificates come from the store current() returns at each handshake.
func newTLSConfig(minVersion uint16, current func() *certStore) *tls.Config {
	return &tls.Config{
		MinVersion: minVersion,
		// TLS 1.2 only; TLS 1.3 suites are not configurable (all AEAD).
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		NextProtos:       []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return current().getCertificate(hello)
		},
	}
}
