package cors_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/cors"
)

// serve runs the stage of policy c in front of next on a real listener.
func serve(t *testing.T, c *config.CORS, next http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(cors.New(next, c))
	t.Cleanup(srv.Close)
	return srv.URL
}

// upstream answers 200 "ok", with the headers it is given, and counts
// what reaches it.
func upstream(n *atomic.Int32, hdr ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Add(hdr[i], hdr[i+1])
		}
		io.WriteString(w, "ok")
	})
}

func send(t *testing.T, method, url string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
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
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// policy is a defaulted policy for a route that takes any method.
func policy(origins ...string) *config.CORS {
	return &config.CORS{AllowOrigins: origins, AllowMethods: []string{"GET", "HEAD", "POST"},
		AllowHeaders: []string{"Accept", "Content-Type", "X-Requested-With"}}
}

func preflight(t *testing.T, url, origin, method, headers string) *http.Response {
	t.Helper()
	hdr := []string{"Origin", origin, "Access-Control-Request-Method", method}
	if headers != "" {
		hdr = append(hdr, "Access-Control-Request-Headers", headers)
	}
	return send(t, "OPTIONS", url, hdr...)
}

func TestPreflight(t *testing.T) {
	full := &config.CORS{AllowOrigins: []string{"https://app.example.com", "https://*.example.org"},
		AllowMethods: []string{"GET", "PUT"}, AllowHeaders: []string{"Content-Type", "X-Api-Key"},
		AllowCredentials: true, MaxAge: config.Duration(10 * time.Minute)}
	tests := []struct {
		name                    string
		c                       *config.CORS
		origin, method, headers string
		wantOrigin              string // "": refused, no CORS headers
	}{
		{"exact origin", full, "https://app.example.com", "PUT", "content-type,x-api-key", "https://app.example.com"},
		{"wildcard subdomain", full, "https://a.b.example.org", "GET", "", "https://a.b.example.org"},
		{"any origin", policy("*"), "https://anyone.test", "POST", "content-type", "*"},
		{"origin not allowed", full, "https://evil.test", "PUT", "", ""},
		{"wildcard is not the apex", full, "https://example.org", "GET", "", ""},
		{"wildcard keeps the scheme", full, "http://a.example.org", "GET", "", ""},
		{"method not allowed", full, "https://app.example.com", "DELETE", "", ""},
		{"header not allowed", full, "https://app.example.com", "PUT", "content-type,x-secret", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reached atomic.Int32
			url := serve(t, tt.c, upstream(&reached))
			res := preflight(t, url, tt.origin, tt.method, tt.headers)
			h := res.Header
			if res.StatusCode != 204 || reached.Load() != 0 {
				t.Fatalf("preflight: %d, reached next %d times; want 204 at the stage", res.StatusCode, reached.Load())
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != tt.wantOrigin {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantOrigin)
			}
			if !strings.Contains(h.Get("Vary"), "Origin") {
				t.Errorf("Vary = %q, want Origin in it", h.Get("Vary"))
			}
			if tt.wantOrigin == "" {
				for k := range h {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("refused preflight carries %s: %v", k, h[k])
					}
				}
				return
			}
			if got := h.Get("Access-Control-Allow-Methods"); got != tt.method {
				t.Errorf("Access-Control-Allow-Methods = %q, want %q", got, tt.method)
			}
			if got := h.Get("Access-Control-Allow-Headers"); got != tt.headers {
				t.Errorf("Access-Control-Allow-Headers = %q, want %q", got, tt.headers)
			}
			wantCreds, wantAge := "", ""
			if tt.c.AllowCredentials {
				wantCreds, wantAge = "true", "600"
			}
			if h.Get("Access-Control-Allow-Credentials") != wantCreds || h.Get("Access-Control-Max-Age") != wantAge {
				t.Errorf("credentials %q max-age %q, want %q %q", h.Get("Access-Control-Allow-Credentials"), h.Get("Access-Control-Max-Age"), wantCreds, wantAge)
			}
		})
	}
}

func TestActualRequest(t *testing.T) {
	c := &config.CORS{AllowOrigins: []string{"https://app.example.com"}, AllowMethods: []string{"GET", "HEAD", "POST"},
		AllowHeaders: []string{"Content-Type"}, ExposeHeaders: []string{"X-Request-Id", "ratelimit"}, AllowCredentials: true}
	var reached atomic.Int32
	// The upstream sends CORS headers of its own: the gateway's win.
	url := serve(t, c, upstream(&reached, "Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "PATCH",
		"Access-Control-Expose-Headers", "X-Internal", "Vary", "Accept-Encoding"))

	res := send(t, "GET", url, "Origin", "https://app.example.com")
	h := res.Header
	if res.StatusCode != 200 || reached.Load() != 1 {
		t.Fatalf("GET: %d, upstream reached %d times", res.StatusCode, reached.Load())
	}
	if v := h.Values("Access-Control-Allow-Origin"); !slices.Equal(v, []string{"https://app.example.com"}) {
		t.Errorf("Access-Control-Allow-Origin = %q, want only the request's origin", v)
	}
	if h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Expose-Headers") != "X-Request-Id, Ratelimit" {
		t.Errorf("credentials %q, expose %q", h.Get("Access-Control-Allow-Credentials"), h.Get("Access-Control-Expose-Headers"))
	}
	if h.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("the upstream's Access-Control-Allow-Methods came through: %q", h.Get("Access-Control-Allow-Methods"))
	}
	if v := h.Values("Vary"); !slices.Contains(v, "Origin") || !slices.Contains(v, "Accept-Encoding") {
		t.Errorf("Vary = %q, want Origin and the upstream's Accept-Encoding", v)
	}

	// Another origin, and no origin: no CORS headers at all (not even the
	// upstream's), served as usual.
	for _, hdr := range [][]string{{"Origin", "https://evil.test"}, nil} {
		res := send(t, "GET", url, hdr...)
		if res.StatusCode != 200 {
			t.Errorf("GET %v: %d, want 200", hdr, res.StatusCode)
		}
		for k := range res.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("GET %v carries %s: %v", hdr, k, res.Header[k])
			}
		}
		if !slices.Contains(res.Header.Values("Vary"), "Origin") {
			t.Errorf("GET %v: Vary = %q, want Origin (shared caches)", hdr, res.Header.Values("Vary"))
		}
	}
	if reached.Load() != 3 {
		t.Errorf("upstream reached %d times, want 3", reached.Load())
	}

	// A method the policy leaves out: served, without CORS headers.
	if res := send(t, "DELETE", url, "Origin", "https://app.example.com"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("DELETE got Access-Control-Allow-Origin %q", res.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestInnerAnswers: what an inner stage answers itself (a problem, a
// cached entry whose headers replace Vary, a stream) keeps the CORS
// headers and Vary: Origin.
func TestInnerAnswers(t *testing.T) {
	stored := http.Header{"Vary": []string{"Accept"}, "Access-Control-Allow-Origin": []string{"https://stale.test"}}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/problem":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(401)
		case "/cached":
			for k, v := range stored {
				w.Header()[k] = v // as the cache serves an entry: replaced, shared
			}
			io.WriteString(w, "hit")
		case "/stream":
			w.(http.Flusher).Flush()
			io.WriteString(w, "data")
		}
	})
	url := serve(t, policy("https://app.example.com"), next)
	for _, path := range []string{"/problem", "/cached", "/stream"} {
		res := send(t, "GET", url+path, "Origin", "https://app.example.com")
		if v := res.Header.Values("Access-Control-Allow-Origin"); !slices.Equal(v, []string{"https://app.example.com"}) {
			t.Errorf("%s: Access-Control-Allow-Origin = %q", path, v)
		}
		if !slices.Contains(res.Header.Values("Vary"), "Origin") {
			t.Errorf("%s: Vary = %q, want Origin", path, res.Header.Values("Vary"))
		}
	}
	if !slices.Equal(stored["Vary"], []string{"Accept"}) || len(stored["Access-Control-Allow-Origin"]) != 1 {
		t.Errorf("the stored entry's headers changed: %v", stored)
	}
}

func TestNoPolicyIsNext(t *testing.T) {
	next := http.NewServeMux() // comparable
	if h := cors.New(next, nil); h != http.Handler(next) {
		t.Errorf("New(next, nil) = %v, want next itself", h)
	}
}

// TestNotAPreflight: OPTIONS without Origin or without
// Access-Control-Request-Method goes on to next.
func TestNotAPreflight(t *testing.T) {
	var reached atomic.Int32
	url := serve(t, policy("*"), upstream(&reached))
	send(t, "OPTIONS", url)
	send(t, "OPTIONS", url, "Origin", "https://a.test")
	send(t, "OPTIONS", url, "Access-Control-Request-Method", "GET")
	if reached.Load() != 3 {
		t.Errorf("next reached %d times, want 3", reached.Load())
	}
}
