package cache

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMissThenHit(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	r := cl.get(0, "/a")
	if r.status != 200 || r.body != "hello" {
		t.Fatalf("miss = %d %q, want 200 hello", r.status, r.body)
	}
	if got, want := r.cacheStatus(), "Portico; fwd=miss; stored; node=node-0"; got != want {
		t.Errorf("miss Cache-Status = %q, want %q", got, want)
	}
	cl.clk.Advance(30 * time.Second)
	r = cl.get(0, "/a")
	if got, want := r.cacheStatus(), "Portico; hit; node=node-0"; got != want {
		t.Errorf("hit Cache-Status = %q, want %q", got, want)
	}
	if got := r.header.Get("Age"); got != "30" {
		t.Errorf("Age = %q, want 30", got)
	}
	cl.wantHits(1)
	cl.clk.Advance(31 * time.Second) // past max-age=60
	if r = cl.get(0, "/a"); !strings.Contains(r.cacheStatus(), "fwd=stale; stored") {
		t.Errorf("expired Cache-Status = %q, want a refetch", r.cacheStatus())
	}
	cl.wantHits(2)
}

// TestResponseRules sends two requests per case and counts how often the
// origin saw them: once when the first response was stored.
func TestResponseRules(t *testing.T) {
	tests := []struct {
		name   string
		pol    Policy
		status int
		cc     string
		kv     []string // response header lines
		req    []string // request header lines
		stored bool
	}{
		{name: "max-age", cc: "max-age=60", stored: true},
		{name: "s-maxage", cc: "s-maxage=60", stored: true},
		{name: "public without freshness", cc: "public", stored: false},
		{name: "public with route ttl", pol: Policy{TTL: time.Minute}, cc: "public", stored: true},
		{name: "route ttl", pol: Policy{TTL: time.Minute}, stored: true},
		{name: "no-store", cc: "no-store, max-age=60", stored: false},
		{name: "no-store despite override", pol: Policy{TTL: time.Minute, Override: true}, cc: "no-store", stored: false},
		{name: "private", cc: "private, max-age=60", stored: false},
		{name: "max-age=0", cc: "max-age=0", stored: false},
		{name: "override of max-age=0", pol: Policy{TTL: time.Minute, Override: true}, cc: "max-age=0", stored: true},
		{name: "expires", kv: []string{"Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, stored: true},
		{name: "500 with max-age", status: 500, cc: "max-age=60", stored: true},
		{name: "500 with route ttl only", pol: Policy{TTL: time.Minute}, status: 500, stored: false},
		{name: "404", status: 404, cc: "max-age=60", stored: true},
		{name: "set-cookie", cc: "max-age=60", kv: []string{"Set-Cookie", "a=b"}, stored: false},
		{name: "set-cookie allowed", pol: Policy{AllowSetCookie: true}, cc: "max-age=60", kv: []string{"Set-Cookie", "a=b"}, stored: true},
		{name: "authorization", cc: "max-age=60", req: []string{"Authorization", "Bearer t"}, stored: false},
		{name: "authorization, public", cc: "public, max-age=60", req: []string{"Authorization", "Bearer t"}, stored: true},
		{name: "authorization, must-revalidate", cc: "max-age=60, must-revalidate", req: []string{"Authorization", "Bearer t"}, stored: true},
		{name: "authorization allowed", pol: Policy{AllowAuthorization: true}, cc: "max-age=60", req: []string{"Authorization", "Bearer t"}, stored: true},
		{name: "vary star", cc: "max-age=60", kv: []string{"Vary", "*"}, stored: false},
		{name: "client no-cache ignored", cc: "max-age=60", req: []string{"Cache-Control", "no-cache", "Pragma", "no-cache"}, stored: true},
		{name: "client no-store", cc: "max-age=60", req: []string{"Cache-Control", "no-store"}, stored: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			status := tt.status
			if status == 0 {
				status = 200
			}
			cl := newCluster(t, 1, tt.pol, nil)
			cl.origin.set(answer(clk, status, tt.cc, "body", tt.kv...))
			first := cl.get(0, "/r", tt.req...)
			second := cl.get(0, "/r", tt.req...)
			if first.status != status || second.status != status || second.body != "body" {
				t.Fatalf("answers %d %q, %d %q; want %d body", first.status, first.body, second.status, second.body, status)
			}
			want := int64(2)
			if tt.stored {
				want = 1
			}
			if got := cl.hits(); got != want {
				t.Errorf("origin requests = %d, want %d (second Cache-Status %q)", got, want, second.cacheStatus())
			}
		})
	}
}

func TestSetCookieGoesToFetcherOnly(t *testing.T) {
	cl := newCluster(t, 1, Policy{AllowSetCookie: true}, nil)
	cl.origin.set(answer(cl.clk, 200, "max-age=60", "x", "Set-Cookie", "sid=1"))
	if r := cl.get(0, "/c"); r.header.Get("Set-Cookie") != "sid=1" {
		t.Errorf("fetching client's Set-Cookie = %q, want sid=1", r.header.Get("Set-Cookie"))
	}
	if r := cl.get(0, "/c"); r.header.Get("Set-Cookie") != "" {
		t.Errorf("hit's Set-Cookie = %q, want none", r.header.Get("Set-Cookie"))
	}
	cl.wantHits(1)
}

func TestExpiresAndAge(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	cl.origin.set(func(w http.ResponseWriter, r *http.Request) {
		now := cl.clk.Now()
		w.Header().Set("Date", now.Add(-10*time.Second).UTC().Format(http.TimeFormat))
		w.Header().Set("Expires", now.Add(50*time.Second).UTC().Format(http.TimeFormat))
		w.Header().Set("Age", "25") // an upstream cache held it 25s
		_, _ = io.WriteString(w, "e")
	})
	r := cl.get(0, "/e")
	if got := r.header.Get("Age"); got != "25" {
		t.Errorf("Age on miss = %q, want 25 (the larger of Age and apparent age)", got)
	}
	cl.clk.Advance(30 * time.Second)
	if r = cl.get(0, "/e"); r.header.Get("Age") != "55" || !strings.Contains(r.cacheStatus(), "hit") {
		t.Errorf("after 30s: Age %q, Cache-Status %q; want 55, a hit", r.header.Get("Age"), r.cacheStatus())
	}
	// Lifetime is Expires - Date = 60s; age 55 + 6 = 61 is stale.
	cl.clk.Advance(6 * time.Second)
	cl.get(0, "/e")
	cl.wantHits(2)
}

func TestVaryVariants(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	cl.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		_, _ = io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
	})
	for i, lang := range []string{"en", "fr", "en", "fr", "de"} {
		if r := cl.get(0, "/v", "Accept-Language", lang); r.body != "lang="+lang {
			t.Fatalf("request %d (%s) = %q", i, lang, r.body)
		}
	}
	cl.wantHits(3)
	// Purging the key purges every variant.
	if n := cl.nodes[0].cache.Purge(Selector{Key: key(Policy{}, "/v")}); n != 3 {
		t.Errorf("Purge(key) removed %d, want 3 variants", n)
	}
	cl.get(0, "/v", "Accept-Language", "en")
	cl.wantHits(4)
}

func TestPolicyVary(t *testing.T) {
	pol := Policy{Vary: []string{"X-Device"}}
	cl := newCluster(t, 1, pol, nil)
	cl.origin.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "device="+r.Header.Get("X-Device"))
	})
	for _, d := range []string{"phone", "desktop", "phone"} {
		if r := cl.get(0, "/d", "X-Device", d); r.body != "device="+d {
			t.Fatalf("device %s got %q", d, r.body)
		}
	}
	cl.wantHits(2)
}

func TestClientConditionals(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	lm := cl.clk.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	cl.origin.set(answer(cl.clk, 200, "max-age=60", "body", "Etag", `"v1"`, "Last-Modified", lm))
	// The fill's own client sent a conditional: it gets its 304 too.
	if r := cl.get(0, "/c", "If-None-Match", `"v1"`); r.status != 304 {
		t.Errorf("conditional miss = %d, want 304", r.status)
	}
	if last := cl.origin.lastHeader(); last.Get("If-None-Match") != "" {
		t.Errorf("the fill forwarded the client's If-None-Match %q", last.Get("If-None-Match"))
	}
	tests := []struct {
		name string
		kv   []string
		want int
	}{
		{"etag match", []string{"If-None-Match", `"v1"`}, 304},
		{"weak etag match", []string{"If-None-Match", `W/"v0", W/"v1"`}, 304},
		{"star", []string{"If-None-Match", "*"}, 304},
		{"etag mismatch", []string{"If-None-Match", `"v2"`}, 200},
		{"not modified since", []string{"If-Modified-Since", lm}, 304},
		{"modified since", []string{"If-Modified-Since", cl.clk.Now().Add(-2 * time.Hour).UTC().Format(http.TimeFormat)}, 200},
		{"etag wins over date", []string{"If-None-Match", `"v2"`, "If-Modified-Since", lm}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cl.get(0, "/c", tt.kv...)
			if r.status != tt.want {
				t.Errorf("status = %d, want %d", r.status, tt.want)
			}
			if tt.want == 304 && (r.body != "" || r.header.Get("Etag") != `"v1"` || r.header.Get("Age") == "") {
				t.Errorf("304 body %q, Etag %q, Age %q", r.body, r.header.Get("Etag"), r.header.Get("Age"))
			}
		})
	}
	cl.wantHits(1)
}

func TestRevalidation(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	var conditional []string
	var mu sync.Mutex
	cl.origin.set(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conditional = append(conditional, r.Header.Get("If-None-Match"))
		mu.Unlock()
		w.Header().Set("Date", cl.clk.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("Etag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("X-Refreshed", "yes")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = io.WriteString(w, "original")
	})
	cl.get(0, "/rv")
	cl.clk.Advance(20 * time.Second)
	r := cl.get(0, "/rv")
	if r.status != 200 || r.body != "original" || r.header.Get("X-Refreshed") != "yes" {
		t.Fatalf("revalidated answer = %d %q X-Refreshed %q", r.status, r.body, r.header.Get("X-Refreshed"))
	}
	if got, want := r.cacheStatus(), "Portico; fwd=stale; fwd-status=304; stored; node=node-0"; got != want {
		t.Errorf("Cache-Status = %q, want %q", got, want)
	}
	if r = cl.get(0, "/rv"); !strings.Contains(r.cacheStatus(), "; hit;") && !strings.HasPrefix(r.cacheStatus(), "Portico; hit") {
		t.Errorf("after refresh Cache-Status = %q, want a hit", r.cacheStatus())
	}
	if r.header.Get("Age") != "0" {
		t.Errorf("Age after refresh = %q, want 0", r.header.Get("Age"))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conditional) != 2 || conditional[0] != "" || conditional[1] != `"v1"` {
		t.Errorf("origin saw If-None-Match %q, want [\"\" \"v1\"]", conditional)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	cl := newCluster(t, 1, Policy{StaleWhileRevalidate: time.Minute}, nil)
	release := make(chan struct{})
	open := releaseOnCleanup(t, release)
	var version int
	var mu sync.Mutex
	cl.origin.set(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		version++
		v := version
		mu.Unlock()
		if v == 2 {
			<-release // hold the refresh while stale answers go out
		}
		answer(cl.clk, 200, "max-age=10", fmt.Sprintf("v%d", v))(w, r)
	})
	cl.get(0, "/s")
	cl.clk.Advance(20 * time.Second)
	for i := range 5 {
		r := cl.get(0, "/s")
		if r.body != "v1" || !strings.Contains(r.cacheStatus(), "hit; stale; detail=stale-while-revalidate") {
			t.Fatalf("stale request %d = %q, Cache-Status %q", i, r.body, r.cacheStatus())
		}
	}
	waitFor(t, 5*time.Second, "the refresh to reach the origin", func() bool { return cl.hits() == 2 })
	open()
	waitFor(t, 5*time.Second, "the refreshed entry", func() bool {
		cl.settle()
		return cl.get(0, "/s").body == "v2"
	})
	cl.wantHits(2)
}

func TestStaleIfError(t *testing.T) {
	cl := newCluster(t, 1, Policy{StaleIfError: time.Minute}, nil)
	cl.origin.set(answer(cl.clk, 200, "max-age=10", "hello"))
	cl.get(0, "/e")
	cl.clk.Advance(30 * time.Second)
	cl.origin.set(answer(cl.clk, 503, "", "down"))
	r := cl.get(0, "/e")
	if r.status != 200 || r.body != "hello" || !strings.Contains(r.cacheStatus(), "hit; stale; fwd-status=503; detail=stale-if-error") {
		t.Fatalf("on 503: %d %q %q; want the stale entry", r.status, r.body, r.cacheStatus())
	}
	// A failing origin: the proxy answers 502.
	cl.origin.set(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	if r = cl.get(0, "/e"); r.status != 200 || r.body != "hello" {
		t.Fatalf("on a broken origin: %d %q; want the stale entry", r.status, r.body)
	}
	cl.clk.Advance(time.Minute) // past max-age + stale-if-error
	cl.origin.set(answer(cl.clk, 503, "", "down"))
	if r = cl.get(0, "/e"); r.status != 503 {
		t.Fatalf("past the window: %d, want the 503", r.status)
	}
}

func TestMustRevalidateNeverStale(t *testing.T) {
	cl := newCluster(t, 1, Policy{StaleIfError: time.Hour, StaleWhileRevalidate: time.Hour}, nil)
	cl.origin.set(answer(cl.clk, 200, "max-age=10, must-revalidate", "x"))
	cl.get(0, "/m")
	cl.clk.Advance(20 * time.Second)
	cl.origin.set(answer(cl.clk, 503, "", "down"))
	if r := cl.get(0, "/m"); r.status != 503 {
		t.Errorf("must-revalidate entry on error: %d, want 503", r.status)
	}
}

func TestPoisoningHeadersStripped(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	evil := []string{
		"X-Original-URL", "/admin", "X-Rewrite-URL", "/admin", "X-HTTP-Method-Override", "DELETE",
		"X-HTTP-Method", "DELETE", "X-Method-Override", "DELETE", "X-Forwarded-Server", "evil",
		"X-Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Scheme", "nothttps",
		"X-Forwarded-Proto", "nothttps", "X-Forwarded-Port", "1", "X-Forwarded-Prefix", "/evil",
		"Forwarded", "host=evil.example",
		"X-Forwarded-Ssl", "evil-on", "Front-End-Https", "evil-on", "X-Url-Scheme", "evil",
		"X-HTTP-Host-Override", "evil.example", "X-Original-Host", "evil.example", "X-Original-Uri", "/evil",
		"X-Forwarded-Path", "/evil", "X-Forwarded-Uri", "/evil",
	}
	cl.get(0, "/p", evil...)
	last := cl.origin.lastHeader()
	for i := 0; i < len(evil); i += 2 {
		if v := last.Get(evil[i]); strings.Contains(v, "evil") || v == "DELETE" || v == "/admin" || v == "nothttps" || v == "1" {
			t.Errorf("origin got %s: %q", evil[i], v)
		}
	}
	// Keyed, a forwarding header reaches the upstream and splits the key.
	pol := Policy{Key: KeySpec{Headers: []string{"X-Forwarded-Host"}}}
	cl2 := newCluster(t, 1, pol, nil)
	cl2.get(0, "/p", "X-Forwarded-Host", "a.example")
	if got := cl2.origin.lastHeader().Get("X-Forwarded-Host"); !strings.HasPrefix(got, "a.example") {
		t.Errorf("keyed X-Forwarded-Host upstream = %q, want a.example", got)
	}
	cl2.get(0, "/p", "X-Forwarded-Host", "b.example")
	cl2.wantHits(2)
}

func TestLargeBodyStreamed(t *testing.T) {
	pol := Policy{MaxObjectSize: 4 << 10}
	big := strings.Repeat("x", 64<<10)
	for _, withLength := range []bool{true, false} {
		t.Run(fmt.Sprintf("content-length=%v", withLength), func(t *testing.T) {
			cl := newCluster(t, 1, pol, nil)
			cl.origin.set(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				if withLength {
					w.Header().Set("Content-Length", fmt.Sprint(len(big)))
				}
				for i := 0; i < len(big); i += 1 << 10 {
					_, _ = io.WriteString(w, big[i:i+1<<10])
					w.(http.Flusher).Flush()
				}
			})
			for range 2 {
				r := cl.get(0, "/big")
				if r.body != big {
					t.Fatalf("body of %d bytes, want %d", len(r.body), len(big))
				}
				if !strings.Contains(r.cacheStatus(), "detail=too-large") {
					t.Errorf("Cache-Status = %q, want detail=too-large", r.cacheStatus())
				}
			}
			cl.wantHits(2)
			cl.settle()
			if n := cl.nodes[0].cache.owner.idx.len(); n != 0 {
				t.Errorf("%d entries stored, want 0", n)
			}
		})
	}
}

// TestUncacheableWaitersGoThemselves: when the coalesced response turns
// out not shareable, every waiter gets its own upstream response.
func TestUncacheableWaitersGoThemselves(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	release := make(chan struct{})
	open := releaseOnCleanup(t, release)
	var n int
	var mu sync.Mutex
	cl.origin.set(func(w http.ResponseWriter, r *http.Request) {
		<-release
		mu.Lock()
		n++
		me := n
		mu.Unlock()
		w.Header().Set("Cache-Control", "private, max-age=60")
		fmt.Fprintf(w, "user-%d", me)
	})
	const clients = 5
	bodies := make(chan string, clients)
	for range clients {
		go func() { bodies <- cl.get(0, "/private").body }()
	}
	waitFor(t, 5*time.Second, "all clients to arrive", func() bool { return cl.nodes[0].entered.Load() == clients })
	open()
	seen := map[string]bool{}
	for range clients {
		seen[<-bodies] = true
	}
	if len(seen) != clients {
		t.Errorf("distinct bodies = %d (%v), want %d: a private answer was shared", len(seen), seen, clients)
	}
	cl.wantHits(clients)
}

func TestMemoryBudget(t *testing.T) {
	const budget = 64 << 10
	cl := newCluster(t, 1, Policy{}, nil, func(c *Config) { c.MaxBytes = budget })
	body := strings.Repeat("b", 1<<10)
	cl.origin.set(answer(cl.clk, 200, "max-age=600", body))
	c := cl.nodes[0].cache
	for i := range 400 {
		if r := cl.get(0, fmt.Sprintf("/k%d", i)); r.body != body {
			t.Fatalf("request %d: body of %d bytes", i, len(r.body))
		}
		if i%50 == 49 {
			cl.settle()
			if used := c.owner.used(); used > budget {
				t.Fatalf("after %d keys the owner tier holds %d bytes, over its %d budget", i+1, used, budget)
			}
		}
	}
	cl.settle()
	entries := c.owner.idx.len()
	if entries == 0 || int64(entries)*(1<<10) > budget {
		t.Errorf("index holds %d entries of >1 KiB each, budget %d", entries, budget)
	}
	// The index holds what ristretto holds, evictions included.
	held := 0
	for i := range 400 {
		if c.owner.get(key(Policy{}, fmt.Sprintf("/k%d", i))) != nil {
			held++
		}
	}
	if held != entries {
		t.Errorf("ristretto holds %d entries, the index %d", held, entries)
	}
	if n := c.Purge(Selector{Prefix: "https://example.com/k"}); n != entries {
		t.Errorf("prefix purge removed %d, want %d", n, entries)
	}
	cl.settle()
	if n := c.owner.idx.len(); n != 0 {
		t.Errorf("index holds %d entries after purging all", n)
	}
}

func TestScopeNode(t *testing.T) {
	cl := newCluster(t, 2, Policy{Scope: ScopeNode}, nil)
	for i := range 2 {
		if r := cl.get(i, "/n"); r.cacheStatus() != "Portico; fwd=miss; stored; node=node-"+fmt.Sprint(i) {
			t.Errorf("node %d: %q", i, r.cacheStatus())
		}
	}
	cl.get(1, "/n")
	cl.wantHits(2)
}

func TestOnlyIfCached(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	if r := cl.get(0, "/o", "Cache-Control", "only-if-cached"); r.status != 504 {
		t.Errorf("only-if-cached miss = %d, want 504", r.status)
	}
	cl.wantHits(0)
	cl.get(0, "/o")
	if r := cl.get(0, "/o", "Cache-Control", "only-if-cached"); r.status != 200 || r.body != "hello" {
		t.Errorf("only-if-cached hit = %d %q", r.status, r.body)
	}
	cl.wantHits(1)
}

func TestRangeAndHead(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	if r := cl.get(0, "/r", "Range", "bytes=0-1"); r.status != 200 && r.status != 206 {
		t.Fatalf("range miss = %d", r.status)
	}
	cl.get(0, "/r")
	r := cl.get(0, "/r", "Range", "bytes=1-3")
	if r.status != 206 || r.body != "ell" || !strings.Contains(r.cacheStatus(), "hit") {
		t.Errorf("range of a hit = %d %q %q, want 206 ell, a hit", r.status, r.body, r.cacheStatus())
	}
	h := cl.do(0, http.MethodHead, "/r")
	h2 := cl.do(0, http.MethodHead, "/r")
	if h.body != "" || h2.body != "" || !strings.Contains(h2.cacheStatus(), "hit") {
		t.Errorf("HEAD: bodies %q %q, second Cache-Status %q", h.body, h2.body, h2.cacheStatus())
	}
	cl.wantHits(3) // the range miss, the GET, the first HEAD
}

func TestBypass(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	for range 2 {
		r := cl.do(0, http.MethodPost, "/b")
		if !strings.Contains(r.cacheStatus(), "fwd=bypass") {
			t.Errorf("POST Cache-Status = %q, want fwd=bypass", r.cacheStatus())
		}
	}
	cl.wantHits(2)
}

func TestTagHeadersNotSentToClients(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	cl.origin.set(answer(cl.clk, 200, "max-age=60", "t", "Surrogate-Key", "a b", "Cache-Tag", "c,d"))
	for range 2 {
		if r := cl.get(0, "/t"); r.header.Get("Surrogate-Key") != "" || r.header.Get("Cache-Tag") != "" {
			t.Errorf("client got tag headers %q %q", r.header.Get("Surrogate-Key"), r.header.Get("Cache-Tag"))
		}
	}
}

// TestCacheOnlyHeadersNeverReachClients: tag headers and
// Portico-Cache-Control are the cache's; they are removed from every
// answer, also those that go around the cache (a Range miss, a bypassed
// or unsafe method, an uncacheable response).
func TestCacheOnlyHeadersNeverReachClients(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, nil)
	cl.origin.set(answer(cl.clk, 200, "max-age=60", "t", "Surrogate-Key", "a b", "Portico-Cache-Control", "max-age=5"))
	for _, c := range []struct {
		method, path string
		kv           []string
	}{
		{http.MethodGet, "/range", []string{"Range", "bytes=0-0"}},
		{http.MethodPost, "/post", nil},
		{http.MethodOptions, "/options", nil},
		{http.MethodGet, "/fill", nil},
		{http.MethodGet, "/fill", nil},
	} {
		r := cl.do(0, c.method, c.path, c.kv...)
		if r.header.Get("Surrogate-Key") != "" || r.header.Get("Portico-Cache-Control") != "" {
			t.Errorf("%s %s (%s): Surrogate-Key %q, Portico-Cache-Control %q; want neither", c.method, c.path,
				r.cacheStatus(), r.header.Get("Surrogate-Key"), r.header.Get("Portico-Cache-Control"))
		}
	}
}

// TestUpgradeGoesAround: an Upgrade request bypasses the cache and its
// connection is handed over (the bypass writer hijacks through).
func TestUpgradeGoesAround(t *testing.T) {
	cl := newCluster(t, 1, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString(line)
		_ = brw.Flush()
	})
	tr := cl.client.Transport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2, tr.TLSNextProto = false, map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.TLSClientConfig.NextProtos = nil
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, cl.nodes[0].front.URL+"/ws", nil)
	req.Host = "example.com"
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	rwc := resp.Body.(io.ReadWriteCloser)
	if _, err := io.WriteString(rwc, "ping\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(rwc).ReadString('\n')
	if got != "ping\n" {
		t.Errorf("echo = %q, %v; want ping", got, err)
	}
}
