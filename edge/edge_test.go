package edge_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go/http3"

	"github.com/portico-gw/portico/edge"
)

// allProtocols is one Server serving cleartext, TLS (h1, h2) and HTTP/3,
// with the TCP and UDP sockets on the same port number.
type allProtocols struct {
	srv       *edge.Server
	reg       *prometheus.Registry
	plain     string // host:port of the cleartext listener
	secure    string // host:port of TLS and QUIC
	tlsClient *tls.Config
	errs      chan error
}

func serveAll(t *testing.T, cfg edge.Config) *allProtocols {
	t.Helper()
	files, pool := edge.NewTestCert(t, "localhost", "127.0.0.1")
	cfg.TLS = &edge.TLSConfig{Certificates: []edge.CertFiles{files}}
	if cfg.HTTP3 == nil {
		cfg.HTTP3 = &edge.HTTP3Config{}
	}
	a := &allProtocols{reg: prometheus.NewRegistry(), tlsClient: &tls.Config{RootCAs: pool}, errs: make(chan error, 3)}
	cfg.Registerer = a.reg
	srv, err := edge.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.srv = srv
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secure, udp := listenPair(t)
	a.plain, a.secure = plain.Addr().String(), secure.Addr().String()
	go func() { a.errs <- srv.ServeCleartext(plain) }()
	go func() { a.errs <- srv.Serve(secure) }()
	go func() { a.errs <- srv.ServeUDP(udp) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range 3 {
			if err := <-a.errs; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
	})
	return a
}

// listenPair binds TCP and UDP on one free loopback port number.
func listenPair(t *testing.T) (net.Listener, net.PacketConn) {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			return ln, pc
		}
		ln.Close()
	}
	t.Fatal("no port free for both TCP and UDP")
	return nil, nil
}

func (a *allProtocols) client(t *testing.T, proto string) (*http.Client, string) {
	t.Helper()
	if proto == "h3" {
		tr := &http3.Transport{TLSClientConfig: a.tlsClient}
		t.Cleanup(func() { tr.Close() })
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}, "https://" + a.secure
	}
	var p http.Protocols
	base := "https://" + a.secure
	switch proto {
	case "cleartext":
		p.SetHTTP1(true)
		base = "http://" + a.plain
	case "h1":
		p.SetHTTP1(true)
	case "h2":
		p.SetHTTP2(true)
	}
	tr := &http.Transport{TLSClientConfig: a.tlsClient, Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, base
}

// TestOneHandlerEveryProtocol: the same route answers identically over
// cleartext HTTP/1.1, HTTP/1.1 and HTTP/2 over TLS, and HTTP/3; TLS
// responses advertise HTTP/3 on the same port; cleartext ones don't.
func TestOneHandlerEveryProtocol(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Proto-Major", strconv.Itoa(r.ProtoMajor))
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s q=%s body=%s", r.Method, r.URL.Path, r.URL.Query().Get("q"), body)
	})
	a := serveAll(t, edge.Config{Handler: h})
	_, port, _ := net.SplitHostPort(a.secure)
	wantAltSvc := `h3=":` + port + `"; ma=86400`
	for _, tt := range []struct {
		proto  string
		major  string
		altSvc string
	}{
		{"cleartext", "1", ""},
		{"h1", "1", wantAltSvc},
		{"h2", "2", wantAltSvc},
		{"h3", "3", ""},
	} {
		t.Run(tt.proto, func(t *testing.T) {
			c, base := a.client(t, tt.proto)
			res, err := c.Post(base+"/same/route?q=1", "text/plain", stringsReader("hello"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if got, want := string(body), "POST /same/route q=1 body=hello"; got != want {
				t.Errorf("body = %q, want %q", got, want)
			}
			if got := res.Header.Get("X-Proto-Major"); got != tt.major {
				t.Errorf("handler saw HTTP/%s, want HTTP/%s", got, tt.major)
			}
			if got := res.Header.Get("Alt-Svc"); got != tt.altSvc {
				t.Errorf("Alt-Svc = %q, want %q", got, tt.altSvc)
			}
		})
	}
	for proto, want := range map[string]float64{"h1": 2, "h2": 1, "h3": 1} {
		if got := metric(t, a.reg, "portico_edge_requests_total", "proto", proto); got != want {
			t.Errorf("requests_total{proto=%q} = %v, want %v", proto, got, want)
		}
	}
}

// TestConnLimitsSpanProtocols: MaxConnsPerIP counts TCP and QUIC
// connections of a client together.
func TestConnLimitsSpanProtocols(t *testing.T) {
	a := serveAll(t, edge.Config{Handler: okHandler(), Limits: edge.Limits{MaxConnsPerIP: 1}})
	// One HTTP/3 connection takes the client's only slot...
	c3, base := a.client(t, "h3")
	res, err := c3.Get(base + "/")
	if err != nil {
		t.Fatalf("first connection (h3): %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	// ...so a TCP one from the same address is refused at accept.
	c1, base1 := a.client(t, "cleartext")
	if res, err := c1.Get(base1 + "/"); err == nil {
		res.Body.Close()
		t.Fatalf("second connection (TCP) got %d, want it refused", res.StatusCode)
	}
	if got := metric(t, a.reg, "portico_edge_connections_refused_total", "reason", "max_conns_per_ip"); got != 1 {
		t.Errorf("refused{max_conns_per_ip} = %v, want 1", got)
	}
	if got := a.srv.OpenConns(); got != 1 {
		t.Errorf("OpenConns = %d, want 1 (the QUIC connection)", got)
	}
}

func stringsReader(s string) io.Reader { return &onceReader{s: s} }

// onceReader hides the length of a body, so it goes chunked / streamed.
type onceReader struct{ s string }

func (r *onceReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}

// TestSlowlorisCutOffOthersServed: clients that trickle their headers are
// closed at ReadHeaderTimeout while a normal client is served meanwhile,
// on cleartext and TLS alike.
func TestSlowlorisCutOffOthersServed(t *testing.T) {
	a := serveAll(t, edge.Config{Handler: okHandler(), ReadHeaderTimeout: 300 * time.Millisecond})
	for _, tt := range []struct{ name, proto, addr string }{
		{"cleartext", "cleartext", a.plain},
		{"tls", "h1", a.secure},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const slow = 10
			closed := make(chan error, slow)
			for range slow {
				var c net.Conn
				var err error
				if tt.proto == "h1" {
					c, err = tls.Dial("tcp", tt.addr, a.tlsClient)
				} else {
					c, err = net.Dial("tcp", tt.addr)
				}
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				go func() {
					// One header byte at a time, never finishing; the
					// write or read fails once the server closes.
					if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
						closed <- err
						return
					}
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					buf := make([]byte, 1)
					for {
						if _, err := c.Write([]byte("a")); err != nil {
							closed <- err
							return
						}
						if _, err := c.Read(buf); err != nil {
							closed <- err // EOF (closed) or the 10s safety deadline
							return
						}
					}
				}()
			}
			c, base := a.client(t, tt.proto)
			res, err := c.Get(base + "/")
			if err != nil {
				t.Fatalf("normal client while %d slowloris connections are open: %v", slow, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("normal client got %d, want 200", res.StatusCode)
			}
			for range slow {
				if err := <-closed; isTimeout(err) {
					t.Fatalf("a slowloris connection was still open after 10s: %v", err)
				}
			}
		})
	}
}
