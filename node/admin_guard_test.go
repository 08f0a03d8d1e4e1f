package node_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

// TestAdminRefusesForeignHostAndCrossSite: a loopback admin without a
// token answers only loopback Host names (DNS rebinding gets 403), and no
// admin answers a browser's cross-site request, whatever the method.
func TestAdminRefusesForeignHostAndCrossSite(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""))[0]
	_, port, _ := net.SplitHostPort(n.AdminAddr())
	self := "http://127.0.0.1:" + port
	tests := []struct {
		name, method, path string
		hdr                []string
		want               int
		slug               string
	}{
		{"loopback ip", "GET", "/config", nil, 200, ""},
		{"localhost", "GET", "/config", []string{"Host", "localhost:" + port}, 200, ""},
		{"localhost no port", "GET", "/config", []string{"Host", "localhost"}, 200, ""},
		{"other loopback ip", "GET", "/config", []string{"Host", "127.1.2.3:" + port}, 200, ""},
		{"ipv6 loopback", "GET", "/config", []string{"Host", "[::1]:" + port}, 200, ""},
		{"upper-case localhost", "GET", "/config", []string{"Host", "LocalHost:" + port}, 200, ""},
		{"same origin", "POST", "/cache/purge", []string{"Origin", self, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json"}, 200, ""},
		{"rebinding read", "GET", "/config", []string{"Host", "evil.example:" + port}, 403, "admin-host-refused"},
		{"rebinding health", "GET", "/health", []string{"Host", "evil.example"}, 403, "admin-host-refused"},
		{"rebinding put", "PUT", "/config", []string{"Host", "attacker.test"}, 403, "admin-host-refused"},
		{"localhost suffix", "GET", "/config", []string{"Host", "localhost.evil.example"}, 403, "admin-host-refused"},
		{"public ip", "GET", "/config", []string{"Host", "203.0.113.7:" + port}, 403, "admin-host-refused"},
		{"cross-origin purge", "POST", "/cache/purge", []string{"Origin", "https://evil.example", "Content-Type", "text/plain"}, 403, "admin-cross-origin"},
		{"cross-origin get", "GET", "/config", []string{"Origin", "https://evil.example"}, 403, "admin-cross-origin"},
		{"null origin", "POST", "/cache/purge", []string{"Origin", "null"}, 403, "admin-cross-origin"},
		{"other port same host", "GET", "/metrics", []string{"Origin", "http://127.0.0.1:1"}, 403, "admin-cross-origin"},
		{"fetch cross-site", "GET", "/config", []string{"Sec-Fetch-Site", "cross-site"}, 403, "admin-cross-origin"},
		{"fetch same-site", "POST", "/cache/purge", []string{"Sec-Fetch-Site", "same-site"}, 403, "admin-cross-origin"},
		{"fetch same-site health", "GET", "/ready", []string{"Sec-Fetch-Site", "same-site"}, 403, "admin-cross-origin"},
		{"fetch none (typed in the address bar)", "GET", "/config", []string{"Sec-Fetch-Site", "none"}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body *strings.Reader
			if tt.path == "/cache/purge" {
				body = strings.NewReader(`{"tag": "x"}`)
			} else {
				body = strings.NewReader("")
			}
			req, err := http.NewRequest(tt.method, n.AdminURL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				if tt.hdr[i] == "Host" {
					req.Host = tt.hdr[i+1]
					continue
				}
				req.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			r := doReq(t, req)
			if r.status != tt.want {
				t.Fatalf("%s %s = %d (%s), want %d", tt.method, tt.path, r.status, r.body, tt.want)
			}
			if tt.slug != "" {
				if p := problemOf(t, r); !strings.HasSuffix(p.Type, "#"+tt.slug) {
					t.Errorf("problem type = %q, want #%s", p.Type, tt.slug)
				}
			}
		})
	}
}

// TestAdminWithTokenAnswersAnyHost: with a token (the admin may listen on
// other interfaces) the Host is not restricted: a page can't attach the
// token, and probes and load balancers use the node's IP or name.
// Cross-site requests are still refused.
func TestAdminWithTokenAnswersAnyHost(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""), withToken("a-long-enough-token"))[0]
	req, _ := http.NewRequest("GET", n.AdminURL+"/config", nil)
	req.Host = "gateway-1.internal:9901"
	req.Header.Set("Authorization", "Bearer a-long-enough-token")
	if r := doReq(t, req); r.status != 200 {
		t.Errorf("GET /config with a token and another Host = %d (%s), want 200", r.status, r.body)
	}
	req, _ = http.NewRequest("GET", n.AdminURL+"/config", nil)
	req.Header.Set("Authorization", "Bearer a-long-enough-token")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := doReq(t, req); r.status != 403 {
		t.Errorf("cross-site GET /config with a token = %d, want 403", r.status)
	}
}

func TestAdminBearerSchemeIgnoresCase(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""), withToken("s3cret-token"))[0]
	for _, h := range []string{"Bearer s3cret-token", "bearer s3cret-token", "BEARER s3cret-token", "bEaReR  s3cret-token"} {
		if r := get(t, n.AdminURL+"/config", "Authorization", h); r.status != 200 {
			t.Errorf("Authorization: %q = %d, want 200", h, r.status)
		}
	}
	for _, h := range []string{"Basic s3cret-token", "Bearer", "Bearers3cret-token", "Bearer s3cret-tokenX", "s3cret-token"} {
		if r := get(t, n.AdminURL+"/config", "Authorization", h); r.status != 401 {
			t.Errorf("Authorization: %q = %d, want 401", h, r.status)
		}
	}
}

// TestPutConfigRefusesEmptyDocument: an empty body, or one that removes
// every route, would take the gateway down: refused unless forced.
func TestPutConfigRefusesEmptyDocument(t *testing.T) {
	up, _ := nodetest.Demo(t)
	n := nodetest.Start(t, 1, gateway(up, ""))[0]
	for _, body := range []string{"", "\n# nothing\n", "upstreams: []\nroutes: []\n", "upstreams: [{name: demo, targets: [{url: \"" + up + "\"}]}]\n"} {
		r := put(t, n.AdminURL+"/config", body)
		if r.status != 400 {
			t.Fatalf("PUT %q = %d (%s), want 400", body, r.status, r.body)
		}
		if p := problemOf(t, r); !strings.HasSuffix(p.Type, "#config-removes-all-routes") {
			t.Errorf("PUT %q: problem %q, want #config-removes-all-routes", body, p.Type)
		}
		if v := n.Snapshot().Version; v != 1 || len(n.Snapshot().Gateway.Routes) == 0 {
			t.Fatalf("after a refused empty PUT: version %d, %d routes", v, len(n.Snapshot().Gateway.Routes))
		}
	}
	if r := put(t, n.AdminURL+"/config?force=true", "routes: []\n"); r.status != 200 {
		t.Fatalf("PUT ?force=true with no routes = %d (%s), want 200", r.status, r.body)
	}
	if got := len(n.Snapshot().Gateway.Routes); got != 0 {
		t.Errorf("after a forced empty PUT: %d routes, want 0", got)
	}
}

func TestAdminRefusesShortTokenOffLoopback(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/portico.yaml"
	nodetest.WriteConfig(t, file, "x", dir, "upstreams: [{name: a, targets: [{url: \"http://127.0.0.1:1\"}]}]\nroutes: [{name: r, upstream: a}]\n")
	for _, tt := range []struct {
		listen, token string
		ok            bool
	}{
		{"0.0.0.0:9901", "short-token", false},
		{"0.0.0.0:9901", "0123456789abcde", false},
		{"0.0.0.0:9901", "0123456789abcdef", true},
		{"127.0.0.1:0", "short", true},
	} {
		n, err := node.New(node.Config{File: file, Override: func(f *config.File) { f.Node.Admin.Listen, f.Node.Admin.Token = tt.listen, tt.token }})
		if err == nil {
			_ = n.Shutdown(context.Background())
		}
		if tt.ok && err != nil {
			t.Errorf("admin %s with a %d-character token: %v", tt.listen, len(tt.token), err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "node.admin.token") || strings.Contains(err.Error(), tt.token)) {
			t.Errorf("admin %s with a %d-character token: err = %v, want one naming node.admin.token (not quoting it)", tt.listen, len(tt.token), err)
		}
	}
}

func doReq(t *testing.T, req *http.Request) resp {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, res.Body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp{res.StatusCode, res.Header, []byte(b.String())}
}
