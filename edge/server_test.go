package edge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/edge"
)

// blocking is a handler that signals when a request arrives and answers
// "done" only once the test releases it.
type blocking struct {
	entered chan struct{}
	release chan struct{}
}

func newBlocking() *blocking {
	return &blocking{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	b.entered <- struct{}{}
	<-b.release
	_, _ = io.WriteString(w, "done")
}

func (b *blocking) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-b.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the handler")
	}
}

type result struct {
	body string
	err  error
}

// getAsync GETs url on its own goroutine.
func getAsync(c *http.Client, url string) <-chan result {
	out := make(chan result, 1)
	go func() {
		resp, err := c.Get(url)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		out <- result{string(body), err}
	}()
	return out
}

func TestShutdown_DrainsInFlightRequest(t *testing.T) {
	h := newBlocking()
	sv := serve(t, edge.Config{Handler: h})
	got := getAsync(newClient(t), "http://"+sv.addr+"/")
	h.waitEntered(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- sv.Shutdown(ctx) }()

	// Serve returns as soon as the listener is closed, while the request
	// is still held in the handler.
	sv.waitServe(t)
	if c, err := net.Dial("tcp", sv.addr); err == nil {
		c.Close()
		t.Error("a new connection was accepted after Shutdown began")
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}

	close(h.release)
	if r := <-got; r.err != nil || r.body != "done" {
		t.Errorf("in-flight request = %q, %v; want done, nil", r.body, r.err)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
}

func TestShutdown_ContextEndsClosesTheRest(t *testing.T) {
	h := newBlocking()
	sv := serve(t, edge.Config{Handler: h})
	got := getAsync(newClient(t), "http://"+sv.addr+"/")
	h.waitEntered(t)
	defer close(h.release) // the handler outlives its connection

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	if r := <-got; r.err == nil {
		t.Errorf("in-flight request = %q, nil; want an error from its closed connection", r.body)
	}
	sv.waitServe(t)
}

func TestShutdown_Idempotent(t *testing.T) {
	sv := serve(t, edge.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if err := sv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown #%d = %v, want nil", i+1, err)
		}
	}
	sv.waitServe(t)
}

func TestShutdown_BeforeServe(t *testing.T) {
	s, err := edge.New(edge.Config{Handler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown = %v, want nil", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err != nil {
		t.Errorf("Serve after Shutdown = %v, want nil", err)
	}
	if got, want := s.Addr(), ln.Addr(); got == nil || got.String() != want.String() {
		t.Errorf("Addr() = %v, want %v", got, want)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts after Serve returned")
	}
}

// stateLog records the states Config.ConnState was told about.
type stateLog struct {
	mu   sync.Mutex
	seen map[http.ConnState]int
}

func (l *stateLog) record(_ net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[s]++
}

func (l *stateLog) count(s http.ConnState) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[s]
}

func TestOpenConns(t *testing.T) {
	states := &stateLog{seen: map[http.ConnState]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, _ *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	})
	sv := serve(t, edge.Config{Handler: mux, ConnState: states.record})
	open := func(want int64) func() bool {
		return func() bool { return sv.OpenConns() == want }
	}

	var raw []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", sv.addr)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, c)
	}
	waitFor(t, "3 open connections", open(3))
	for _, c := range raw {
		c.Close()
	}
	waitFor(t, "0 open connections after closing them", open(0))

	client := newClient(t)
	if r := <-getAsync(client, "http://"+sv.addr+"/"); r.err != nil {
		t.Fatal(r.err)
	}
	waitFor(t, "the idle keep-alive connection to count", open(1))
	client.CloseIdleConnections()
	waitFor(t, "0 open connections after the client closed", open(0))

	if r := <-getAsync(newClient(t), "http://"+sv.addr+"/hijack"); r.err == nil {
		t.Error("GET /hijack succeeded, want an error (the handler closed the connection)")
	}
	waitFor(t, "0 open connections after a hijack", open(0))

	for _, s := range []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateClosed, http.StateHijacked} {
		if states.count(s) == 0 {
			t.Errorf("Config.ConnState never saw %v", s)
		}
	}
}

// exchange writes raw to a new connection to sv and returns everything
// the server sends until it closes the connection. The read fails the
// test if the server keeps the connection open for 10s.
func exchange(t *testing.T, sv *served, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", sv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the server did not close the connection: %v (read %q)", err, got)
	}
	return string(got)
}

// TestConnectionTimeouts: the server, not the client's deadline, ends
// connections that are slow to send headers or stay idle.
func TestConnectionTimeouts(t *testing.T) {
	tests := []struct {
		name       string
		cfg        edge.Config
		send       string
		wantPrefix string
	}{
		{
			name:       "headers never finished",
			cfg:        edge.Config{ReadHeaderTimeout: 100 * time.Millisecond},
			send:       "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ",
			wantPrefix: "", // closed without an answer
		},
		{
			name:       "idle keep-alive connection",
			cfg:        edge.Config{IdleTimeout: 100 * time.Millisecond},
			send:       "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			wantPrefix: "HTTP/1.1 200 OK\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sv := serve(t, tt.cfg)
			got := exchange(t, sv, tt.send)
			if !strings.HasPrefix(got, tt.wantPrefix) || (tt.wantPrefix == "" && got != "") {
				t.Errorf("server sent %q, want %q then a close", got, tt.wantPrefix)
			}
		})
	}
}

func TestMalformedRequests(t *testing.T) {
	sv := serve(t, edge.Config{MaxHeaderBytes: 1024})
	tests := []struct {
		name, send, wantPrefix string
	}{
		{"well formed (control)", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"garbage request line", "NONSENSE\r\n\r\n", "HTTP/1.1 400 "},
		{"no host", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
		{"header without colon", "GET / HTTP/1.1\r\nHost: x\r\nnot a header\r\n\r\n", "HTTP/1.1 400 "},
		{"headers too big", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n", "HTTP/1.1 431 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exchange(t, sv, tt.send); !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("server sent %q, want it to start with %q", got, tt.wantPrefix)
			}
		})
	}
}

// levelRecorder is a slog.Handler that keeps the records at or above min.
type levelRecorder struct {
	min  slog.Level
	mu   sync.Mutex
	msgs []string
	lvls []slog.Level
}

func (r *levelRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.min }
func (r *levelRecorder) WithAttrs([]slog.Attr) slog.Handler           { return r }
func (r *levelRecorder) WithGroup(string) slog.Handler                { return r }
func (r *levelRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	r.lvls = append(r.lvls, rec.Level)
	return nil
}

// has reports whether a record's message contains msg.
func (r *levelRecorder) has(msg string) bool {
	for _, m := range r.messages() {
		if strings.Contains(m, msg) {
			return true
		}
	}
	return false
}

// messages returns a copy of the recorded messages.
func (r *levelRecorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// TestErrorLog: net/http's complaints reach the slog logger at debug
// level only, so a logger at info stays quiet.
func TestErrorLog(t *testing.T) {
	tests := []struct {
		name       string
		min        slog.Level
		wantLogged bool
	}{
		{"debug logger sees it", slog.LevelDebug, true},
		{"info logger stays quiet", slog.LevelInfo, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &levelRecorder{min: tt.min}
			// A second WriteHeader makes net/http log "superfluous
			// response.WriteHeader call" while the handler runs, so the
			// record exists before the client has its answer.
			twice := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				w.WriteHeader(http.StatusOK)
			})
			sv := serve(t, edge.Config{Handler: twice, ErrorLog: slog.New(rec)})
			if r := <-getAsync(newClient(t), "http://"+sv.addr+"/"); r.err != nil {
				t.Fatal(r.err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if logged := len(rec.msgs) > 0; logged != tt.wantLogged {
				t.Fatalf("records = %q, want logged = %v", rec.msgs, tt.wantLogged)
			}
			for i, m := range rec.msgs {
				if !strings.Contains(m, "superfluous") || rec.lvls[i] != slog.LevelDebug {
					t.Errorf("record %q at %v, want the superfluous WriteHeader message at DEBUG", m, rec.lvls[i])
				}
			}
		})
	}
}

// echo answers with what it saw of the request, the same way whatever
// the protocol, and records the HTTP major versions it served.
type echo struct {
	mu     sync.Mutex
	majors []int
}

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.majors = append(e.majors, r.ProtoMajor)
	e.mu.Unlock()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Echo", r.Method+" "+r.URL.Path)
	w.Header().Set("X-TLS", fmt.Sprint(r.TLS != nil))
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, "%s %s %q", r.Method, r.URL.RequestURI(), body)
}

func (e *echo) last() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.majors) == 0 {
		return 0
	}
	return e.majors[len(e.majors)-1]
}

// answer is what a client saw of a response.
type answer struct {
	status       int
	echo, isTLS  string
	body         string
	protoMajor   int
	handlerMajor int
}

func post(t *testing.T, c *http.Client, url string, h *echo) answer {
	t.Helper()
	resp, err := c.Post(url, "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("X-Echo"), resp.Header.Get("X-TLS"), string(body), resp.ProtoMajor, h.last()}
}

// TestProtocols: one handler answers identically over HTTP/1.1 and
// HTTP/2, over TLS (ALPN) and cleartext (h2c prior knowledge, when on).
func TestProtocols(t *testing.T) {
	h := &echo{}
	tlsServer, pool := serveTLS(t, edge.Config{Handler: h})
	h2cServer := serve(t, edge.Config{Handler: h, H2C: true})
	h1Server := serve(t, edge.Config{Handler: h})
	tests := []struct {
		name   string
		url    string
		client *http.Client
		major  int
		isTLS  string
	}{
		{"h1 over TLS", "https://localhost:" + port(tlsServer) + "/p?q=1", newTLSClient(t, pool, "h1"), 1, "true"},
		{"h2 over TLS", "https://localhost:" + port(tlsServer) + "/p?q=1", newTLSClient(t, pool, "h2"), 2, "true"},
		{"h2c with prior knowledge", "http://" + h2cServer.addr + "/p?q=1", newH2CClient(t), 2, "false"},
		{"h1 on an h2c server", "http://" + h2cServer.addr + "/p?q=1", newClient(t), 1, "false"},
		{"h1 cleartext", "http://" + h1Server.addr + "/p?q=1", newClient(t), 1, "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := answer{http.StatusCreated, "POST /p", tt.isTLS, `POST /p?q=1 "hello"`, tt.major, tt.major}
			if got := post(t, tt.client, tt.url, h); got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}

	t.Run("h2c refused when off", func(t *testing.T) {
		if resp, err := newH2CClient(t).Get("http://" + h1Server.addr + "/"); err == nil {
			resp.Body.Close()
			t.Errorf("h2c request to a server without H2C = %s, want an error", resp.Status)
		}
	})
}

func port(sv *served) string {
	_, p, _ := net.SplitHostPort(sv.addr)
	return p
}

// newH2CClient returns a client speaking HTTP/2 over cleartext with
// prior knowledge.
func newH2CClient(t testing.TB) *http.Client {
	tr := &http.Transport{Protocols: protocols(t, "h2c")}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestShutdown_DrainsHTTP2: an HTTP/2 request in flight finishes before
// Shutdown returns.
func TestShutdown_DrainsHTTP2(t *testing.T) {
	h := newBlocking()
	sv, pool := serveTLS(t, edge.Config{Handler: h})
	c := newTLSClient(t, pool, "h2")
	url := "https://localhost:" + port(sv) + "/"
	got := make(chan answer, 1)
	go func() {
		resp, err := c.Get(url)
		if err != nil {
			got <- answer{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		got <- answer{status: resp.StatusCode, body: string(body), protoMajor: resp.ProtoMajor}
	}()
	h.waitEntered(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- sv.Shutdown(ctx) }()
	sv.waitServe(t)
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with an HTTP/2 request in flight", err)
	default:
	}
	close(h.release)
	if r := <-got; r.status != http.StatusOK || r.body != "done" || r.protoMajor != 2 {
		t.Errorf("in-flight HTTP/2 request = %+v, want 200 done over HTTP/2", r)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if n := sv.OpenConns(); n != 0 {
		t.Errorf("OpenConns after Shutdown = %d, want 0", n)
	}
}
