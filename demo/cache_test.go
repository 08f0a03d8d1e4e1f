package demo_test

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/demo"
)

// manualClock is an Options.Now the test moves by hand.
type manualClock struct{ ns atomic.Int64 }

func (c *manualClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *manualClock) add(d time.Duration) { c.ns.Add(int64(d)) }

func TestCache(t *testing.T) {
	clock := &manualClock{}
	t0 := time.Unix(1_700_000_040, 0) // a multiple of 60 s since the epoch
	clock.set(t0)
	_, ts := start(t, demo.Options{Now: clock.now})

	first, body := get(t, ts, "/cache/60")
	etag, lastMod := first.Header.Get("ETag"), first.Header.Get("Last-Modified")
	if first.StatusCode != http.StatusOK || first.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Fatalf("/cache/60 = %d, Cache-Control %q; want 200, public, max-age=60", first.StatusCode, first.Header.Get("Cache-Control"))
	}
	if want := `W/"cache-60-1700000040"`; etag != want {
		t.Errorf("ETag = %s, want %s", etag, want)
	}
	if want := t0.UTC().Format(http.TimeFormat); lastMod != want {
		t.Errorf("Last-Modified = %s, want %s", lastMod, want)
	}
	wantBodyTime(t, body, t0)

	// Later in the same 60 s version: same validators, fresh body time.
	clock.add(59 * time.Second)
	again, body := get(t, ts, "/cache/60")
	if again.Header.Get("ETag") != etag || again.Header.Get("Last-Modified") != lastMod {
		t.Errorf("validators changed within the version: %s %s, want %s %s",
			again.Header.Get("ETag"), again.Header.Get("Last-Modified"), etag, lastMod)
	}
	wantBodyTime(t, body, t0.Add(59*time.Second))

	lastModTime, _ := http.ParseTime(lastMod)
	tests := []struct {
		name       string
		method     string
		header     http.Header
		wantStatus int
	}{
		{"no validators", "", nil, http.StatusOK},
		{"if-none-match same tag", "", http.Header{"If-None-Match": {etag}}, http.StatusNotModified},
		{"if-none-match strong form matches weakly", "", http.Header{"If-None-Match": {`"cache-60-1700000040"`}}, http.StatusNotModified},
		{"if-none-match in a list", "", http.Header{"If-None-Match": {`"other", ` + etag}}, http.StatusNotModified},
		{"if-none-match star", "", http.Header{"If-None-Match": {"*"}}, http.StatusNotModified},
		{"if-none-match other", "", http.Header{"If-None-Match": {`W/"cache-60-1"`}}, http.StatusOK},
		{"head matches too", http.MethodHead, http.Header{"If-None-Match": {etag}}, http.StatusNotModified},
		{"post ignores validators", http.MethodPost, http.Header{"If-None-Match": {etag}}, http.StatusOK},
		{"if-modified-since equal", "", http.Header{"If-Modified-Since": {lastMod}}, http.StatusNotModified},
		{"if-modified-since later", "", http.Header{"If-Modified-Since": {lastModTime.Add(time.Hour).Format(http.TimeFormat)}}, http.StatusNotModified},
		{"if-modified-since earlier", "", http.Header{"If-Modified-Since": {lastModTime.Add(-time.Second).Format(http.TimeFormat)}}, http.StatusOK},
		{"if-modified-since garbage", "", http.Header{"If-Modified-Since": {"yesterday"}}, http.StatusOK},
		{"if-none-match wins over if-modified-since", "", http.Header{"If-None-Match": {`"nope"`}, "If-Modified-Since": {lastMod}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, ts, request{method: tt.method, path: "/cache/60", header: tt.header})
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") != "public, max-age=60" {
				t.Errorf("ETag, Cache-Control = %s, %s; want %s, public, max-age=60", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"), etag)
			}
			if resp.StatusCode == http.StatusNotModified && len(body) != 0 {
				t.Errorf("304 body = %q, want empty", body)
			}
		})
	}

	// The next version: new validators, the old tag no longer matches.
	clock.add(time.Second)
	next, _ := do(t, ts, request{path: "/cache/60", header: http.Header{"If-None-Match": {etag}}})
	if next.StatusCode != http.StatusOK || next.Header.Get("ETag") != `W/"cache-60-1700000100"` {
		t.Errorf("next version = %d %s, want 200 W/\"cache-60-1700000100\"", next.StatusCode, next.Header.Get("ETag"))
	}
}

func TestCache_ZeroSeconds(t *testing.T) {
	clock := &manualClock{}
	clock.set(time.Unix(1_700_000_000, 500_000_000))
	_, ts := start(t, demo.Options{Now: clock.now})
	resp, _ := get(t, ts, "/cache/0")
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=0" {
		t.Errorf("Cache-Control = %q, want public, max-age=0", got)
	}
	if got, want := resp.Header.Get("ETag"), `W/"cache-0-1700000000"`; got != want {
		t.Errorf("ETag = %s, want %s (one-second versions)", got, want)
	}
}

func TestCache_BadInput(t *testing.T) {
	_, ts := start(t, demo.Options{})
	for _, path := range []string{"/cache/-1", "/cache/31536001", "/cache/1h"} {
		t.Run(path, func(t *testing.T) {
			resp, body := get(t, ts, path)
			wantProblem(t, resp, body, http.StatusBadRequest, "0 to 31536000")
		})
	}
}

func wantBodyTime(t *testing.T, body []byte, want time.Time) {
	t.Helper()
	var b struct {
		Time time.Time `json:"time"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("cache body %q: %v", body, err)
	}
	if !b.Time.Equal(want) {
		t.Errorf("body time = %v, want %v", b.Time, want)
	}
}
