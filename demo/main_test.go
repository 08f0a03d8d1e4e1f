package demo_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/demo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start serves a demo Server on a loopback listener until the test ends.
func start(t *testing.T, o demo.Options) (*demo.Server, *httptest.Server) {
	t.Helper()
	s := demo.New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	// Registered last, so it runs first: ending streams lets ts.Close
	// return.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, ts
}

// request is one HTTP exchange for do.
type request struct {
	method string
	path   string
	body   io.Reader
	header http.Header
}

// do performs req against ts and returns the response with its body read.
func do(t *testing.T, ts *httptest.Server, req request) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if req.method == "" {
		req.method = http.MethodGet
	}
	r, err := http.NewRequestWithContext(ctx, req.method, ts.URL+req.path, req.body)
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	for k, vs := range req.header {
		r.Header[k] = vs
	}
	c := ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body of %s %s: %v", req.method, req.path, err)
	}
	return resp, body
}

func get(t *testing.T, ts *httptest.Server, path string) (*http.Response, []byte) {
	t.Helper()
	return do(t, ts, request{path: path})
}

// wantProblem checks a problem+json answer with the given status whose
// detail mentions mention.
func wantProblem(t *testing.T, resp *http.Response, body []byte, status int, mention string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", got)
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Status != status || !strings.Contains(p.Detail, mention) {
		t.Errorf("problem = %+v, want status %d and a detail mentioning %q", p, status, mention)
	}
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gate is an Options.Pause that holds each pause until the test lets it
// go, and reports the durations asked for.
type gate struct {
	calls   chan time.Duration
	release chan struct{}
}

func newGate() *gate {
	return &gate{calls: make(chan time.Duration), release: make(chan struct{})}
}

func (g *gate) pause(ctx context.Context, d time.Duration) error {
	select {
	case g.calls <- d:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next waits for the server to pause and returns the duration it asked.
func (g *gate) next(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-g.calls:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the server to pause")
		return 0
	}
}
