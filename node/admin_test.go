package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

func withToken(tok string) func(*node.Config) {
	return func(c *node.Config) {
		c.Override = func(f *config.File) { f.Node.Admin.Token = tok }
	}
}

func TestAdminAuthAndRedaction(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""), withToken("s3cret-token"))[0]

	for _, path := range []string{"/health", "/ready"} {
		if r := get(t, n.AdminURL+path); r.status != 200 {
			t.Errorf("GET %s without token = %d, want 200", path, r.status)
		}
	}
	for _, path := range []string{"/config", "/metrics"} {
		r := get(t, n.AdminURL+path)
		if r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s without token = %d, want 401 with WWW-Authenticate", path, r.status)
		}
		if r := get(t, n.AdminURL+path, "Authorization", "Bearer wrong"); r.status != 401 {
			t.Errorf("GET %s with a wrong token = %d, want 401", path, r.status)
		}
	}
	r := get(t, n.AdminURL+"/config", "Authorization", "Bearer s3cret-token")
	if r.status != 200 {
		t.Fatalf("GET /config = %d (%s)", r.status, r.body)
	}
	if bytes.Contains(r.body, []byte("s3cret-token")) || !bytes.Contains(r.body, []byte("REDACTED")) {
		t.Errorf("GET /config must redact the token:\n%s", r.body)
	}
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag = %q, want \"1\"", r.header.Get("ETag"))
	}
}

func TestAdminRefusesPublicAddressWithoutToken(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/portico.yaml"
	nodetest.WriteConfig(t, file, "x", dir, "upstreams: [{name: a, targets: [{url: \"http://127.0.0.1:1\"}]}]\nroutes: [{name: r, upstream: a}]\n")
	_, err := node.New(node.Config{File: file, Override: func(f *config.File) { f.Node.Admin.Listen = "0.0.0.0:9901" }})
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("New with a public admin address and no token: err = %v, want one about the token", err)
	}
}

func put(t *testing.T, url, body string, hdr ...string) resp {
	return do(t, "PUT", url, strings.NewReader(body), hdr...)
}

func TestPutConfig(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""))[0]
	newDoc := fmt.Sprintf(`
upstreams:
  - name: demo
    targets: [{url: %q}]
routes:
  - name: only-status
    match: {paths: ["/status/{code}"]}
    upstream: demo
`, up)

	t.Run("invalid is refused with every error", func(t *testing.T) {
		r := put(t, n.AdminURL+"/config", "routes:\n  - name: r\n    upstream: nope\n    bogus: 1\n")
		if r.status != 400 {
			t.Fatalf("PUT invalid = %d, want 400 (%s)", r.status, r.body)
		}
		p := problemOf(t, r)
		if len(p.Errors) < 2 || !strings.Contains(strings.Join(p.Errors, "\n"), "request body:") {
			t.Errorf("errors = %q, want both problems with a request body:line:col position", p.Errors)
		}
		if get(t, n.URL+"/anything").status != 200 {
			t.Error("old config stopped serving after a refused PUT")
		}
	})
	t.Run("node section is refused", func(t *testing.T) {
		if r := put(t, n.AdminURL+"/config", "node: {listen: \":1\"}\n"+newDoc); r.status != 400 {
			t.Errorf("PUT with node: = %d, want 400", r.status)
		}
	})
	t.Run("valid swaps", func(t *testing.T) {
		r := put(t, n.AdminURL+"/config", newDoc, "If-Match", `"1"`)
		if r.status != 200 {
			t.Fatalf("PUT = %d (%s)", r.status, r.body)
		}
		var out struct{ Version int64 }
		_ = json.Unmarshal(r.body, &out)
		if out.Version != 2 || n.Snapshot().Version != 2 {
			t.Errorf("version = %d (served %d), want 2", out.Version, n.Snapshot().Version)
		}
		if s := get(t, n.URL+"/anything").status; s != 404 {
			t.Errorf("GET /anything after PUT = %d, want 404 (route removed)", s)
		}
		if s := get(t, n.URL+"/status/201").status; s != 201 {
			t.Errorf("GET /status/201 after PUT = %d, want 201", s)
		}
	})
	t.Run("stale If-Match conflicts", func(t *testing.T) {
		r := put(t, n.AdminURL+"/config", gateway(up, ""), "If-Match", `"1"`)
		if r.status != 409 {
			t.Fatalf("PUT with stale If-Match = %d, want 409", r.status)
		}
		if p := problemOf(t, r); p.CurrentVersion != 2 {
			t.Errorf("current_version = %d, want 2", p.CurrentVersion)
		}
	})
}

func TestReload(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""))[0]
	name := "test-1"

	nodetest.WriteConfig(t, n.File, name, n.DataDir, "routes:\n  - name: r\n    upstream: missing\n")
	err := n.Reload()
	var cerrs config.Errors
	if !errors.As(err, &cerrs) || !strings.Contains(err.Error(), n.File+":") {
		t.Fatalf("Reload of a bad file: err = %v, want config.Errors naming %s", err, n.File)
	}
	if s := get(t, n.URL+"/status/200").status; s != 200 || n.Snapshot().Version != 1 {
		t.Fatalf("after a refused reload: status %d version %d, want 200 and 1", s, n.Snapshot().Version)
	}

	nodetest.WriteConfig(t, n.File, name, n.DataDir, fmt.Sprintf(`
upstreams: [{name: demo, targets: [{url: %q}]}]
routes:
  - name: teapot
    match: {paths: ["/tea"]}
    upstream: demo
    rewrite: /status/418
`, up))
	if err := n.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if s := get(t, n.URL+"/tea").status; s != 418 || n.Snapshot().Version != 2 {
		t.Errorf("after reload: /tea = %d version %d, want 418 and 2", s, n.Snapshot().Version)
	}
}

func TestAcknowledgedWritesSurviveRestart(t *testing.T) {
	up, _ := nodetest.Demo(t)
	dir := t.TempDir()
	doc := gateway(up, "")
	n := nodetest.StartOne(t, "p", dir, doc)
	r := put(t, n.AdminURL+"/config", fmt.Sprintf("upstreams: [{name: demo, targets: [{url: %q}]}]\nroutes: [{name: tea, match: {paths: [\"/tea\"]}, upstream: demo, rewrite: /status/418}]\n", up))
	if r.status != 200 {
		t.Fatalf("PUT = %d (%s)", r.status, r.body)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Same file, restarted: the PUT document is the latest write and wins.
	n2 := nodetest.StartOne(t, "p", dir, doc)
	if s := get(t, n2.URL+"/tea").status; s != 418 || n2.Snapshot().Version != 2 {
		t.Fatalf("after restart: /tea = %d version %d, want 418 and 2", s, n2.Snapshot().Version)
	}
	if err := n2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The file edited since: the file is the latest write and wins.
	n3 := nodetest.StartOne(t, "p", dir, gateway(up, "  - name: extra\n    match: {paths: [\"/extra\"]}\n    upstream: demo\n    rewrite: /status/202\n"))
	if s := get(t, n3.URL+"/extra").status; s != 202 || n3.Snapshot().Version != 3 {
		t.Errorf("after editing the file: /extra = %d version %d, want 202 and 3", s, n3.Snapshot().Version)
	}
}

func TestDrainLosesNoInFlightRequest(t *testing.T) {
	up, d := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""))[0]
	const inflight = 8
	var wg sync.WaitGroup
	codes := make(chan int, inflight)
	started := make(chan struct{}, inflight)
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", n.URL+"/delay/2000", nil)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			started <- struct{}{}
			res, err := tr.RoundTrip(req)
			if err != nil {
				codes <- -1
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	for range inflight {
		<-started
	}
	// Wait until the upstream has all of them in flight (not merely
	// connected: http.Server drops a new connection whose request it has
	// not read yet), then drain.
	waitFor(t, 10*time.Second, func() bool { return d.Requests() >= inflight })
	if got := openConns(t, n); got < inflight {
		t.Errorf("open connections gauge = %d with %d requests in flight", got, inflight)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("in-flight request ended with %d, want 200", c)
		}
	}
	if _, err := http.Get(n.URL + "/status/200"); err == nil {
		t.Error("new request after drain succeeded, want connection refused")
	}
}

func openConns(t *testing.T, n *nodetest.Node) int {
	mfs, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "portico_edge_open_connections" {
			return int(mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	return 0
}

func TestMetricsAndAccessLog(t *testing.T) {
	up, _ := nodetest.Demo(t)
	var buf syncBuffer
	n := nodetest.Start(t, 1, gateway(up, ""), func(c *node.Config) {
		c.Stdout = &buf
		c.Override = func(f *config.File) { f.Node.AccessLog.Output = "stdout" }
	})[0]
	get(t, n.URL+"/status/503")
	get(t, n.URL+"/anything", "X-Request-Id", "log-me")
	m := get(t, n.AdminURL+"/metrics")
	for _, want := range []string{
		`portico_http_requests_total{method="GET",route="all",status="503"} 1`,
		`portico_config_version 1`,
		`portico_upstream_requests_total{`,
	} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(buf.String(), `"request_id":"log-me"`) })
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.Contains(l, "log-me") {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("access log line is not JSON: %v\n%s", err, l)
			}
		}
	}
	for _, k := range []string{"route", "status", "duration_ms", "upstream", "target", "client_ip"} {
		if _, ok := line[k]; !ok {
			t.Errorf("access log line lacks %q: %v", k, line)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWebSocketAndSSEThroughGateway(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""))[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("websocket dial through gateway: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "hello" {
		t.Fatalf("echo = %q, %v; want hello", msg, err)
	}
	c.Close(websocket.StatusNormalClosure, "")

	// SSE: the upstream sends one event and then waits until the client
	// has it. A buffering gateway never delivers it and the test times out.
	got := make(chan struct{})
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-got:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "data: two\n\n")
	}))
	defer sse.Close()
	n2 := nodetest.Start(t, 1, fmt.Sprintf("upstreams: [{name: s, targets: [{url: %q}]}]\nroutes: [{name: r, upstream: s}]\n", sse.URL))[0]
	req, _ := http.NewRequestWithContext(ctx, "GET", n2.URL+"/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first SSE line = %q, %v; want data: one (buffered?)", line, err)
	}
	close(got)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: two") {
		t.Errorf("rest of stream = %q, want the second event", rest)
	}
}
