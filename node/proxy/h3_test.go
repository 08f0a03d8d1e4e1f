package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portico-gw/portico/node/config"
)

// h3Upstream is an h3 upstream of targets, trusting the test certificate.
func h3Upstream(t *testing.T, mutate func(*config.Upstream), o Options, targets ...string) *Upstream {
	t.Helper()
	cfg := upstreamConfig(targets...)
	cfg.Protocol = "h3"
	if mutate != nil {
		mutate(&cfg)
	}
	o.TLSClientConfig = testTLS(t)
	return newTestUpstream(t, cfg, o)
}

// testTLS is a client config trusting httptest's certificate.
func testTLS(t *testing.T) *tls.Config {
	t.Helper()
	return startServer(t, tlsH1, http.NotFoundHandler()).tls
}

func TestH3_TargetDownFailsOver(t *testing.T) {
	tests := []struct {
		name          string
		method        string
		upstream, rte config.Duration // connect timeouts
		healthy       bool            // a healthy target besides the dead one
		wantCode      int
	}{
		{name: "alone: connect timeout", method: "GET", upstream: ms(100), wantCode: 504},
		{name: "fails over to a healthy target", method: "GET", upstream: ms(100), healthy: true, wantCode: 200},
		{name: "route's connect timeout", method: "GET", upstream: ms(10_000), rte: ms(100), healthy: true, wantCode: 200},
		{name: "POST is not retried", method: "POST", upstream: ms(100), healthy: true, wantCode: 504},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dead := deadUDPTarget(t)
			targets := []string{dead}
			var good *server
			if tt.healthy {
				// First in round robin, so that a warm-up request connects
				// to it before the short connect timeout applies.
				good = startServer(t, quicH3, echoProto("good"))
				targets = []string{good.url, dead}
			}
			ev := &attempts{}
			up := h3Upstream(t, func(c *config.Upstream) {
				c.Timeouts.Connect = tt.upstream
				c.Retries.Attempts = 1
				c.Health.Passive = config.PassiveHealth{Failures: 1, Cooldown: ms(60_000)}
				c.CircuitBreaker = config.CircuitBreaker{ErrorRatio: 0.5, MinRequests: 1}
			}, Options{Events: ev}, targets...)
			if tt.healthy {
				rt := route("pool")
				rt.Timeouts.Connect = ms(10_000)
				warm := newGateway(t, rt, up, HandlerOptions{})
				if code, from, _ := warm.do(t, "GET", "/", nil); code != 200 || from != "good" {
					t.Fatalf("warm-up: %d from %q (last error %v)", code, from, warm.errs.last())
				}
			}
			// The response-header timer of a GET also runs during the
			// dial: were the handshake not cut at the connect timeout, it
			// would end the try first, and say so.
			rt := route("pool")
			rt.Timeouts.Connect = tt.rte
			rt.Timeouts.ResponseHeader = ms(3_000)
			g := newGateway(t, rt, up, HandlerOptions{})
			before := len(ev.list())
			code, from, _ := g.do(t, tt.method, "/", nil)
			if code != tt.wantCode {
				t.Fatalf("status = %d, want %d (last error %v)", code, tt.wantCode, g.errs.last())
			}
			list := ev.list()[before:]
			if len(list) == 0 {
				t.Fatal("no attempt reported")
			}
			err := list[0].Err
			var ce *connectError
			if list[0].Target != dead || !errors.As(err, &ce) || !errors.Is(err, ErrTimeout) ||
				!strings.Contains(err.Error(), "connecting after 100ms") {
				t.Errorf("first try on %s: error %v; want a connect timeout after 100ms on %s", list[0].Target, err, dead)
			}
			if tt.wantCode == 200 {
				if from != "good" || len(list) != 2 || list[1].Err != nil || !list[1].Retry {
					t.Errorf("served by %q after attempts %+v, want a retry on the healthy target", from, list)
				}
			}
			if tt.method == "POST" && len(list) != 1 {
				t.Errorf("a POST was tried %d times, want once", len(list))
			}
			// The failure reached passive health and the breaker; a lone
			// target is never ejected (it stays the one tried).
			st := up.Targets()[len(targets)-1]
			if ejected := !st.EjectedUntil.IsZero(); ejected != tt.healthy || st.Breaker != BreakerOpen {
				t.Errorf("dead target: ejected until %v, breaker %s; want ejected %v and open", st.EjectedUntil, st.Breaker, tt.healthy)
			}
		})
	}
}

func TestH3_ResponseHeaderTimeout(t *testing.T) {
	h, arrived, release := blocking(nil)
	defer close(release)
	srv := startServer(t, quicH3, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/warm" {
			h(w, r)
		}
	}))
	up := h3Upstream(t, nil, Options{}, srv.url)
	// The header timer of a GET also covers the dial: warm the connection
	// through a route with the default timeout, so that the short one
	// times the target's silence, not a handshake on a busy machine.
	warm := newGateway(t, route("pool"), up, HandlerOptions{})
	if code, _, _ := warm.do(t, "GET", "/warm", nil); code != 200 {
		t.Fatalf("warm-up status %d (last error %v)", code, warm.errs.last())
	}
	rt := route("pool")
	rt.Timeouts.ResponseHeader = ms(50)
	g := newGateway(t, rt, up, HandlerOptions{})
	if code, _, _ := g.do(t, "GET", "/slow", nil); code != 504 {
		t.Fatalf("status = %d, want 504 (last error %v)", code, g.errs.last())
	}
	<-arrived
	err := g.errs.last()
	if !errors.Is(err, ErrTimeout) || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "response headers") {
		t.Errorf("error %v: want a response-header timeout", err)
	}
	waitFor(t, "in-flight to drop", func() bool { return up.Targets()[0].InFlight == 0 })
}

func TestH3_TotalTimeoutCutsStream(t *testing.T) {
	h, _, release := blocking(func(w http.ResponseWriter) {
		io.WriteString(w, "first chunk ")
		http.NewResponseController(w).Flush()
	})
	defer close(release)
	srv := startServer(t, quicH3, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/warm" {
			h(w, r)
		}
	}))
	up := h3Upstream(t, nil, Options{}, srv.url)
	warm := newGateway(t, route("pool"), up, HandlerOptions{}) // as in TestH3_ResponseHeaderTimeout
	if code, _, _ := warm.do(t, "GET", "/warm", nil); code != 200 {
		t.Fatalf("warm-up status %d (last error %v)", code, warm.errs.last())
	}
	rt := route("pool")
	rt.Timeouts.Total = ms(300)
	g := newGateway(t, rt, up, HandlerOptions{})
	resp, err := g.client.Get(g.srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "first chunk " || err == nil {
		t.Errorf("got %d %q, read error %v; want 200, the first chunk, then the stream cut", resp.StatusCode, body, err)
	}
	waitFor(t, "in-flight to drop", func() bool { return up.Targets()[0].InFlight == 0 })
}

func TestH3_ActiveHealth(t *testing.T) {
	var health atomic.Int64
	health.Store(http.StatusOK)
	var probesOverH3 atomic.Int64
	a := startServer(t, quicH3, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if r.ProtoMajor == 3 {
				probesOverH3.Add(1)
			}
			w.WriteHeader(int(health.Load()))
			return
		}
		echoProto("a")(w, r)
	}))
	b := startServer(t, quicH3, echoProto("b"))
	up := h3Upstream(t, func(c *config.Upstream) {
		c.Health.Active = config.ActiveHealth{Path: "/healthz", Interval: ms(5), Timeout: ms(5_000), Healthy: 2, Unhealthy: 2}
	}, Options{}, a.url, b.url)
	up.Start()
	waitFor(t, "a probe over HTTP/3", func() bool { return probesOverH3.Load() > 0 })

	health.Store(http.StatusServiceUnavailable)
	waitFor(t, "a to turn unhealthy", func() bool { return !up.Targets()[0].Healthy })
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	for range 4 {
		if _, name, _ := g.do(t, "GET", "/", nil); name != "b" {
			t.Fatalf("request went to %q while a is down", name)
		}
	}
	health.Store(http.StatusNoContent)
	waitFor(t, "a to come back", func() bool { return up.Targets()[0].Healthy })
	seen := map[string]bool{}
	for range 4 {
		_, name, _ := g.do(t, "GET", "/", nil)
		seen[name] = true
	}
	if !seen["a"] {
		t.Error("a got no traffic after coming back")
	}
}

func TestH3_ReusesOneConnectionPerTarget(t *testing.T) {
	srv := startServer(t, quicH3, echoProto("a"))
	up := h3Upstream(t, nil, Options{}, srv.url)
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range 8 { // concurrent first requests share one dial
		wg.Go(func() {
			resp, err := g.client.Get(g.srv.URL + "/")
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("status %d, want 200 (last error %v)", c, g.errs.last())
		}
	}
	for range 4 {
		g.do(t, "GET", "/", nil)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("the target accepted %d QUIC connections for 12 requests, want 1", n)
	}
}

func TestH3_CloseLetsTriesFinish(t *testing.T) {
	release := make(chan struct{})
	srv := startServer(t, quicH3, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
			io.WriteString(w, "rest")
		case <-r.Context().Done():
		}
	}))
	up := h3Upstream(t, nil, Options{}, srv.url)
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	resp, err := g.client.Get(g.srv.URL + "/")
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); line != "first\n" {
		close(release)
		t.Fatalf("first line %q, %v", line, err)
	}
	if err := up.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if h3Shut(up) {
		t.Error("Close shut the QUIC socket while a response was streaming")
	}
	close(release)
	if rest, err := io.ReadAll(br); string(rest) != "rest" || err != nil {
		t.Errorf("rest of the body = %q, %v; want %q", rest, err, "rest")
	}
	resp.Body.Close()
	waitFor(t, "the socket to close after the last try", func() bool { return h3Shut(up) })
	if code, _, _ := g.do(t, "GET", "/", nil); code != 502 {
		t.Errorf("status after Close = %d, want 502", code)
	}
	var ce *connectError
	if err := g.errs.last(); !errors.As(err, &ce) {
		t.Errorf("error after Close %v, want a connect error", err)
	}
}

func h3Shut(u *Upstream) bool {
	u.h3.mu.Lock()
	defer u.h3.mu.Unlock()
	return u.h3.closed
}
