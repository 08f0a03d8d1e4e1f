package peer

import (
	"bytes"
	"crypto/x509"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	testKey1 = bytes.Repeat([]byte{1}, 32)
	testKey2 = bytes.Repeat([]byte{2}, 32)
)

// TestDeriveAuthority: the CA depends on the key alone, so every node
// derives the same one, and another key gives another CA.
func TestDeriveAuthority(t *testing.T) {
	a1, err := deriveAuthority(testKey1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := deriveAuthority(bytes.Clone(testKey1))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := deriveAuthority(testKey2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a1.cert.Raw, again.cert.Raw) || !a1.key.Equal(again.key) {
		t.Error("same key derived two different CAs, want identical certificates and keys")
	}
	if a1.key.Equal(a2.key) {
		t.Error("two keys derived the same CA key")
	}
	if got := a1.cert.Subject.CommonName; got != caName {
		t.Errorf("CA subject = %q, want %q", got, caName)
	}
}

func TestNewCredentials_Refuses(t *testing.T) {
	tests := []struct {
		name    string
		node    string
		keys    [][]byte
		wantErr string
	}{
		{"no keys", "n", nil, "at least the primary key"},
		{"empty key", "n", [][]byte{testKey1, {}}, "key 1 has 0 bytes"},
		{"short key", "n", [][]byte{make([]byte, MinKeyBytes-1)}, "want at least 16"},
		{"empty node name", "", [][]byte{testKey1}, "every node needs a name"},
		{"long node name", strings.Repeat("n", 65), [][]byte{testKey1}, "at most 64"},
		{"control character", "node\n1", [][]byte{testKey1}, "unprintable"},
		{"invalid UTF-8", "node\xff", [][]byte{testKey1}, "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCredentials(tc.node, tc.keys)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NewCredentials = %v, %v; want an error containing %q", c, err, tc.wantErr)
			}
		})
	}
}

func TestNewCredentials_Accepts(t *testing.T) {
	for _, node := range []string{"node-1", "edge.eu-west.example", "nœud 1", strings.Repeat("n", 64), ServerName} {
		t.Run(node, func(t *testing.T) {
			c, err := NewCredentials(node, [][]byte{testKey1, make([]byte, MinKeyBytes)})
			if err != nil {
				t.Fatalf("NewCredentials: %v", err)
			}
			leaf := c.current().cert.Leaf
			if leaf.Subject.CommonName != node {
				t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, node)
			}
			if err := verifyChain([]*x509.Certificate{leaf}, c.current().roots, x509.ExtKeyUsageClientAuth, ServerName, time.Now()); err != nil {
				t.Errorf("own certificate does not verify as a client: %v", err)
			}
		})
	}
}

// TestSetKeys_KeepsCallerBuffers: keys are copied, and a refused SetKeys
// leaves the previous keys in force.
func TestSetKeys_KeepsCallerBuffers(t *testing.T) {
	key := bytes.Clone(testKey1)
	c, err := NewCredentials("n", [][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	before := c.current()
	key[0] ^= 0xff
	if err := c.SetKeys([][]byte{{1, 2}}); err == nil {
		t.Fatal("SetKeys(short key) = nil, want an error")
	}
	if c.current() != before {
		t.Error("refused SetKeys replaced the credentials")
	}
	if !bytes.Equal(c.current().keys[0], testKey1) {
		t.Error("credentials share the caller's key buffer")
	}
}

func TestNodeSANs(t *testing.T) {
	tests := []struct {
		name, node string
		want       []string
	}{
		{"host name", "node-1", []string{ServerName, "node-1"}},
		{"the server name itself", ServerName, []string{ServerName}},
		{"non-ASCII", "nœud", []string{ServerName}},
		{"space", "node 1", []string{ServerName}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nodeSANs(tc.node); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("nodeSANs(%q) = %q, want %q", tc.node, got, tc.want)
			}
		})
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestRenewal: the node certificate is reissued once half its life has
// passed, so a node that runs for years never presents an expired one.
func TestRenewal(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	c, err := newCredentials("n", [][]byte{testKey1}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	first := c.current().cert.Leaf

	clock.Advance(nodeCertLifetime/2 - time.Minute)
	if got := c.current().cert.Leaf; got != first {
		t.Fatalf("certificate reissued at %v, before half its life", clock.Now())
	}

	clock.Advance(2 * time.Minute)
	renewed := c.current().cert.Leaf
	if renewed == first {
		t.Fatal("certificate not reissued after half its life")
	}
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed NotAfter = %v, want after %v", renewed.NotAfter, first.NotAfter)
	}
	if server := c.current().server.Certificates[0].Leaf; server != renewed {
		t.Error("server config still presents the old certificate")
	}
	clock.Advance(nodeCertLifetime/2 + time.Hour) // the first one has expired
	if err := verifyChain([]*x509.Certificate{first}, c.current().roots, x509.ExtKeyUsageServerAuth, ServerName, clock.Now()); err == nil {
		t.Error("expired certificate verified, want an error")
	}
	if err := verifyChain([]*x509.Certificate{c.current().cert.Leaf}, c.current().roots, x509.ExtKeyUsageServerAuth, ServerName, clock.Now()); err != nil {
		t.Errorf("current certificate does not verify: %v", err)
	}
}
