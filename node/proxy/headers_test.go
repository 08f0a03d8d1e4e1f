package proxy

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// echoHeaders answers with the request's headers (as X-Got-NAME), host
// and escaped URI.
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	for k, v := range r.Header {
		w.Header()["X-Got-"+k] = v
	}
	w.Header().Set("X-Got-Host", r.Host)
	w.Header().Set("X-Got-Uri", r.RequestURI)
}

func TestHopByHopStripped(t *testing.T) {
	hop := func(w http.ResponseWriter, r *http.Request) {
		echoHeaders(w, r)
		h := w.Header()
		h.Set("Connection", "X-Resp-Private")
		h.Set("X-Resp-Private", "secret")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("Proxy-Connection", "keep-alive")
		h.Set("Upgrade", "foo")
		h.Set("X-Resp-End-To-End", "kept")
	}
	b := newBackend(t, "a", hop)
	// Sanity: straight from the backend, the response hop headers arrive,
	// so their absence through the proxy is the proxy's doing.
	direct, err := http.Get(b.url())
	if err != nil {
		t.Fatal(err)
	}
	direct.Body.Close()
	if direct.Header.Get("X-Resp-Private") == "" || direct.Header.Get("Proxy-Authenticate") == "" {
		t.Fatalf("backend's hop headers don't reach a direct client: %v", direct.Header)
	}

	up := newTestUpstream(t, upstreamConfig(b.url()), Options{})
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	req, _ := http.NewRequest("GET", g.srv.URL+"/", nil)
	req.Header.Set("Connection", "X-Private")
	req.Header.Set("X-Private", "secret")
	req.Header.Set("Keep-Alive", "300")
	req.Header.Set("Proxy-Authorization", "Basic eA==")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("Te", "gzip")
	req.Header.Set("Upgrade", "h2c") // no Connection: upgrade, so not an upgrade
	req.Header.Set("Trailer", "X-T")
	req.Header.Set("X-End-To-End", "kept")
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, name := range []string{"X-Private", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection",
		"Te", "Upgrade", "Trailer"} {
		if v := resp.Header.Get("X-Got-" + name); v != "" {
			t.Errorf("request header %s reached the target: %q", name, v)
		}
	}
	if v := resp.Header.Get("X-Got-Connection"); v != "" {
		t.Errorf("request header Connection reached the target: %q", v)
	}
	for name, want := range map[string]string{"X-End-To-End": "kept", "X-Request-Id": "req-42"} {
		if v := resp.Header.Get("X-Got-" + name); v != want {
			t.Errorf("request header %s = %q at the target, want %q", name, v, want)
		}
	}
	for _, name := range []string{"X-Resp-Private", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection", "Upgrade"} {
		if v := resp.Header.Get(name); v != "" {
			t.Errorf("response header %s reached the client: %q", name, v)
		}
	}
	if v := resp.Header.Get("X-Resp-End-To-End"); v != "kept" {
		t.Errorf("response header X-Resp-End-To-End = %q, want kept", v)
	}
}

func TestForwardedHeaders(t *testing.T) {
	incoming := http.Header{
		"X-Forwarded-For":   {"203.0.113.9, 10.0.0.1"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host":  {"api.example.com"},
		"Forwarded":         {`for=203.0.113.9;proto=https;host="api.example.com"`},
	}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		in      http.Header
		want    map[string]string // header at the target; HOST is replaced by the gateway's host
	}{
		{
			name: "untrusted peer: fresh values",
			in:   incoming,
			want: map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Host":  "HOST",
				"Forwarded":         `for=127.0.0.1;proto=http;host="HOST"`,
			},
		},
		{
			name:    "trusted peer: appended and passed through",
			trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			in:      incoming,
			want: map[string]string{
				"X-Forwarded-For":   "203.0.113.9, 10.0.0.1, 127.0.0.1",
				"X-Forwarded-Proto": "https",
				"X-Forwarded-Host":  "api.example.com",
				"Forwarded":         `for=203.0.113.9;proto=https;host="api.example.com", for=127.0.0.1;proto=http;host="HOST"`,
			},
		},
		{
			name:    "trusted peer without incoming values",
			trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			in:      http.Header{},
			want: map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Host":  "HOST",
				"Forwarded":         `for=127.0.0.1;proto=http;host="HOST"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, "a", echoHeaders)
			up := newTestUpstream(t, upstreamConfig(b.url()), Options{TrustedProxies: tt.trusted})
			g := newGateway(t, route("pool"), up, HandlerOptions{})
			req, _ := http.NewRequest("GET", g.srv.URL+"/", nil)
			for k, v := range tt.in {
				req.Header[k] = v
			}
			resp, err := g.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			host := strings.TrimPrefix(g.srv.URL, "http://")
			for name, want := range tt.want {
				want = strings.ReplaceAll(want, "HOST", host)
				if got := strings.Join(resp.Header["X-Got-"+name], " | "); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestForwardedElement(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		tls    bool
		host   string
		want   string
	}{
		{"ipv4", "192.0.2.1:5000", false, "example.com", `for=192.0.2.1;proto=http;host="example.com"`},
		{"ipv6 quoted in brackets", "[2001:db8::1]:5000", true, "example.com:8443", `for="[2001:db8::1]";proto=https;host="example.com:8443"`},
		{"loopback v6", "[::1]:80", false, "h", `for="[::1]";proto=http;host="h"`},
		{"mapped v4 unmapped", "[::ffff:192.0.2.1]:80", false, "h", `for=192.0.2.1;proto=http;host="h"`},
		{"unknown peer", "pipe", false, "h", `for=unknown;proto=http;host="h"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := testUpstream(t, 1, nil)
			h, err := NewHandler(route("pool"), up, HandlerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			in := httptest.NewRequest("GET", "/", nil)
			in.RemoteAddr, in.Host = tt.remote, tt.host
			if tt.tls {
				in.TLS = &tls.ConnectionState{}
			}
			out := in.Clone(in.Context())
			h.setForwarded(in, out)
			if got := out.Header.Get("Forwarded"); got != tt.want {
				t.Errorf("Forwarded = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer ignores xff", "192.0.2.1:1", []string{"203.0.113.5"}, "192.0.2.1"},
		{"trusted peer, rightmost untrusted", "10.0.0.2:1", []string{"198.51.100.1, 203.0.113.5, 10.0.0.9"}, "203.0.113.5"},
		{"several header lines", "10.0.0.2:1", []string{"198.51.100.1", "203.0.113.5", "10.1.1.1"}, "203.0.113.5"},
		{"all trusted: leftmost", "10.0.0.2:1", []string{"10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"trusted peer, no xff", "10.0.0.2:1", nil, "10.0.0.2"},
		{"garbage stops the walk", "10.0.0.2:1", []string{"203.0.113.5, junk, 10.0.0.8"}, "10.0.0.8"},
		{"ports and brackets in xff", "[::1]:1", []string{"[2001:db8::7]:443, 10.0.0.3:80"}, "2001:db8::7"},
		{"mapped v4 peer", "[::ffff:10.0.0.2]:1", []string{"203.0.113.5"}, "203.0.113.5"},
		{"unparsable peer", "pipe", []string{"203.0.113.5"}, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != nil {
				r.Header["X-Forwarded-For"] = tt.xff
			}
			if got := ClientIP(r, trusted).String(); got != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestHostAndPath(t *testing.T) {
	tests := []struct {
		name         string
		base         string
		path         func(*http.Request) string
		preserveHost bool
		reqPath      string
		wantURI      string
		wantHost     string // "TARGET" or "CLIENT"
	}{
		{name: "as is", reqPath: "/a/b?x=1&y=%20", wantURI: "/a/b?x=1&y=%20", wantHost: "TARGET"},
		{name: "escaped slash kept", reqPath: "/files/a%2Fb", wantURI: "/files/a%2Fb", wantHost: "TARGET"},
		{name: "base path prefixed", base: "/base", reqPath: "/a%2Fb?q", wantURI: "/base/a%2Fb?q", wantHost: "TARGET"},
		{name: "base path with trailing slash", base: "/base/", reqPath: "/a", wantURI: "/base/a", wantHost: "TARGET"},
		{name: "Path option", base: "/v2", path: func(r *http.Request) string { return strings.TrimPrefix(r.URL.EscapedPath(), "/api") },
			reqPath: "/api/users/7?full=1", wantURI: "/v2/users/7?full=1", wantHost: "TARGET"},
		{name: "preserve host", preserveHost: true, reqPath: "/", wantURI: "/", wantHost: "CLIENT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, "a", echoHeaders)
			up := newTestUpstream(t, upstreamConfig(b.url()+tt.base), Options{})
			rt := route("pool")
			rt.PreserveHost = tt.preserveHost
			g := newGateway(t, rt, up, HandlerOptions{Path: tt.path})
			req, _ := http.NewRequest("GET", g.srv.URL+tt.reqPath, nil)
			req.Host = "client.example"
			resp, err := g.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("X-Got-Uri"); got != tt.wantURI {
				t.Errorf("target saw %q, want %q", got, tt.wantURI)
			}
			want := map[string]string{"TARGET": strings.TrimPrefix(b.url(), "http://"), "CLIENT": "client.example"}[tt.wantHost]
			if got := resp.Header.Get("X-Got-Host"); got != want {
				t.Errorf("target saw Host %q, want %q", got, want)
			}
		})
	}
}
