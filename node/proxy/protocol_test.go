package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/portico-gw/portico/node/config"
)

// stack is the server side a test target runs.
type stack int

const (
	plainH1  stack = iota // HTTP/1.1 on TCP
	plainH2C              // HTTP/1.1 and h2c on TCP
	tlsH1                 // HTTP/1.1 only over TLS (ALPN http/1.1)
	tlsH2                 // HTTP/2 and HTTP/1.1 over TLS
	quicH3                // HTTP/3 on UDP, and tlsH2 on TCP on the same port number
)

// server is a running test target.
type server struct {
	url   string
	tls   *tls.Config // a client config trusting it; nil for plain stacks
	hits  atomic.Int64
	conns atomic.Int64 // QUIC connections accepted (quicH3)
}

// startServer runs h on 127.0.0.1 with the given stack until the test
// ends. Every TLS stack uses httptest's certificate (127.0.0.1), so any
// server's client config trusts them all.
func startServer(t testing.TB, s stack, h http.Handler) *server {
	t.Helper()
	srv := &server{}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.hits.Add(1)
		h.ServeHTTP(w, r)
	})
	if s == quicH3 {
		startH3(t, srv, counted)
		return srv
	}
	ts := httptest.NewUnstartedServer(counted)
	switch s {
	case plainH1:
		ts.Start()
	case plainH2C:
		ts.Config.Protocols = new(http.Protocols)
		ts.Config.Protocols.SetHTTP1(true)
		ts.Config.Protocols.SetUnencryptedHTTP2(true)
		ts.Start()
	case tlsH1, tlsH2:
		ts.EnableHTTP2 = s == tlsH2
		if s == tlsH1 {
			// Protocol h2 hangs up right after the handshake; the server
			// may still be in it when the test closes it, and would log.
			ts.Config.ErrorLog = log.New(io.Discard, "", 0)
		}
		ts.StartTLS()
		srv.tls = ts.Client().Transport.(*http.Transport).TLSClientConfig
	}
	t.Cleanup(ts.Close)
	srv.url = ts.URL
	return srv
}

// startH3 serves h over HTTP/3 on a UDP port and over TLS (h2, http/1.1)
// on the TCP port of the same number, as a real HTTP/3 origin does for
// clients that cannot use QUIC (and for WebSocket upgrades).
func startH3(t testing.TB, srv *server, h http.Handler) {
	t.Helper()
	for range 20 { // the UDP port of a free TCP port may be taken
		ts := httptest.NewUnstartedServer(h)
		port := ts.Listener.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			ts.Listener.Close()
			continue
		}
		ts.EnableHTTP2 = true
		ts.StartTLS()
		t.Cleanup(ts.Close)
		h3 := &http3.Server{Handler: h, TLSConfig: ts.TLS.Clone(),
			ConnContext: func(ctx context.Context, _ *quic.Conn) context.Context {
				srv.conns.Add(1)
				return ctx
			}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			h3.Serve(udp)
		}()
		t.Cleanup(func() {
			h3.Close()
			<-done
			udp.Close()
		})
		srv.url = ts.URL
		srv.tls = ts.Client().Transport.(*http.Transport).TLSClientConfig
		return
	}
	t.Fatal("no port free for both TCP and UDP")
}

// deadUDPTarget returns an https URL whose port has no UDP listener.
func deadUDPTarget(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return "https://" + addr
}

// echoProto answers "hello NAME" with the protocol it was spoken to in
// X-Proto-Major, an end-to-end header, and the request's X-* headers
// as X-Got-*.
func echoProto(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range r.Header {
			w.Header()["X-Got-"+k] = v
		}
		w.Header().Set("X-Proto-Major", strconv.Itoa(r.ProtoMajor))
		w.Header().Set("X-Backend", name)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello "+name+" "+r.URL.RequestURI())
	}
}

func TestProtocols(t *testing.T) {
	tests := []struct {
		name      string
		protocol  string
		stacks    []stack // the targets, in order (round robin starts at the first)
		attempts  int     // retries; 0: none
		wantCode  int
		wantMajor int    // the protocol the serving target saw
		wantFrom  int    // index of the serving target
		wantErr   string // in the first try's error, which must be connect-class
	}{
		{name: "http1 to HTTP/1.1", protocol: "http1", stacks: []stack{plainH1}, wantCode: 200, wantMajor: 1},
		{name: "http1 to HTTP/1.1-only TLS", protocol: "http1", stacks: []stack{tlsH1}, wantCode: 200, wantMajor: 1},
		{name: "http1 takes h2 when TLS offers it", protocol: "http1", stacks: []stack{tlsH2}, wantCode: 200, wantMajor: 2},
		{name: "h2 over TLS", protocol: "h2", stacks: []stack{tlsH2}, wantCode: 200, wantMajor: 2},
		{name: "h2 refuses an HTTP/1.1-only target", protocol: "h2", stacks: []stack{tlsH1}, wantCode: 502,
			wantErr: `did not negotiate HTTP/2 (ALPN "http/1.1")`},
		{name: "h2 retries the refusal on another target", protocol: "h2", stacks: []stack{tlsH1, tlsH2}, attempts: 1,
			wantCode: 200, wantMajor: 2, wantFrom: 1, wantErr: `did not negotiate HTTP/2 (ALPN "http/1.1")`},
		{name: "h2c", protocol: "h2c", stacks: []stack{plainH2C}, wantCode: 200, wantMajor: 2},
		{name: "h3", protocol: "h3", stacks: []stack{quicH3}, wantCode: 200, wantMajor: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var servers []*server
			var urls []string
			var o Options
			for i, s := range tt.stacks {
				srv := startServer(t, s, echoProto(strconv.Itoa(i)))
				servers, urls = append(servers, srv), append(urls, srv.url)
				if srv.tls != nil {
					o.TLSClientConfig = srv.tls
				}
			}
			cfg := upstreamConfig(urls...)
			cfg.Protocol = tt.protocol
			if tt.attempts > 0 {
				cfg.Retries.Attempts = tt.attempts
			}
			ev := &attempts{}
			o.Events = ev
			up := newTestUpstream(t, cfg, o)
			g := newGateway(t, route("pool"), up, HandlerOptions{})

			req, _ := http.NewRequest("GET", g.srv.URL+"/p/a?q=1", nil)
			req.Header.Set("X-End-To-End", "kept")
			req.Header.Set("Connection", "X-Private")
			req.Header.Set("X-Private", "secret")
			req.Header.Set("Keep-Alive", "300")
			resp, err := g.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status = %d, want %d (last error %v)", resp.StatusCode, tt.wantCode, g.errs.last())
			}
			list := ev.list()
			if tt.wantErr != "" {
				if len(list) == 0 || list[0].Err == nil {
					t.Fatalf("attempts %+v: want a failed first try", list)
				}
				err := list[0].Err
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("first try's error %q, want it to say %q", err, tt.wantErr)
				}
				var ce *connectError
				if !errors.As(err, &ce) || !isConnectFailure(err) || errors.Is(err, ErrTimeout) {
					t.Errorf("first try's error %v is not a connect error", err)
				}
				if servers[0].hits.Load() != 0 {
					t.Errorf("the refused target served %d requests, want 0", servers[0].hits.Load())
				}
			}
			if tt.wantCode != 200 {
				return
			}
			name := strconv.Itoa(tt.wantFrom)
			if want := "hello " + name + " /p/a?q=1"; string(body) != want {
				t.Errorf("body = %q, want %q", body, want)
			}
			for h, want := range map[string]string{
				"X-Proto-Major": strconv.Itoa(tt.wantMajor), "X-Backend": name, "Content-Type": "text/plain",
				"X-Got-X-End-To-End": "kept", "X-Got-X-Private": "", "X-Got-Keep-Alive": "",
			} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("header %s = %q, want %q", h, got, want)
				}
			}
		})
	}
}

// TestH2_HandshakeWithinConnectTimeout: a target that accepts TCP but
// never answers the TLS handshake fails as a connect timeout, since the
// handshake of protocol h2 counts as connecting.
func TestH2_HandshakeWithinConnectTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // accept, then say nothing until the test ends
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	cfg := upstreamConfig("https://" + l.Addr().String())
	cfg.Protocol = "h2"
	cfg.Timeouts = config.Timeouts{Connect: ms(100), ResponseHeader: ms(3_000)} // as in TestH3_TargetDownFailsOver
	up := newTestUpstream(t, cfg, Options{})
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	if code, _, _ := g.do(t, "GET", "/", nil); code != 504 {
		t.Fatalf("status = %d, want 504 (last error %v)", code, g.errs.last())
	}
	err = g.errs.last()
	var ce *connectError
	if !errors.As(err, &ce) || !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "tls handshake") {
		t.Errorf("error %v: want a connect timeout in the TLS handshake", err)
	}
}

func TestNewUpstream_ProtocolErrors(t *testing.T) {
	tests := []struct {
		name, protocol, url string
	}{
		{"unknown protocol", "spdy", "https://127.0.0.1:1"},
		{"h2 on http", "h2", "http://127.0.0.1:1"},
		{"h3 on http", "h3", "http://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Upstream{Name: "u", Protocol: tt.protocol, Targets: []config.Target{{URL: tt.url}}}
			if _, err := NewUpstream(cfg, Options{}); err == nil {
				t.Error("NewUpstream succeeded, want an error")
			}
		})
	}
}

func TestClassifyH3(t *testing.T) {
	conn := &connectError{addr: "a", err: errors.New("x")}
	tests := []struct {
		name             string
		err              error
		connect, timeout bool
	}{
		{"dial error kept", conn, true, false},
		{"transport closed", http3.ErrTransportClosed, true, false},
		{"upstream closed", errH3Closed, true, false},
		{"request rejected", &http3.Error{ErrorCode: http3.ErrCodeRequestRejected, Remote: true}, true, false},
		{"connection closed by the target", &quic.ApplicationError{Remote: true}, true, false},
		{"connection closed by us", &quic.ApplicationError{}, false, false},
		{"stateless reset", &quic.StatelessResetError{}, true, false},
		{"idle timeout", &quic.IdleTimeoutError{}, false, true},
		{"other stream error", &http3.Error{ErrorCode: http3.ErrCodeInternalError, Remote: true}, false, false},
		{"other", io.ErrClosedPipe, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(classifyH3("a", tt.err), nil)
			if isConnectFailure(got) != tt.connect {
				t.Errorf("isConnectFailure(%v) = %v, want %v", got, !tt.connect, tt.connect)
			}
			if errors.Is(got, ErrTimeout) != tt.timeout {
				t.Errorf("Is(%v, ErrTimeout) = %v, want %v", got, !tt.timeout, tt.timeout)
			}
		})
	}
}
