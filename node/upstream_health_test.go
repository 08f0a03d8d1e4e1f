package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

// healthUpstream is one target: /fail answers 503, everything else reads
// the request body and answers 200.
func healthUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	return up
}

func healthGateway(url string) string {
	return fmt.Sprintf(`
upstreams:
  - {name: one, targets: [{url: %q}]}
routes:
  - {name: r, match: {paths: ["/*"]}, upstream: one, max_body_bytes: 1KiB}
`, url)
}

// rawRequest writes req on a fresh connection to addr and returns the
// response's status and body.
func rawRequest(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestMalformedBodiesDoNotEject: a malformed chunked body is the client's
// fault (400 bad-request-body) and never takes the only target out.
func TestMalformedBodiesDoNotEject(t *testing.T) {
	n := nodetest.Start(t, 1, healthGateway(healthUpstream(t).URL))[0]
	addr := strings.TrimPrefix(n.URL, "http://")
	malformed := "POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\n"
	for i := range 6 {
		status, body := rawRequest(t, addr, malformed)
		if status != 400 || !strings.Contains(body, "bad-request-body") {
			t.Fatalf("malformed chunked POST #%d = %d %s, want 400 bad-request-body", i+1, status, body)
		}
	}
	if r := get(t, n.URL+"/x"); r.status != 200 {
		t.Fatalf("GET after malformed bodies = %d %s, want 200", r.status, r.body)
	}
}

// TestOversizedBodiesDoNotEject: a chunked body over max_body_bytes is
// 413 and the client's fault.
func TestOversizedBodiesDoNotEject(t *testing.T) {
	n := nodetest.Start(t, 1, healthGateway(healthUpstream(t).URL))[0]
	for i := range 6 {
		req, err := http.NewRequest("POST", n.URL+"/x", strings.NewReader(strings.Repeat("a", 4096)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1 // chunked: the limit is found while reading
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("oversized POST #%d: %v", i+1, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 413 {
			t.Fatalf("oversized chunked POST #%d = %d %s, want 413", i+1, res.StatusCode, b)
		}
	}
	if r := get(t, n.URL+"/x"); r.status != 200 {
		t.Fatalf("GET after oversized bodies = %d %s, want 200", r.status, r.body)
	}
}

// TestUpstream503DoesNotEject: a path answering 503 is passed through, not
// retried and not counted against the target: other paths still work.
func TestUpstream503DoesNotEject(t *testing.T) {
	n := nodetest.Start(t, 1, healthGateway(healthUpstream(t).URL))[0]
	for i := range 6 {
		if r := get(t, n.URL+"/fail"); r.status != 503 {
			t.Fatalf("GET /fail #%d = %d %s, want the upstream's 503", i+1, r.status, r.body)
		}
	}
	if r := get(t, n.URL+"/ok"); r.status != 200 {
		t.Fatalf("GET /ok after 503s = %d %s, want 200", r.status, r.body)
	}
}

// TestLastTargetIsTried: a lone target that refuses connections is still
// tried (502), never "no healthy upstream" (503): nginx's rule.
func TestLastTargetIsTried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	n := nodetest.Start(t, 1, healthGateway(dead))[0]
	for i := range 8 {
		if r := get(t, n.URL+"/x"); r.status != 502 {
			t.Fatalf("GET #%d to a refusing lone target = %d %s, want 502", i+1, r.status, r.body)
		}
	}
}

// TestOffSwitches: retries and passive checks turned off (enabled: false,
// or the older -1) stay off through config defaults into the proxy: with
// a refusing target and a good one in round robin, every other request
// fails (not retried, the refusing target never ejected).
func TestOffSwitches(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	good := healthUpstream(t).URL
	gw := fmt.Sprintf(`
upstreams:
  - name: minus-one
    targets: [{url: %[1]q}, {url: %[2]q}]
    retries: {attempts: -1}
    health: {passive: {failures: -1}}
  - name: disabled
    targets: [{url: %[1]q}, {url: %[2]q}]
    retries: {enabled: false}
    health: {passive: {enabled: false}}
routes:
  - {name: a, match: {paths: ["/a"]}, upstream: minus-one}
  - {name: b, match: {paths: ["/b"]}, upstream: disabled}
`, dead, good)
	n := nodetest.Start(t, 1, gw)[0]
	for _, path := range []string{"/a", "/b"} {
		failed := 0
		for range 12 {
			switch r := get(t, n.URL+path); r.status {
			case 200:
			case 502:
				failed++
			default:
				t.Fatalf("GET %s = %d %s, want 200 or 502", path, r.status, r.body)
			}
		}
		if failed != 6 {
			t.Errorf("GET %s: %d of 12 failed, want 6 (no retry, no ejection)", path, failed)
		}
	}
}

// TestWebSocketAccessLog: an upgraded session is logged with status 101
// and the bytes it carried both ways.
func TestWebSocketAccessLog(t *testing.T) {
	up, _ := nodetest.Demo(t)
	var log syncBuffer
	n := nodetest.Start(t, 1, gateway(up, ""), func(c *node.Config) {
		c.Stdout = &log
		c.Override = func(f *config.File) { f.Node.AccessLog.Output = "stdout" }
	})[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("websocket dial through gateway: %v", err)
	}
	defer c.CloseNow()
	msg := strings.Repeat("x", 1000)
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.Read(ctx); err != nil || string(got) != msg {
		t.Fatalf("echo: %v", err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	var entry struct {
		Path     string
		Status   int
		BytesOut int64 `json:"bytes_out"`
		BytesIn  int64 `json:"bytes_in"`
	}
	nodetest.WaitFor(t, 10*time.Second, func() bool {
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, `"/ws"`) && json.Unmarshal([]byte(line), &entry) == nil {
				return true
			}
		}
		return false
	})
	if entry.Status != 101 || entry.BytesOut < 1000 || entry.BytesIn < 1000 {
		t.Errorf("access log of the WebSocket session: status %d, bytes out %d, in %d; want 101 and >= 1000 each way",
			entry.Status, entry.BytesOut, entry.BytesIn)
	}
}
