package edge

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// h3TestCert returns a self-signed ECDSA certificate for 127.0.0.1 and
// localhost, and a pool that trusts it.
func h3TestCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// h3Served is an h3Server serving on a loopback UDP socket.
type h3Served struct {
	*h3Server
	addr     *net.UDPAddr
	roots    *x509.CertPool
	serveErr chan error // receives Serve's result once

	mu    sync.Mutex
	after []func() // run after Shutdown at cleanup
}

// afterShutdown registers f to run after the server's Shutdown at the
// end of the test.
func (sv *h3Served) afterShutdown(f func()) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.after = append(sv.after, f)
}

// h3TestServe starts an h3Server for h on 127.0.0.1 and shuts it down at
// the end of the test. Each option may adjust the server before Serve.
func h3TestServe(t testing.TB, cfg HTTP3Config, h http.Handler, hooks h3Hooks, opts ...func(*h3Server)) *h3Served {
	t.Helper()
	cert, roots := h3TestCert(t)
	// GetCertificate, as the shared TCP config does it: h3 must keep it.
	tlsConf := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }}
	s, err := newH3Server(cfg, tlsConf, h, hooks, nil)
	if err != nil {
		t.Fatalf("newH3Server: %v", err)
	}
	for _, o := range opts {
		o(s)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	sv := &h3Served{h3Server: s, addr: pc.LocalAddr().(*net.UDPAddr), roots: roots, serveErr: make(chan error, 1)}
	go func() { sv.serveErr <- s.Serve(pc) }()
	h3WaitFor(t, "Serve to start", func() bool { return s.AltSvc() != "" })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown at cleanup: %v", err)
		}
		sv.waitServe(t)
		sv.mu.Lock()
		defer sv.mu.Unlock()
		for _, f := range sv.after {
			f()
		}
	})
	return sv
}

// waitServe waits for Serve to return and checks it returned nil. It may
// be called more than once.
func (sv *h3Served) waitServe(t testing.TB) {
	t.Helper()
	select {
	case err, ok := <-sv.serveErr:
		if ok {
			close(sv.serveErr)
			if err != nil {
				t.Errorf("Serve = %v, want nil after Shutdown", err)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
}

func (sv *h3Served) url(path string) string {
	return fmt.Sprintf("https://127.0.0.1:%d%s", sv.addr.Port, path)
}

// tlsClientConfig trusts the server's certificate and speaks h3.
func (sv *h3Served) tlsClientConfig() *tls.Config {
	return &tls.Config{RootCAs: sv.roots, ServerName: "localhost", NextProtos: []string{http3.NextProtoH3}}
}

// h3TestClient returns an HTTP/3 client of sv, closed at the end of the
// test. qconf may be nil.
func h3TestClient(t testing.TB, sv *h3Served, qconf *quic.Config) (*http.Client, *http3.Transport) {
	tr := &http3.Transport{TLSClientConfig: sv.tlsClientConfig(), QUICConfig: qconf}
	t.Cleanup(func() { _ = tr.Close() })
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr
}

// h3Get GETs url and returns the response and its body.
func h3Get(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of GET %s: %v", url, err)
	}
	return resp, string(body)
}

// h3WaitFor polls cond until it holds or 10s pass.
func h3WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// h3LogBuffer collects a logger's output; safe for concurrent use.
type h3LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *h3LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *h3LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHTTP3Config_Defaults(t *testing.T) {
	got := HTTP3Config{}.withDefaults()
	want := HTTP3Config{
		MaxIncomingStreams:             100,
		MaxIdleTimeout:                 30 * time.Second,
		HandshakeIdleTimeout:           5 * time.Second,
		InitialStreamReceiveWindow:     512 << 10,
		MaxStreamReceiveWindow:         6 << 20,
		InitialConnectionReceiveWindow: 768 << 10,
		MaxConnectionReceiveWindow:     15 << 20,
		AltSvcMaxAge:                   24 * time.Hour,
		RetryAboveHandshakes:           64,
		MaxHeaderBytes:                 64 << 10,
	}
	if got != want {
		t.Errorf("withDefaults() = %+v, want %+v", got, want)
	}
	if err := got.validate(); err != nil {
		t.Errorf("validate() of defaults = %v, want nil", err)
	}
	kept := HTTP3Config{RetryAboveHandshakes: -1, Disable0RTT: true, MaxHeaderBytes: 1}.withDefaults()
	if kept.RetryAboveHandshakes != -1 || !kept.Disable0RTT || kept.MaxHeaderBytes != 1 {
		t.Errorf("withDefaults() changed set fields: %+v", kept)
	}
}

func TestHTTP3Config_Validate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     HTTP3Config
		wantErr string // "" means valid
	}{
		{name: "zero", cfg: HTTP3Config{}},
		{name: "retry always", cfg: HTTP3Config{RetryAboveHandshakes: -1}},
		{name: "negative streams", cfg: HTTP3Config{MaxIncomingStreams: -1}, wantErr: "max incoming streams"},
		{name: "negative idle", cfg: HTTP3Config{MaxIdleTimeout: -time.Second}, wantErr: "max idle timeout"},
		{name: "negative handshake", cfg: HTTP3Config{HandshakeIdleTimeout: -1}, wantErr: "handshake idle timeout"},
		{name: "stream window", cfg: HTTP3Config{InitialStreamReceiveWindow: 8 << 20}, wantErr: "initial stream receive window"},
		{name: "conn window", cfg: HTTP3Config{MaxConnectionReceiveWindow: 1 << 10}, wantErr: "initial connection receive window"},
		{name: "sub-second alt-svc", cfg: HTTP3Config{AltSvcMaxAge: time.Millisecond}, wantErr: "alt-svc max age"},
		{name: "negative header bytes", cfg: HTTP3Config{MaxHeaderBytes: -1}, wantErr: "max header bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.withDefaults().validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewH3Server_Invalid(t *testing.T) {
	h := http.NotFoundHandler()
	if _, err := newH3Server(HTTP3Config{}, nil, h, h3Hooks{}, nil); err == nil {
		t.Error("newH3Server(nil tls config) = nil error, want error")
	}
	if _, err := newH3Server(HTTP3Config{}, &tls.Config{}, nil, h3Hooks{}, nil); err == nil {
		t.Error("newH3Server(nil handler) = nil error, want error")
	}
	if _, err := newH3Server(HTTP3Config{MaxHeaderBytes: -5}, &tls.Config{}, h, h3Hooks{}, nil); err == nil {
		t.Error("newH3Server(invalid config) = nil error, want error")
	}
}

// h3Seen is what a test handler saw of a request.
type h3Seen struct {
	method, proto, remoteAddr, alpn, earlyData string
	protoMajor                                 int
	handshakeComplete                          bool
}

func h3Observe(r *http.Request) h3Seen {
	s := h3Seen{method: r.Method, proto: r.Proto, protoMajor: r.ProtoMajor, remoteAddr: r.RemoteAddr,
		earlyData: r.Header.Get("Early-Data")}
	if r.TLS != nil {
		s.alpn, s.handshakeComplete = r.TLS.NegotiatedProtocol, r.TLS.HandshakeComplete
	}
	return s
}

func TestH3Server_ServesRequests(t *testing.T) {
	seen := make(chan h3Seen, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- h3Observe(r)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Portico-Test", "yes")
		_, _ = fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
	})
	sv := h3TestServe(t, HTTP3Config{}, h, h3Hooks{})
	client, _ := h3TestClient(t, sv, nil)

	if got, want := sv.AltSvc(), fmt.Sprintf(`h3=":%d"; ma=86400`, sv.addr.Port); got != want {
		t.Errorf("AltSvc() = %q, want %q", got, want)
	}
	resp, body := h3Get(t, client, sv.url("/hello"))
	if resp.StatusCode != http.StatusOK || body != "GET /hello " || resp.Header.Get("X-Portico-Test") != "yes" {
		t.Errorf("GET = %d %q X-Portico-Test=%q, want 200 %q yes", resp.StatusCode, body, resp.Header.Get("X-Portico-Test"), "GET /hello ")
	}
	if resp.ProtoMajor != 3 {
		t.Errorf("response ProtoMajor = %d, want 3", resp.ProtoMajor)
	}
	got := <-seen
	if got.proto != "HTTP/3.0" || got.protoMajor != 3 {
		t.Errorf("handler saw Proto %q ProtoMajor %d, want HTTP/3.0 3", got.proto, got.protoMajor)
	}
	if host, _, err := net.SplitHostPort(got.remoteAddr); err != nil || host != "127.0.0.1" {
		t.Errorf("handler saw RemoteAddr %q, want 127.0.0.1:port", got.remoteAddr)
	}
	if got.alpn != "h3" || !got.handshakeComplete || got.earlyData != "" {
		t.Errorf("handler saw TLS alpn %q complete %v Early-Data %q, want h3 true \"\"", got.alpn, got.handshakeComplete, got.earlyData)
	}

	// An unsafe method after the handshake is served normally.
	resp, err := client.Post(sv.url("/echo"), "text/plain", strings.NewReader("ping"))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "POST /echo ping" {
		t.Errorf("POST = %d %q, want 200 %q", resp.StatusCode, b, "POST /echo ping")
	}
	<-seen
	if n := sv.OpenConns(); n != 1 {
		t.Errorf("OpenConns() = %d, want 1", n)
	}
}

func TestH3Server_HeaderLimit(t *testing.T) {
	sv := h3TestServe(t, HTTP3Config{MaxHeaderBytes: 1 << 10}, http.NotFoundHandler(), h3Hooks{})
	client, _ := h3TestClient(t, sv, nil)
	req, _ := http.NewRequest(http.MethodGet, sv.url("/"), nil)
	req.Header.Set("X-Big", strings.Repeat("a", 4<<10))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("GET with 4 KiB header = %d, want 431", resp.StatusCode)
	}
}

func BenchmarkH3Request(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
	sv := h3TestServe(b, HTTP3Config{}, h, h3Hooks{})
	client, _ := h3TestClient(b, sv, nil)
	url := sv.url("/bytes")
	get := func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	if err := get(); err != nil { // one connection, set up outside the timing
		b.Fatalf("GET: %v", err)
	}
	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := get(); err != nil {
				b.Fatalf("GET: %v", err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := get(); err != nil {
					b.Errorf("GET: %v", err)
					return
				}
			}
		})
	})
}
