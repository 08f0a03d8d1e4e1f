package peer

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// MinKeyBytes is the shortest cluster key accepted: the gossip key is
	// 16, 24 or 32 random bytes, and anything shorter is guessable.
	MinKeyBytes = 16
	// maxNodeName is X.509's upper bound for a common name (ub-common-name).
	maxNodeName = 64
)

// nextProtos prefers HTTP/2 (one multiplexed connection per peer);
// HTTP/1.1 stays for debugging with tools that lack it.
var nextProtos = []string{"h2", "http/1.1"}

// Credentials are one node's peer identity: its name, the cluster keys it
// trusts and the certificate it presents, signed by the primary key's CA.
// The tls.Configs it hands out read the current state at each handshake,
// so SetKeys takes effect on new connections without rebuilding servers
// or transports. Established connections keep the trust they were opened
// with; close them (Transport.CloseIdleConnections, Server restart) to
// finish a key removal. All methods are safe for concurrent use.
type Credentials struct {
	node string
	now  func() time.Time // injectable for tests; time.Now otherwise

	mu    sync.Mutex // serialises building a new state
	state atomic.Pointer[keyState]
}

// keyState is an immutable snapshot of the trust and identity of a node.
type keyState struct {
	keys    [][]byte // copies; keys[0] is primary
	roots   *x509.CertPool
	cert    tls.Certificate
	renewAt time.Time
	server  *tls.Config // what GetConfigForClient returns
}

// NewCredentials derives the peer CAs of keys (keys[0] is the primary,
// which signs this node's certificate; every key is trusted) and issues a
// certificate for node. It refuses an empty list, keys shorter than
// MinKeyBytes, and an empty, over-long (> 64 bytes) or unprintable node
// name.
func NewCredentials(node string, keys [][]byte) (*Credentials, error) {
	return newCredentials(node, keys, time.Now)
}

func newCredentials(node string, keys [][]byte, now func() time.Time) (*Credentials, error) {
	if err := checkNodeName(node); err != nil {
		return nil, fmt.Errorf("peer: node name %q: %w", node, err)
	}
	c := &Credentials{node: node, now: now}
	if err := c.SetKeys(keys); err != nil {
		return nil, err
	}
	return c, nil
}

// SetKeys replaces the trusted keys; keys[0] becomes the primary and this
// node's certificate is reissued under it. Rotation is: install the new
// key on every node (appended), make it primary everywhere, then remove
// the old one; at each step every pair of nodes shares a trusted key. On
// error the previous keys stay in force.
func (c *Credentials) SetKeys(keys [][]byte) error {
	if err := checkKeys(keys); err != nil {
		return fmt.Errorf("peer: cluster keys: %w", err)
	}
	owned := make([][]byte, len(keys))
	for i, k := range keys {
		owned[i] = append([]byte(nil), k...) // the caller may reuse its buffers
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := buildState(c.node, owned, c.now)
	if err != nil {
		return fmt.Errorf("peer: building credentials: %w", err)
	}
	c.state.Store(s)
	return nil
}

// Node returns the node name the certificate carries.
func (c *Credentials) Node() string { return c.node }

// ServerTLS returns a TLS 1.3 server config that presents this node's
// certificate, requires a client certificate from a trusted CA and offers
// h2 and http/1.1. Session tickets are off, so every connection is
// verified against the keys current at its handshake. Each call returns a
// new Config.
func (c *Credentials) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		NextProtos:             nextProtos,
		ClientAuth:             tls.RequireAndVerifyClientCert,
		SessionTicketsDisabled: true,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return c.current().server, nil
		},
	}
}

// ClientTLS returns a TLS 1.3 client config that presents this node's
// certificate and accepts a server whose certificate chains to a trusted
// CA and names ServerName, whatever address was dialled. Each call
// returns a new Config.
func (c *Credentials) ClientTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: nextProtos,
		ServerName: ServerName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert := c.current().cert
			return &cert, nil
		},
		// The roots change with SetKeys, and RootCAs can't: the stock
		// check is switched off and VerifyConnection does the same check
		// (chain, SAN ServerName, server usage) against the current roots.
		// The handshake still proves the server holds the leaf's key.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyChain(cs.PeerCertificates, c.current().roots, x509.ExtKeyUsageServerAuth, ServerName, c.now())
		},
	}
}

// PeerName returns the node name of the authenticated peer that sent r
// (the CN of its verified client certificate), or "" if r did not arrive
// over a verified peer connection.
func PeerName(r *http.Request) string {
	if r == nil || r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return ""
	}
	return r.TLS.VerifiedChains[0][0].Subject.CommonName
}

// current returns the state to use now, first renewing the node
// certificate if it is past half its life.
func (c *Credentials) current() *keyState {
	s := c.state.Load()
	if c.now().Before(s.renewAt) {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Another handshake or SetKeys may have replaced the state while this
	// one waited for the lock.
	if s = c.state.Load(); c.now().Before(s.renewAt) {
		return s
	}
	ns, err := buildState(c.node, s.keys, c.now)
	if err != nil {
		// Only the random source can fail here; the old certificate is
		// still valid for half its life, so keep serving it.
		return s
	}
	c.state.Store(ns)
	return ns
}

// buildState derives the CAs of keys and issues node's certificate under
// keys[0].
func buildState(node string, keys [][]byte, now func() time.Time) (*keyState, error) {
	roots := x509.NewCertPool()
	var primary authority
	for i, k := range keys {
		a, err := deriveAuthority(k)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if i == 0 {
			primary = a
		}
		roots.AddCert(a.cert)
	}
	issued := now()
	cert, err := primary.issue(node, issued)
	if err != nil {
		return nil, err
	}
	return &keyState{
		keys:    keys,
		roots:   roots,
		cert:    cert,
		renewAt: issued.Add(nodeCertLifetime / 2),
		server: &tls.Config{
			MinVersion:             tls.VersionTLS13,
			NextProtos:             nextProtos,
			Certificates:           []tls.Certificate{cert},
			ClientAuth:             tls.RequireAndVerifyClientCert,
			ClientCAs:              roots,
			SessionTicketsDisabled: true,
			Time:                   now,
		},
	}, nil
}

func checkKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return errors.New("none given: pass at least the primary key")
	}
	for i, k := range keys {
		if len(k) < MinKeyBytes {
			return fmt.Errorf("key %d has %d bytes, want at least %d (use the 16, 24 or 32 random bytes of the gossip key)", i, len(k), MinKeyBytes)
		}
	}
	return nil
}

func checkNodeName(node string) error {
	switch {
	case node == "":
		return errors.New("empty: every node needs a name")
	case len(node) > maxNodeName:
		return fmt.Errorf("%d bytes long, want at most %d", len(node), maxNodeName)
	case !utf8.ValidString(node):
		return errors.New("not valid UTF-8")
	}
	for _, r := range node {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("contains the unprintable character %U", r)
		}
	}
	return nil
}
