package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// gateway returns a gateway document routing to upstream at url.
func gateway(url string, extraRoutes string) string {
	return fmt.Sprintf(`
upstreams:
  - name: demo
    targets: [{url: %q}]
routes:
  - name: all
    upstream: demo
  - name: admin-area
    match: {paths: ["/admin/{rest...}"]}
    upstream: demo
    rewrite: /anything/admin/{rest}
%s`, url, extraRoutes)
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, body io.Reader, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp{res.StatusCode, res.Header, b}
}

func get(t *testing.T, url string, hdr ...string) resp { return do(t, "GET", url, nil, hdr...) }

type problemBody struct {
	Type, Title, Detail string
	Status              int
	RequestID           string `json:"request_id"`
	Errors              []string
	CurrentVersion      int64 `json:"current_version"`
}

func problemOf(t *testing.T, r resp) problemBody {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %s)", ct, r.body)
	}
	var p problemBody
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %q: %v", r.body, err)
	}
	return p
}

func TestProxyThroughDemo(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""))[0]

	if r := get(t, n.URL+"/status/418"); r.status != 418 {
		t.Errorf("GET /status/418 = %d, want 418", r.status)
	}
	r := get(t, n.URL+"/anything/x?a=1", "X-Request-Id", "abc-123")
	if r.status != 200 {
		t.Fatalf("GET /anything/x = %d, want 200", r.status)
	}
	if got := r.header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("X-Request-Id = %q, want the client's abc-123", got)
	}
	var echo struct {
		Path    string
		Headers map[string]any
	}
	if err := json.Unmarshal(r.body, &echo); err != nil {
		t.Fatalf("echo: %v", err)
	}
	if echo.Path != "/anything/x" {
		t.Errorf("upstream saw path %q, want /anything/x", echo.Path)
	}
	if get(t, n.URL+"/status/200").header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id generated")
	}
}

func TestPathTricksDoNotDodgeRoutes(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""))[0]
	for _, path := range []string{"/public/../admin/x", "/admin//x", "/%61dmin/x", "/admin/./x", "/public/%2e%2e/admin/x"} {
		t.Run(path, func(t *testing.T) {
			// Send the raw path: net/http's client would clean some of it.
			r := rawGet(t, n.EdgeAddr(), path)
			if !strings.Contains(r, `"path":"/anything/admin/x"`) && !strings.Contains(r, `"path": "/anything/admin/x"`) {
				t.Errorf("GET %s did not reach the admin-area route; response:\n%s", path, r)
			}
		})
	}
	r := rawGet(t, n.EdgeAddr(), "/a%00b")
	if !strings.HasPrefix(r, "HTTP/1.1 400") || !strings.Contains(r, "bad-path") {
		t.Errorf("GET /a%%00b: want 400 bad-path, got:\n%s", r)
	}
}

// rawGet sends a request line byte for byte and returns the raw response.
func rawGet(t *testing.T, addr, path string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", path)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestGatewayProblems(t *testing.T) {
	up, _ := nodetest.Demo(t)
	doc := fmt.Sprintf(`
upstreams:
  - name: demo
    targets: [{url: %q}]
  - name: dead
    targets: [{url: "http://%s"}]
    retries: {attempts: -1}
  - name: down
    targets: [{url: %q}]
    health:
      active: {path: /status/500, interval: 20ms, unhealthy: 1}
routes:
  - name: only-get
    match: {paths: ["/only-get"], methods: [GET]}
    upstream: demo
  - name: small
    match: {paths: ["/small"]}
    upstream: demo
    rewrite: /anything
    max_body_bytes: 10
  - name: dead
    match: {paths: ["/dead"]}
    upstream: dead
  - name: down
    match: {paths: ["/down"]}
    upstream: down
  - name: slow
    match: {paths: ["/delay/{ms}"]}
    upstream: demo
    timeouts: {response_header: 50ms}
`, up, closedPort(t), up)
	n := nodetest.Start(t, 1, doc)[0]

	tests := []struct {
		name, method, path string
		body               io.Reader
		status             int
		slug               string
	}{
		{"no route", "GET", "/nowhere", nil, 404, "no-route"},
		{"method", "POST", "/only-get", nil, 405, "method-not-allowed"},
		{"declared too large", "POST", "/small", strings.NewReader(strings.Repeat("x", 11)), 413, "body-too-large"},
		{"streamed too large", "POST", "/small", io.MultiReader(strings.NewReader(strings.Repeat("x", 64))), 413, "body-too-large"},
		{"connection refused", "GET", "/dead", nil, 502, "upstream-error"},
		{"response header timeout", "GET", "/delay/5000", nil, 504, "upstream-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, n.URL+tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("%s %s = %d, want %d (%s)", tt.method, tt.path, r.status, tt.status, r.body)
			}
			p := problemOf(t, r)
			if !strings.HasSuffix(p.Type, "#"+tt.slug) || p.Status != tt.status {
				t.Errorf("problem type %q status %d, want #%s %d", p.Type, p.Status, tt.slug, tt.status)
			}
			if p.RequestID == "" || p.RequestID != r.header.Get("X-Request-Id") {
				t.Errorf("problem request_id %q, header %q: want equal and set", p.RequestID, r.header.Get("X-Request-Id"))
			}
			if strings.Contains(string(r.body), "127.0.0.1") || strings.Contains(string(r.body), "dial") {
				t.Errorf("problem leaks internals: %s", r.body)
			}
		})
	}
	t.Run("405 lists Allow", func(t *testing.T) {
		if got := do(t, "DELETE", n.URL+"/only-get", nil).header.Get("Allow"); !strings.Contains(got, "GET") {
			t.Errorf("Allow = %q, want GET in it", got)
		}
	})
	t.Run("no healthy target", func(t *testing.T) {
		waitFor(t, 10*time.Second, func() bool { return get(t, n.URL+"/down").status == 503 })
		if p := problemOf(t, get(t, n.URL+"/down")); !strings.HasSuffix(p.Type, "#no-healthy-upstream") {
			t.Errorf("type %q, want #no-healthy-upstream", p.Type)
		}
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var _ = bytes.NewReader
var _ = os.ReadFile
var _ = context.Background
var _ = config.Errors{}
var _ node.Config
