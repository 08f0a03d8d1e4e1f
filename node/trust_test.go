package node_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

// sizedUpstream answers every request with size bytes of "x" after
// reading its body, and counts requests by method and path.
type sizedUpstream struct {
	mu   sync.Mutex
	hits map[string]int
}

func startSizedUpstream(t *testing.T, size int) (*sizedUpstream, string) {
	t.Helper()
	u := &sizedUpstream{hits: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.hits[r.Method+" "+r.URL.Path]++
		u.mu.Unlock()
		w.Header().Set("Content-Length", fmt.Sprint(size))
		_, _ = io.WriteString(w, strings.Repeat("x", size))
	}))
	t.Cleanup(srv.Close)
	return u, srv.URL
}

func (u *sizedUpstream) count(key string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[key]
}

// TestGatewayAmbiguousFramingEndsConnection: through the whole node, a
// request with both Content-Length and Transfer-Encoding is answered with
// Connection: close, the connection ends, and the request pipelined
// behind it never reaches the upstream — on the cleartext and the TLS
// HTTP/1.1 listener.
func TestGatewayAmbiguousFramingEndsConnection(t *testing.T) {
	up, url := startSizedUpstream(t, 2)
	n := nodetest.Start(t, 1, gateway(url, ""), withDevTLS(nil))[0]
	pool := devPool(t, n)
	dials := map[string]func() (net.Conn, error){
		"cleartext": func() (net.Conn, error) { return net.Dial("tcp", n.EdgeAddr()) },
		"TLS": func() (net.Conn, error) {
			return tls.Dial("tcp", n.TLSAddr(), &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		},
	}
	requests := map[string]string{
		"CL and TE":      "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"TE by obs-fold": "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
		"bare LF":        "POST /first HTTP/1.1\nHost: x\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\r\n\r\n",
		"HTTP/1.0 TE":    "POST /first HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
	}
	for transport, dial := range dials {
		for name, raw := range requests {
			t.Run(transport+"/"+name, func(t *testing.T) {
				c, err := dial()
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				resps, closed := readAllResponses(t, c, raw+"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
				if len(resps) != 1 {
					t.Fatalf("got %d responses, want 1", len(resps))
				}
				if r := resps[0]; r.StatusCode != 200 && r.StatusCode != 400 || !r.Close {
					t.Errorf("first response: %d, close %v; want 200 or 400 with Connection: close", r.StatusCode, r.Close)
				}
				if !closed {
					t.Error("the connection stayed open")
				}
				if got := up.count("GET /smuggled"); got != 0 {
					t.Errorf("the pipelined request reached the upstream %d times, want 0", got)
				}
			})
		}
	}
}

// readAllResponses writes raw on c and reads responses until the server
// closes the connection; closed is false if it was still open after 5s.
func readAllResponses(t *testing.T, c net.Conn, raw string) (resps []*http.Response, closed bool) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for {
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			return resps, !errors.Is(err, os.ErrDeadlineExceeded)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		resps = append(resps, r)
	}
}

// TestTraceRefused: TRACE never reaches an upstream (cross-site tracing
// echoes credentials back); the gateway answers 501 trace-not-supported
// before routing, on any path.
func TestTraceRefused(t *testing.T) {
	up, url := startSizedUpstream(t, 2)
	n := nodetest.Start(t, 1, gateway(url, ""))[0]
	for _, path := range []string{"/", "/admin/x", "/nowhere"} {
		r := do(t, "TRACE", n.URL+path, nil, "Cookie", "secret=1")
		if r.status != http.StatusNotImplemented {
			t.Fatalf("TRACE %s = %d, want 501 (%s)", path, r.status, r.body)
		}
		if p := problemOf(t, r); !strings.HasSuffix(p.Type, "#trace-not-supported") || p.Status != 501 {
			t.Errorf("TRACE %s: problem %q %d, want #trace-not-supported 501", path, p.Type, p.Status)
		}
		if strings.Contains(string(r.body), "secret") {
			t.Errorf("TRACE %s echoed the request: %s", path, r.body)
		}
	}
	for _, path := range []string{"/", "/anything/admin/x", "/nowhere"} {
		if got := up.count("TRACE " + path); got != 0 {
			t.Errorf("upstream saw TRACE %s %d times", path, got)
		}
	}
}

// TestBodySizesObserved: portico_http_response_size_bytes and
// portico_http_request_size_bytes observe the body bytes actually sent
// and read, and the access log carries the same numbers (a chunked
// request body, whose length is not declared, included).
func TestBodySizesObserved(t *testing.T) {
	_, url := startSizedUpstream(t, 1000)
	var buf syncBuffer
	n := nodetest.Start(t, 1, gateway(url, ""), func(c *node.Config) {
		c.Stdout = &buf
		c.Override = func(f *config.File) { f.Node.AccessLog.Output = "stdout" }
	})[0]
	// io.MultiReader hides the length: the client sends it chunked.
	r := do(t, "POST", n.URL+"/upload", io.MultiReader(strings.NewReader(strings.Repeat("y", 300))), "X-Request-Id", "sizes-1")
	if r.status != 200 || len(r.body) != 1000 {
		t.Fatalf("POST = %d with %d bytes, want 200 with 1000", r.status, len(r.body))
	}
	if r := get(t, n.URL+"/download"); r.status != 200 || len(r.body) != 1000 {
		t.Fatalf("GET = %d with %d bytes, want 200 with 1000", r.status, len(r.body))
	}
	sum, count := histogram(t, n, "portico_http_response_size_bytes", "all")
	if count != 2 || sum != 2000 {
		t.Errorf("response_size_bytes{route=all}: count %d sum %v, want 2 and 2000", count, sum)
	}
	sum, count = histogram(t, n, "portico_http_request_size_bytes", "all")
	if count != 2 || sum != 300 {
		t.Errorf("request_size_bytes{route=all}: count %d sum %v, want 2 and 300", count, sum)
	}
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(buf.String(), `"request_id":"sizes-1"`) })
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !strings.Contains(l, `"sizes-1"`) {
			continue
		}
		var e struct {
			BytesIn  int64 `json:"bytes_in"`
			BytesOut int64 `json:"bytes_out"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.BytesIn != 300 || e.BytesOut != 1000 {
			t.Errorf("access log bytes_in %d bytes_out %d, want 300 and 1000", e.BytesIn, e.BytesOut)
		}
	}
}

// histogram returns the sample sum and count of name{route}.
func histogram(t *testing.T, n *nodetest.Node, name, route string) (float64, uint64) {
	t.Helper()
	mfs, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelIs(m, "route", route) {
				h := m.GetHistogram()
				return h.GetSampleSum(), h.GetSampleCount()
			}
		}
	}
	t.Fatalf("%s{route=%q} missing", name, route)
	return 0, 0
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// TestGatewayCountsParserRejections: a request Go's parser refuses never
// reaches the pipeline, yet shows in the node's metrics by reason.
func TestGatewayCountsParserRejections(t *testing.T) {
	_, url := startSizedUpstream(t, 2)
	n := nodetest.Start(t, 1, gateway(url, ""))[0]
	c, err := net.Dial("tcp", n.EdgeAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resps, closed := readAllResponses(t, c, "GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n")
	if len(resps) != 1 || resps[0].StatusCode != 400 || !closed {
		t.Fatalf("got %d responses (closed %v), want one 400 and a close", len(resps), closed)
	}
	const want = `portico_edge_rejected_requests_total{reason="bad_request"} 1`
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(string(get(t, n.AdminURL+"/metrics").body), want) })
}

// TestFragmentDroppedAtEntrance: a #fragment in the request target (which
// clients must not send) is cut off before routing, so an exact route
// matches, and neither the path nor the query the upstream sees carries it.
func TestFragmentDroppedAtEntrance(t *testing.T) {
	seen := make(chan string, 4)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.RequestURI
	}))
	t.Cleanup(up.Close)
	n := nodetest.Start(t, 1, fmt.Sprintf(`
upstreams:
  - {name: one, targets: [{url: %q}]}
routes:
  - {name: exact, match: {paths: ["/a"]}, upstream: one}
`, up.URL))[0]
	addr := strings.TrimPrefix(n.URL, "http://")
	for target, want := range map[string]string{
		"/a#frag":         "/a",
		"/a?x=1#frag?y=2": "/a?x=1",
		"/a#%23x":         "/a",
	} {
		status, body := rawRequest(t, addr, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200 (%s)", target, status, body)
			continue
		}
		if got := <-seen; got != want {
			t.Errorf("GET %s reached the upstream as %q, want %q", target, got, want)
		}
	}
}
