package proxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/config"
)

func TestRetry_OnlyIdempotentMethods(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		body     string
		getBody  bool
		wantCode int
		wantHits int64 // upstream hits in total
	}{
		{name: "GET retried", method: "GET", wantCode: 200, wantHits: 2},
		{name: "HEAD retried", method: "HEAD", wantCode: 200, wantHits: 2},
		{name: "DELETE retried", method: "DELETE", wantCode: 200, wantHits: 2},
		{name: "PUT without body retried", method: "PUT", wantCode: 200, wantHits: 2},
		{name: "PUT with streamed body not retried", method: "PUT", body: "data", wantCode: 503, wantHits: 1},
		{name: "POST never retried", method: "POST", wantCode: 503, wantHits: 1},
		{name: "POST with body never retried", method: "POST", body: "data", wantCode: 503, wantHits: 1},
		{name: "PATCH never retried", method: "PATCH", wantCode: 503, wantHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := newBackend(t, "bad", status(http.StatusServiceUnavailable))
			good := newBackend(t, "good", nil)
			cfg := upstreamConfig(bad.url(), good.url())
			cfg.Retries.Attempts, cfg.Retries.On = 2, on5xx
			up := newTestUpstream(t, cfg, Options{})
			g := newGateway(t, route("pool"), up, HandlerOptions{})
			var body io.Reader
			if tt.body != "" {
				// An io.Reader the client cannot rewind: sent chunked, and the
				// server side has no GetBody.
				body = io.MultiReader(strings.NewReader(tt.body))
			}
			req, _ := http.NewRequest(tt.method, g.srv.URL+"/x", body)
			// Round robin starts at the bad target.
			resp, err := g.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if got := bad.hits.Load() + good.hits.Load(); got != tt.wantHits {
				t.Errorf("upstream hits = %d, want %d (%s)", got, tt.wantHits, hitsOf(bad, good))
			}
			if bad.hits.Load() != 1 {
				t.Errorf("bad target hits = %d, want 1", bad.hits.Load())
			}
		})
	}
}

func TestRetry_ReplayableBody(t *testing.T) {
	bad := newBackend(t, "bad", status(http.StatusBadGateway))
	got := make(chan string, 2)
	good := newBackend(t, "good", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	})
	cfg := upstreamConfig(bad.url(), good.url())
	cfg.Retries.Attempts, cfg.Retries.On = 1, on5xx
	up := newTestUpstream(t, cfg, Options{})
	h, err := NewHandler(route("pool"), up, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// An earlier stage that buffered the body offers GetBody.
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		h.ServeHTTP(w, r)
	})
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	g.srv.Config.Handler = front
	req, _ := http.NewRequest("PUT", g.srv.URL+"/", strings.NewReader("payload"))
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if b := <-got; b != "payload" {
		t.Errorf("retried body = %q, want %q", b, "payload")
	}
}

func TestRetry_NeverSameTargetTwice(t *testing.T) {
	bs := []*backend{
		newBackend(t, "a", status(http.StatusServiceUnavailable)),
		newBackend(t, "b", status(http.StatusGatewayTimeout)),
		newBackend(t, "c", status(http.StatusBadGateway)),
	}
	cfg := upstreamConfig(bs[0].url(), bs[1].url(), bs[2].url())
	cfg.Retries.Attempts, cfg.Retries.On = 5, on5xx
	ev := &attempts{}
	up := newTestUpstream(t, cfg, Options{Events: ev})
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	code, _, _ := g.do(t, "GET", "/", nil)
	for _, b := range bs {
		if n := b.hits.Load(); n != 1 {
			t.Errorf("%s hits = %d, want 1 (%s)", b.name, n, hitsOf(bs...))
		}
	}
	list := ev.list()
	if len(list) != 3 {
		t.Fatalf("attempts = %d, want 3", len(list))
	}
	seen := map[string]bool{}
	for i, a := range list {
		if a.Retry != (i > 0) {
			t.Errorf("attempt %d Retry = %v, want %v", i, a.Retry, i > 0)
		}
		if seen[a.Target] {
			t.Errorf("attempt %d went to %s again", i, a.Target)
		}
		seen[a.Target] = true
	}
	if last := list[len(list)-1].Status; code != last {
		t.Errorf("status = %d, want the last try's %d", code, last)
	}
}

func TestRetry_OnConnectFailure(t *testing.T) {
	// A port nobody listens on: the dial is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	// A target that resets the connection before any response byte.
	reset := newBackend(t, "reset", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	})
	tests := []struct {
		name   string
		target string
		on     []string
		want   int
	}{
		{"dial refused", dead, nil, 200},
		{"reset before response", reset.url(), []string{"connect"}, 200},
		{"dial refused, only 5xx retried", dead, []string{"5xx"}, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := newBackend(t, "good", nil)
			cfg := upstreamConfig(tt.target, good.url())
			cfg.Retries.Attempts, cfg.Retries.On = 1, tt.on
			up := newTestUpstream(t, cfg, Options{})
			g := newGateway(t, route("pool"), up, HandlerOptions{})
			code, _, _ := g.do(t, "GET", "/", nil)
			if code != tt.want {
				t.Errorf("status = %d, want %d (last error %v)", code, tt.want, g.errs.last())
			}
		})
	}
}

func TestRetry_5xxNotRetriedWhenOnlyConnect(t *testing.T) {
	bad := newBackend(t, "bad", status(http.StatusServiceUnavailable))
	good := newBackend(t, "good", nil)
	cfg := upstreamConfig(bad.url(), good.url())
	cfg.Retries.Attempts, cfg.Retries.On = 2, []string{"connect"}
	up := newTestUpstream(t, cfg, Options{})
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	if code, _, _ := g.do(t, "GET", "/", nil); code != 503 {
		t.Errorf("status = %d, want 503", code)
	}
	if good.hits.Load() != 0 {
		t.Errorf("good target hits = %d, want 0", good.hits.Load())
	}
}

// on5xx opts in to retrying 5xx answers (the default retries connect
// failures only).
var on5xx = []string{"connect", "5xx"}

func TestRetry_LoneTargetRetriesItself(t *testing.T) {
	b := newBackend(t, "a", nil)
	b.set(func(w http.ResponseWriter, r *http.Request) {
		if b.hits.Load() == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	cfg := upstreamConfig(b.url())
	cfg.Retries.Attempts, cfg.Retries.On = 1, on5xx
	up := newTestUpstream(t, cfg, Options{})
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	if code, _, _ := g.do(t, "GET", "/", nil); code != 200 {
		t.Errorf("status = %d, want 200 after a retry on the lone target", code)
	}
	if b.hits.Load() != 2 {
		t.Errorf("hits = %d, want 2", b.hits.Load())
	}
}

func TestRetry_BudgetCapsRetries(t *testing.T) {
	tests := []struct {
		name   string
		budget float64
		want   int64 // retries after 200 requests that all fail once
	}{
		// ratio*requests + 3/s*10s: the 200th request may bring retries to
		// at most 0.1*200+30 = 50.
		{"budget 0.1", 0.1, 50},
		{"budget 1 lets every request retry", 1, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newBackend(t, "a", status(http.StatusServiceUnavailable))
			b := newBackend(t, "b", status(http.StatusServiceUnavailable))
			cfg := upstreamConfig(a.url(), b.url())
			cfg.Retries = config.Retries{Attempts: 1, Budget: tt.budget, Backoff: config.Duration(time.Microsecond), On: on5xx}
			clock := newFakeClock() // frozen: every request is recent
			up := newTestUpstream(t, cfg, Options{Now: clock.Now, Rand: func() uint64 { return 0 }})
			g := newGateway(t, route("pool"), up, HandlerOptions{})
			const requests = 200
			for range requests {
				g.do(t, "GET", "/", nil)
			}
			retries := a.hits.Load() + b.hits.Load() - requests
			if retries != tt.want {
				t.Errorf("retries = %d, want %d", retries, tt.want)
			}
		})
	}
}

func TestRetryPolicy_Delay(t *testing.T) {
	p := retryPolicy{backoff: 10 * time.Millisecond}
	tests := []struct {
		n        int
		rnd      uint64
		min, max time.Duration
	}{
		{1, 0, 5 * time.Millisecond, 5 * time.Millisecond},
		{1, 1 << 62, 5 * time.Millisecond, 10 * time.Millisecond},
		{2, 0, 10 * time.Millisecond, 10 * time.Millisecond},
		{3, 99, 20 * time.Millisecond, 40 * time.Millisecond},
		{50, 0, 320 * time.Millisecond, 320 * time.Millisecond}, // capped
	}
	for _, tt := range tests {
		got := p.delay(tt.n, tt.rnd)
		if got < tt.min || got > tt.max {
			t.Errorf("delay(%d, %d) = %v, want in [%v, %v]", tt.n, tt.rnd, got, tt.min, tt.max)
		}
	}
}
