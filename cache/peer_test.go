package cache

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestPeerHandlerRefuses(t *testing.T) {
	cl := newCluster(t, 2, Policy{}, nil)
	peer := cl.nodes[0].peer
	client := peer.Client()
	good := fillRequest{Method: "GET", Scheme: "https", Host: "example.com", URI: "/a", Version: 1}
	enc := func(fr fillRequest) string {
		b, _ := json.Marshal(fr)
		return string(b)
	}
	with := func(f func(*fillRequest)) string {
		fr := good
		f(&fr)
		return enc(fr)
	}
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"get", http.MethodGet, fillPath, enc(good), http.StatusMethodNotAllowed},
		{"unknown path", http.MethodPost, "/cache/v1/nope", "{}", http.StatusNotFound},
		{"old fill path", http.MethodPost, "/cache/v1/fill", enc(good), http.StatusNotFound}, // an older asker: a peer error, it fills itself
		{"junk", http.MethodPost, fillPath, "{", http.StatusBadRequest},
		{"post method", http.MethodPost, fillPath, with(func(f *fillRequest) { f.Method = "POST" }), http.StatusBadRequest},
		{"bad scheme", http.MethodPost, fillPath, with(func(f *fillRequest) { f.Scheme = "ftp" }), http.StatusBadRequest},
		{"bad host", http.MethodPost, fillPath, with(func(f *fillRequest) { f.Host = "a b" }), http.StatusBadRequest},
		{"absolute uri", http.MethodPost, fillPath, with(func(f *fillRequest) { f.URI = "http://evil/" }), http.StatusBadRequest},
		{"bad header", http.MethodPost, fillPath, with(func(f *fillRequest) { f.Header = http.Header{"X": {"a\nb"}} }), http.StatusBadRequest},
		{"oversized", http.MethodPost, fillPath, `{"header":{"x":["` + strings.Repeat("a", maxDescriptorBytes) + `"]}}`, http.StatusBadRequest},
		{"purge junk", http.MethodPost, purgePath, "[", http.StatusBadRequest},
		{"purge two fields", http.MethodPost, purgePath, `{"key":"a","tag":"b"}`, http.StatusBadRequest},
		{"other version", http.MethodPost, fillPath, with(func(f *fillRequest) { f.Version = 2 }), http.StatusConflict},
		{"unknown route", http.MethodPost, fillPath, with(func(f *fillRequest) { f.Route = "nope" }), http.StatusConflict},
		{"version 0", http.MethodPost, fillPath, with(func(f *fillRequest) { f.Version = 0 }), http.StatusConflict},
		{"good fill", http.MethodPost, fillPath, enc(good), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, peer.URL+tt.path, strings.NewReader(tt.body))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if v := resp.Header.Get(versionHeader); tt.want == http.StatusConflict && v != "1" {
				t.Errorf("%s = %q on a 409, want the owner's version 1", versionHeader, v)
			}
		})
	}
}

// TestBadOwnerAnswer: answers that break the protocol make the asker
// fetch upstream itself.
func TestBadOwnerAnswer(t *testing.T) {
	meta := func(size uint32, body string) string {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], size)
		return string(n[:]) + body
	}
	tests := []struct {
		name, body string
	}{
		{"empty", ""},
		{"huge metadata", meta(maxMetaBytes+1, "")},
		{"short metadata", meta(100, "{}")},
		{"junk metadata", meta(3, "{{{")},
		{"bad status", meta(12, `{"status":1}`)},
		{"negative body", meta(48, `{"status":200,"entry":{"body_len":-5,"age":0}}  `)},
		{"short body", meta(40, `{"status":200,"entry":{"body_len":500}}`) + "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := newCluster(t, 2, Policy{}, nil)
			cl.nodes[0].peer.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", fillContentType)
				_, _ = io.WriteString(w, tt.body)
			})
			r := cl.get(1, "/bad")
			if r.status != 200 || r.body != "hello" {
				t.Fatalf("answer %d %q", r.status, r.body)
			}
			if got := counterValue(cl.nodes[1].cache.metrics.peerErrors); got != 1 {
				t.Errorf("peer errors = %v, want 1", got)
			}
		})
	}
}

func TestVaryAcrossNodes(t *testing.T) {
	cl := newCluster(t, 3, Policy{}, nil)
	cl.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		_, _ = io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
	})
	for _, step := range []struct {
		node int
		lang string
	}{{1, "en"}, {1, "fr"}, {2, "fr"}, {2, "en"}, {1, "en"}, {0, "fr"}} {
		if r := cl.get(step.node, "/v", "Accept-Language", step.lang); r.body != "lang="+step.lang {
			t.Fatalf("node %d %s got %q", step.node, step.lang, r.body)
		}
		cl.settle()
	}
	cl.wantHits(2)
}

func TestMetrics(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	cl.get(0, "/m")
	cl.get(0, "/m")
	cl.settle()
	families, err := cl.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range families {
		got[f.GetName()] = true
	}
	for _, name := range []string{"portico_cache_requests_total", "portico_cache_tier_hits_total", "portico_cache_tier_misses_total",
		"portico_cache_evictions_total", "portico_cache_added_bytes_total", "portico_cache_evicted_bytes_total",
		"portico_cache_entries", "portico_cache_bytes", "portico_cache_max_bytes", "portico_cache_peer_errors_total",
		"portico_cache_peer_version_mismatches_total"} {
		if !got[name] {
			t.Errorf("metric %s not gathered", name)
		}
	}
	if v := counterValue(cl.nodes[0].cache.metrics.requests[outcomeHit]); v != 1 {
		t.Errorf("hits = %v, want 1", v)
	}
}

func TestCloseThenServe(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	cl.get(0, "/z")
	c := cl.nodes[0].cache
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if r := cl.get(0, "/z"); r.status != 200 || r.body != "hello" {
		t.Fatalf("after Close: %d %q", r.status, r.body)
	}
	cl.wantHits(2)
	// Close unregistered the metrics: a new Cache may use the registry.
	c2, err := New(Config{Registerer: cl.reg})
	if err != nil {
		t.Fatalf("New on the same registry after Close: %v", err)
	}
	c2.Close()
}

func TestConfigValidate(t *testing.T) {
	owners := picker{}
	bad := []Config{
		{MaxBytes: 100},
		{NearMaxBytes: 100},
		{NearTTL: -1},
		{PeerTimeout: -time.Second},
		{Owners: owners},
		{Name: "two words"},
	}
	for _, cfg := range bad {
		if c, err := New(cfg); err == nil {
			c.Close()
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
	c, err := New(Config{NearMaxBytes: -1, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.near != nil {
		t.Error("negative NearMaxBytes kept a near tier")
	}
}

func TestFillRequestRoundTrip(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://example.com/a%2Fb/c?x=1&y=%20", nil)
	r.Header.Set("Accept", "text/html")
	r.Header.Set("If-None-Match", `"x"`)
	r.Header.Set("Connection", "close")
	pol := Policy{}
	var buf bytes.Buffer
	f := Fill{Route: "r", Version: 7, Consumer: "alice"}
	_ = json.NewEncoder(&buf).Encode(newFillRequest(r, KeyOf(r, pol), f))
	var fr fillRequest
	if err := json.NewDecoder(&buf).Decode(&fr); err != nil {
		t.Fatal(err)
	}
	if fr.fill() != f {
		t.Errorf("descriptor's fill %+v, want %+v", fr.fill(), f)
	}
	got, err := fr.request(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if KeyOf(got, pol) != KeyOf(r, pol) {
		t.Errorf("rebuilt key %q, want %q", KeyOf(got, pol), KeyOf(r, pol))
	}
	if got.Header.Get("Accept") != "text/html" || got.Header.Get("If-None-Match") != "" || got.Header.Get("Connection") != "" {
		t.Errorf("rebuilt headers %v", got.Header)
	}
}
