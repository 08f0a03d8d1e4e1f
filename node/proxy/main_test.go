package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portico-gw/portico/node/config"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// backend is a test upstream: it counts hits, names itself in the
// X-Backend response header and runs fn (if any) for the response.
type backend struct {
	name string
	hits atomic.Int64
	srv  *httptest.Server
	fn   atomic.Pointer[http.HandlerFunc]
}

func newBackend(t *testing.T, name string, fn http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	b.set(fn)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		w.Header().Set("X-Backend", b.name)
		if fn := b.fn.Load(); fn != nil && *fn != nil {
			(*fn)(w, r)
			return
		}
		io.WriteString(w, "ok "+b.name)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// set replaces the backend's behaviour (nil: answer 200 "ok NAME").
func (b *backend) set(fn http.HandlerFunc) { b.fn.Store(&fn) }

func (b *backend) url() string { return b.srv.URL }

// status returns a handler answering code.
func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
}

// upstreamConfig is a config for targets with retries, passive health and
// backoff turned down so tests stay quick and deterministic.
func upstreamConfig(targets ...string) config.Upstream {
	c := config.Upstream{Name: "pool"}
	for _, u := range targets {
		c.Targets = append(c.Targets, config.Target{URL: u})
	}
	c.Retries = config.Retries{Attempts: -1, Backoff: config.Duration(time.Millisecond)}
	c.Health.Passive.Failures = -1
	return c
}

func newTestUpstream(t *testing.T, cfg config.Upstream, o Options) *Upstream {
	t.Helper()
	u, err := NewUpstream(cfg, o)
	if err != nil {
		t.Fatalf("NewUpstream: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := u.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return u
}

// errorLog records the errors a Handler hands its ErrorHandler and
// answers with the status node would choose.
type errorLog struct {
	mu   sync.Mutex
	errs []error
	ch   chan error
}

func newErrorLog() *errorLog { return &errorLog{ch: make(chan error, 100)} }

func (l *errorLog) handle(w http.ResponseWriter, r *http.Request, err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
	l.ch <- err
	w.WriteHeader(statusFor(err))
}

func (l *errorLog) last() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs[len(l.errs)-1]
}

// statusFor is node's mapping from the package comment.
func statusFor(err error) int {
	switch {
	case errors.Is(err, ErrNoHealthyTarget):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusBadGateway
}

// gateway serves a Handler for route on up over a real listener.
type gateway struct {
	h      *Handler
	srv    *httptest.Server
	client *http.Client
	errs   *errorLog
}

func newGateway(t *testing.T, route config.Route, up *Upstream, o HandlerOptions) *gateway {
	t.Helper()
	g := &gateway{errs: newErrorLog()}
	if o.ErrorHandler == nil {
		o.ErrorHandler = g.errs.handle
	}
	h, err := NewHandler(route, up, o)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	g.h = h
	g.srv = httptest.NewServer(h)
	t.Cleanup(g.srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	g.client = &http.Client{Transport: tr}
	return g
}

// do sends a request through the gateway and returns status, the
// X-Backend header and the body.
func (g *gateway) do(t *testing.T, method, path string, hdr http.Header) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Backend"), string(body)
}

// fakeClock is an injectable clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// attempts records Events.
type attempts struct {
	mu  sync.Mutex
	all []Attempt
}

func (a *attempts) Attempt(_ *http.Request, at Attempt) {
	a.mu.Lock()
	a.all = append(a.all, at)
	a.mu.Unlock()
}

func (a *attempts) list() []Attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Attempt(nil), a.all...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func route(up string) config.Route { return config.Route{Name: "r", Upstream: up} }

func weight(w int) *int { return &w }

func hitsOf(bs ...*backend) string {
	s := ""
	for _, b := range bs {
		s += fmt.Sprintf("%s=%d ", b.name, b.hits.Load())
	}
	return s
}
