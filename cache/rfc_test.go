package cache

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestParseHTTPDate: the three forms of RFC 9110 §5.6.7, exactly.
func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		in string
		ok bool
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", true},  // IMF-fixdate
		{"Sunday, 06-Nov-94 08:49:37 GMT", true}, // RFC 850
		{"Sun Nov  6 08:49:37 1994", true},       // asctime
		{"Sun Nov 06 08:49:37 1994", true},       // asctime, two-digit day
		{"Sun, 06 Nov 1994 8:49:37 GMT", false},  // one-digit hour
		{"Sun, 6 Nov 1994 08:49:37 GMT", false},  // one-digit day
		{"Sun, 06  Nov 1994 08:49:37 GMT", false},
		{"Sun,  06 Nov 1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 08:49:37 UTC", false},
		{"Sun, 06 Nov 1994 08:49:37 GMT ", false},
		{" Sun, 06 Nov 1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 08:49:7 GMT", false},
		{"Sun, 06 Nov 1994 08:49:37", false},
		{"Sun, 06 Foo 1994 08:49:37 GMT", false},
		{"Sun, 32 Nov 1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 25:49:37 GMT", false},
		{"Sunday, 6-Nov-94 08:49:37 GMT", false},
		{"Sunday, 06-Nov-94 8:49:37 GMT", false},
		{"Sundae, 06-Nov-94 08:49:37 GMT", false},
		{"Sun Nov 6 08:49:37 1994", false}, // asctime needs the padding space
		{"Sun Nov  6 8:49:37 1994", false},
		{"Sun Nov  6 08:49:37  1994", false},
		{"0", false},
		{"", false},
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range tests {
		got, ok := parseHTTPDate(tt.in, now)
		if ok != tt.ok || ok && !got.Equal(want) {
			t.Errorf("parseHTTPDate(%q) = %v, %v; want ok %v", tt.in, got, ok, tt.ok)
		}
	}
	// RFC 850's two-digit year: more than 50 years ahead is the century
	// before, else this century.
	for in, year := range map[string]int{"Thursday, 01-Jan-70 00:00:00 GMT": 2070, "Monday, 01-Jan-77 00:00:00 GMT": 1977,
		"Saturday, 01-Jan-00 00:00:00 GMT": 2000} {
		if got, ok := parseHTTPDate(in, now); !ok || got.Year() != year {
			t.Errorf("parseHTTPDate(%q) = %v, %v; want the year %d", in, got, ok, year)
		}
	}
}

// TestStrictDatesInFreshness: a date that only a lax parser reads is
// invalid: an invalid Expires is already expired, an invalid Date is the
// time the response came.
func TestStrictDatesInFreshness(t *testing.T) {
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p, err := compile(Policy{})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	lax := "Fri, 02 Jan 2026 4:04:05 GMT" // an hour ahead, one-digit hour
	f, reason := p.storable(r, 200, http.Header{"Expires": {lax}, "Etag": {`"v"`}}, date)
	if reason != "" || f.lifetime != 0 {
		t.Errorf("lax Expires: lifetime %v reason %q, want 0 (expired)", f.lifetime, reason)
	}
	f, reason = p.storable(r, 200, http.Header{"Expires": {"Fri, 02  Jan 2026 04:04:05 GMT"}}, date)
	if reason != "stale" || f.lifetime != 0 {
		t.Errorf("double-space Expires: lifetime %v reason %q, want stale", f.lifetime, reason)
	}
	now := date.Add(time.Minute)
	if got := responseDate(http.Header{"Date": {"Fri, 02 Jan 2026 3:04:05 GMT"}}, now); !got.Equal(now) {
		t.Errorf("lax Date read as %v, want the response time %v", got, now)
	}
}

// TestAgeHeader: the first value of a list counts, and the Age sent to
// clients is never below the one received.
func TestAgeHeader(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		age  []string
		want time.Duration
	}{
		{"one value", []string{"7200"}, 2 * time.Hour},
		{"a list in one line", []string{"7200, 0"}, 2 * time.Hour},
		{"a list without space", []string{"7200,0"}, 2 * time.Hour},
		{"two lines", []string{"7200", "0"}, 2 * time.Hour},
		{"spaces around", []string{" 30 "}, 30 * time.Second},
		{"huge is capped", []string{"99999999999999"}, maxDelta},
		{"negative ignored", []string{"-3"}, 0},
		{"garbage ignored", []string{"abc"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Age": tt.age}
			if got := initialAge(h, t0, t0, t0); got != tt.want {
				t.Errorf("initialAge = %v, want %v", got, tt.want)
			}
		})
	}

	cl := newCluster(t, 1, Policy{}, nil)
	cl.origin.set(answer(cl.clk, 200, "max-age=86400", "old", "Age", "7200, 0"))
	for i, what := range []string{"fill", "hit"} {
		r := cl.get(0, "/aged")
		if got := r.header.Get("Age"); got != "7200" {
			t.Errorf("%s (%d): Age %q, want 7200", what, i, got)
		}
	}
	cl.clk.Advance(-time.Minute) // a clock stepped back does not make it younger
	if got := cl.get(0, "/aged").header.Get("Age"); got != "7200" {
		t.Errorf("after the clock went back: Age %q, want 7200", got)
	}
}

// TestTargetedCacheControl: Portico-Cache-Control, then CDN-Cache-Control
// (RFC 9213), then Cache-Control decide; an invalid targeted field is
// ignored.
func TestTargetedCacheControl(t *testing.T) {
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		resp     http.Header
		reason   string
		lifetime time.Duration
	}{
		{"cdn beats cache-control", http.Header{"Cache-Control": {"no-store"}, "Cdn-Cache-Control": {"max-age=60"}}, "", time.Minute},
		{"cdn no-store", http.Header{"Cache-Control": {"max-age=60"}, "Cdn-Cache-Control": {"no-store"}}, "no-store", 0},
		{"cdn private", http.Header{"Cache-Control": {"max-age=60"}, "Cdn-Cache-Control": {"private"}}, "private", 0},
		{"portico beats cdn", http.Header{"Cdn-Cache-Control": {"no-store"}, "Portico-Cache-Control": {"max-age=30"}}, "", 30 * time.Second},
		{"portico beats cache-control", http.Header{"Cache-Control": {"private"}, "Portico-Cache-Control": {"max-age=30"}}, "", 30 * time.Second},
		{"targeted ignores expires", http.Header{"Cdn-Cache-Control": {"no-cache"}, "Expires": {date.Add(time.Hour).Format(http.TimeFormat)}, "Etag": {`"v"`}}, "", 0},
		{"invalid cdn ignored", http.Header{"Cache-Control": {"max-age=10"}, "Cdn-Cache-Control": {"max-age=60, ="}}, "", 10 * time.Second},
		{"invalid portico falls to cdn", http.Header{"Cdn-Cache-Control": {"max-age=20"}, "Portico-Cache-Control": {"max-age=\"x"}}, "", 20 * time.Second},
		{"empty cdn ignored", http.Header{"Cache-Control": {"max-age=10"}, "Cdn-Cache-Control": {""}}, "", 10 * time.Second},
		{"cdn s-maxage", http.Header{"Cdn-Cache-Control": {"s-maxage=5, max-age=60"}}, "", 5 * time.Second},
	}
	p, err := compile(Policy{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
			f, reason := p.storable(r, 200, tt.resp, date)
			if reason != tt.reason || reason == "" && f.lifetime != tt.lifetime {
				t.Errorf("storable = %v %q, want %v %q", f.lifetime, reason, tt.lifetime, tt.reason)
			}
		})
	}

	// Through the middleware: Portico-Cache-Control is Portico's own and
	// never reaches a client; CDN-Cache-Control goes on to caches in front.
	cl := newCluster(t, 1, Policy{}, nil)
	cl.origin.set(answer(cl.clk, 200, "no-store", "cdn", "Cdn-Cache-Control", "max-age=60", "Portico-Cache-Control", "max-age=30"))
	cl.get(0, "/t")
	r := cl.get(0, "/t")
	if !strings.Contains(r.cacheStatus(), "hit") || r.header.Get("Portico-Cache-Control") != "" || r.header.Get("Cdn-Cache-Control") != "max-age=60" {
		t.Errorf("second request: %q, Portico-Cache-Control %q, CDN-Cache-Control %q; want a hit without the first and with the second",
			r.cacheStatus(), r.header.Get("Portico-Cache-Control"), r.header.Get("Cdn-Cache-Control"))
	}
	cl.wantHits(1)
}

// TestExplicitFreshnessAnyStatus: explicit freshness makes any final
// status storable; Statuses only limits what the policy's TTL may store.
func TestExplicitFreshnessAnyStatus(t *testing.T) {
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		pol    Policy
		status int
		resp   http.Header
		reason string
	}{
		{"201 max-age", Policy{}, 201, http.Header{"Cache-Control": {"max-age=60"}}, ""},
		{"302 s-maxage", Policy{}, 302, http.Header{"Cache-Control": {"s-maxage=60"}}, ""},
		{"500 max-age", Policy{}, 500, http.Header{"Cache-Control": {"max-age=60"}}, ""},
		{"418 expires", Policy{}, 418, http.Header{"Expires": {date.Add(time.Minute).Format(http.TimeFormat)}}, ""},
		{"500 cdn max-age", Policy{}, 500, http.Header{"Cdn-Cache-Control": {"max-age=60"}}, ""},
		{"500 ttl only", Policy{TTL: time.Minute}, 500, http.Header{}, "status"},
		{"302 ttl only", Policy{TTL: time.Minute}, 302, http.Header{}, "status"},
		{"200 not listed, ttl only", Policy{TTL: time.Minute, Statuses: []int{404}}, 200, http.Header{}, "status"},
		{"200 not listed, max-age", Policy{Statuses: []int{404}}, 200, http.Header{"Cache-Control": {"max-age=60"}}, ""},
		{"206 never", Policy{}, 206, http.Header{"Cache-Control": {"max-age=60"}}, "status"},
		{"304 never", Policy{}, 304, http.Header{"Cache-Control": {"max-age=60"}}, "status"},
		{"500 max-age=0 under override", Policy{TTL: time.Minute, Override: true}, 500, http.Header{"Cache-Control": {"max-age=0"}}, "status"},
		{"200 listed under override", Policy{TTL: time.Minute, Override: true}, 200, http.Header{"Cache-Control": {"max-age=0"}}, ""},
		{"set-cookie2 like set-cookie", Policy{}, 200, http.Header{"Cache-Control": {"max-age=60"}, "Set-Cookie2": {"a=b"}}, "set-cookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := compile(tt.pol)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
			if _, reason := p.storable(r, tt.status, tt.resp, date); reason != tt.reason {
				t.Errorf("reason = %q, want %q", reason, tt.reason)
			}
		})
	}
}

// TestSetCookie2GoesToFetcherOnly: with cookies allowed, Set-Cookie2 is
// never stored, like Set-Cookie.
func TestSetCookie2GoesToFetcherOnly(t *testing.T) {
	cl := newCluster(t, 1, Policy{AllowSetCookie: true}, nil)
	cl.origin.set(answer(cl.clk, 200, "max-age=60", "c", "Set-Cookie2", "s=1"))
	if r := cl.get(0, "/c2"); r.header.Get("Set-Cookie2") != "s=1" {
		t.Errorf("fetcher's Set-Cookie2 = %q, want s=1", r.header.Get("Set-Cookie2"))
	}
	if r := cl.get(0, "/c2"); r.header.Get("Set-Cookie2") != "" || !strings.Contains(r.cacheStatus(), "hit") {
		t.Errorf("hit: Set-Cookie2 %q, Cache-Status %q; want none, a hit", r.header.Get("Set-Cookie2"), r.cacheStatus())
	}
}
