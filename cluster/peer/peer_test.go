package peer_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/cluster/peer"
)

// TestTwoNodesTalk: two nodes with the same key reach each other over one
// reused HTTP/2 connection each way and learn each other's name.
func TestTwoNodesTalk(t *testing.T) {
	var calls atomic.Int64
	nodes := map[string]*peer.Credentials{"node-a": creds(t, "node-a", key1), "node-b": creds(t, "node-b", key1)}
	srv := map[string]*served{}
	cli := map[string]*http.Client{}
	for name, c := range nodes {
		srv[name] = serve(t, c, peer.ServerConfig{Handler: echo(&calls)})
		cli[name] = client(t, c, peer.ClientConfig{})
	}
	for _, tc := range []struct{ name, from, to string }{
		{"a to b", "node-a", "node-b"},
		{"b to a", "node-b", "node-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.from + " HTTP/2.0"
			for i := range 3 {
				status, body, err := get(t, cli[tc.from], srv[tc.to].url+"/x")
				if err != nil || status != http.StatusOK || body != want {
					t.Fatalf("request %d: got %d %q (err %v), want 200 %q", i, status, body, err, want)
				}
			}
			// Concurrent requests share the same connection (multiplexed).
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					if status, body, err := get(t, cli[tc.from], srv[tc.to].url+"/y"); err != nil || body != want {
						t.Errorf("concurrent request: got %d %q (err %v), want 200 %q", status, body, err, want)
					}
				})
			}
			wg.Wait()
			if got := srv[tc.to].ln.accepts.Load(); got != 1 {
				t.Errorf("%s accepted %d connections, want 1 (reused)", tc.to, got)
			}
		})
	}
	if got, want := calls.Load(), int64(2*(3+8)); got != want {
		t.Errorf("handler calls = %d, want %d", got, want)
	}
}

// TestRefused: nothing without a certificate from a trusted key reaches
// the handler, whatever name it claims.
func TestRefused(t *testing.T) {
	var calls atomic.Int64
	srv := serve(t, creds(t, "node-b", key1), peer.ServerConfig{Handler: echo(&calls)})
	other := creds(t, "node-a", key2)

	tests := []struct {
		name   string
		client *http.Client
		url    string
	}{
		{"client with a different key", client(t, other, peer.ClientConfig{}), srv.url},
		{"different key, server check skipped", tlsClient(t, skipServerCheck(other.ClientTLS())), srv.url},
		{"no client certificate", tlsClient(t, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}), srv.url},
		{"self-signed certificate naming a node", tlsClient(t, &tls.Config{
			InsecureSkipVerify: true,
			MinVersion:         tls.VersionTLS13,
			Certificates:       []tls.Certificate{selfSigned(t, "node-a")},
		}), srv.url},
		{"TLS 1.2 with a trusted certificate", tlsClient(t, tls12(creds(t, "node-a", key1).ClientTLS())), srv.url},
		{"plain HTTP", tlsClient(t, nil), "http" + strings.TrimPrefix(srv.url, "https")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := get(t, tc.client, tc.url+"/secret")
			if err == nil && status == http.StatusOK {
				t.Fatalf("got 200 %q, want a refused request", body)
			}
		})
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("handler ran %d times, want 0", got)
	}
}

// TestServerImpersonation: the client refuses a server that doesn't hold
// a trusted key, even if it names itself portico-peer.
func TestServerImpersonation(t *testing.T) {
	tests := []struct {
		name      string
		serverTLS *tls.Config
	}{
		{"server with a different key", creds(t, "node-b", key2).ServerTLS()},
		{"self-signed server", &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{selfSigned(t, peer.ServerName)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			url := serveTLS(t, tc.serverTLS, echo(&calls))
			hc := client(t, creds(t, "node-a", key1), peer.ClientConfig{})
			if status, body, err := get(t, hc, url); err == nil {
				t.Fatalf("got %d %q, want a handshake error", status, body)
			}
			if got := calls.Load(); got != 0 {
				t.Errorf("impostor's handler ran %d times, want 0", got)
			}
		})
	}
}

func TestPeerName_NoTLS(t *testing.T) {
	r, err := http.NewRequest(http.MethodGet, "http://x/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := peer.PeerName(r); got != "" {
		t.Errorf("PeerName(plain request) = %q, want \"\"", got)
	}
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: "node-a"}}}}
	if got := peer.PeerName(r); got != "" {
		t.Errorf("PeerName(unverified certificate) = %q, want \"\"", got)
	}
}

// tlsClient returns a client with a plain http.Transport using cfg.
func tlsClient(t testing.TB, cfg *tls.Config) *http.Client {
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func skipServerCheck(c *tls.Config) *tls.Config {
	c.VerifyConnection = nil
	return c
}

func tls12(c *tls.Config) *tls.Config {
	c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	c.VerifyConnection = nil
	return c
}

// selfSigned returns a certificate for name, signed by its own key, with
// the usages a node certificate has.
func selfSigned(t testing.TB, name string) tls.Certificate {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{peer.ServerName, name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
}

// serveTLS serves h over TLS with cfg on loopback (an impostor peer) and
// returns its https URL.
func serveTLS(t testing.TB, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	raw, url := listen(t)
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: discardLog()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(tls.NewListener(raw, cfg))
	}()
	t.Cleanup(func() {
		_ = hs.Close()
		<-done
	})
	return url
}

// TestRefusalsLoggedOncePerAddress: the peer listener logs a client
// without the key at warn once per address, not once per connection, and
// a member's requests are not logged at all.
func TestRefusalsLoggedOncePerAddress(t *testing.T) {
	logs := &lockedBuffer{}
	var calls atomic.Int64
	srv := serve(t, creds(t, "node-b", key1), peer.ServerConfig{
		Handler: echo(&calls),
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	})
	const line = "refused a peer connection"
	for range 5 {
		if status, _, err := get(t, client(t, creds(t, "node-x", key2), peer.ClientConfig{}), srv.url+"/x"); err == nil {
			t.Fatalf("a client with another key got %d", status)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), line) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if status, _, err := get(t, client(t, creds(t, "node-a", key1), peer.ClientConfig{}), srv.url+"/x"); err != nil || status != http.StatusOK {
		t.Fatalf("member: %d, %v", status, err)
	}
	if n := strings.Count(logs.String(), line); n != 1 {
		t.Errorf("refusals logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("refusal not at warn:\n%s", logs.String())
	}
}
