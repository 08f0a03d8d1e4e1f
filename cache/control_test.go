package cache

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestStorable(t *testing.T) {
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	httpDate := func(d time.Duration) string { return date.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name     string
		pol      Policy
		status   int
		resp     http.Header
		req      http.Header
		reason   string
		lifetime time.Duration
		swr, sie time.Duration
		mustReva bool
	}{
		{name: "max-age", resp: http.Header{"Cache-Control": {"max-age=60"}}, lifetime: time.Minute},
		{name: "s-maxage wins over max-age", resp: http.Header{"Cache-Control": {"max-age=60, s-maxage=120"}}, lifetime: 2 * time.Minute, mustReva: true},
		{name: "names are case-insensitive", resp: http.Header{"Cache-Control": {"Max-Age=30"}}, lifetime: 30 * time.Second},
		{name: "first duplicate counts", resp: http.Header{"Cache-Control": {"max-age=10", "max-age=99"}}, lifetime: 10 * time.Second},
		{name: "invalid max-age is stale", resp: http.Header{"Cache-Control": {"max-age=abc"}, "Etag": {`"v"`}}, lifetime: 0},
		{name: "huge max-age is capped", resp: http.Header{"Cache-Control": {"max-age=99999999999999"}}, lifetime: maxDelta},
		{name: "expires", resp: http.Header{"Expires": {httpDate(90 * time.Second)}}, lifetime: 90 * time.Second},
		{name: "max-age beats expires", resp: http.Header{"Cache-Control": {"max-age=5"}, "Expires": {httpDate(time.Hour)}}, lifetime: 5 * time.Second},
		{name: "invalid expires is expired", resp: http.Header{"Expires": {"0"}, "Last-Modified": {httpDate(-time.Hour)}}, lifetime: 0},
		{name: "no freshness, no ttl", resp: http.Header{}, reason: "no-ttl"},
		{name: "no freshness, ttl", pol: Policy{TTL: time.Minute}, resp: http.Header{}, lifetime: time.Minute},
		{name: "ttl does not override", pol: Policy{TTL: time.Minute}, resp: http.Header{"Cache-Control": {"max-age=5"}}, lifetime: 5 * time.Second},
		{name: "override", pol: Policy{TTL: time.Minute, Override: true}, resp: http.Header{"Cache-Control": {"max-age=5"}}, lifetime: time.Minute},
		{name: "override beats no-cache", pol: Policy{TTL: time.Minute, Override: true}, resp: http.Header{"Cache-Control": {"no-cache"}}, lifetime: time.Minute},
		{name: "override never beats no-store", pol: Policy{TTL: time.Minute, Override: true}, resp: http.Header{"Cache-Control": {"no-store"}}, reason: "no-store"},
		{name: "override never beats private", pol: Policy{TTL: time.Minute, Override: true}, resp: http.Header{"Cache-Control": {"private, max-age=60"}}, reason: "private"},
		{name: "qualified private", resp: http.Header{"Cache-Control": {`private="Set-Cookie", max-age=60`}}, reason: "private"},
		{name: "no-cache with validator", resp: http.Header{"Cache-Control": {"no-cache, max-age=60"}, "Etag": {`"a"`}}, lifetime: 0, mustReva: true},
		{name: "no-cache without validator", resp: http.Header{"Cache-Control": {"no-cache"}}, reason: "stale"},
		{name: "public alone has no freshness", resp: http.Header{"Cache-Control": {"public"}}, reason: "no-ttl"},
		{name: "status not listed", pol: Policy{TTL: time.Minute}, status: 500, resp: http.Header{}, reason: "status"},
		{name: "404 listed", status: 404, resp: http.Header{"Cache-Control": {"max-age=60"}}, lifetime: time.Minute},
		{name: "set-cookie", resp: http.Header{"Cache-Control": {"max-age=60"}, "Set-Cookie": {"a=b"}}, reason: "set-cookie"},
		{name: "set-cookie allowed", pol: Policy{AllowSetCookie: true}, resp: http.Header{"Cache-Control": {"max-age=60"}, "Set-Cookie": {"a=b"}}, lifetime: time.Minute},
		{name: "authorization", req: http.Header{"Authorization": {"Bearer x"}}, resp: http.Header{"Cache-Control": {"max-age=60"}}, reason: "authorization"},
		{name: "authorization public", req: http.Header{"Authorization": {"Bearer x"}}, resp: http.Header{"Cache-Control": {"public, max-age=60"}}, lifetime: time.Minute},
		{name: "authorization s-maxage", req: http.Header{"Authorization": {"Bearer x"}}, resp: http.Header{"Cache-Control": {"s-maxage=60"}}, lifetime: time.Minute, mustReva: true},
		{name: "authorization must-revalidate", req: http.Header{"Authorization": {"Bearer x"}}, resp: http.Header{"Cache-Control": {"max-age=60, must-revalidate"}}, lifetime: time.Minute, mustReva: true},
		{name: "authorization allowed", pol: Policy{AllowAuthorization: true}, req: http.Header{"Authorization": {"Bearer x"}}, resp: http.Header{"Cache-Control": {"max-age=60"}}, lifetime: time.Minute},
		{name: "vary star", resp: http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"Accept, *"}}, reason: "vary-star"},
		{name: "request no-store", req: http.Header{"Cache-Control": {"no-store"}}, resp: http.Header{"Cache-Control": {"max-age=60"}}, reason: "request-no-store"},
		{name: "stale windows from upstream", resp: http.Header{"Cache-Control": {"max-age=1, stale-while-revalidate=30, stale-if-error=60"}},
			lifetime: time.Second, swr: 30 * time.Second, sie: time.Minute},
		{name: "stale windows, policy longer", pol: Policy{StaleWhileRevalidate: time.Hour, StaleIfError: 2 * time.Hour},
			resp: http.Header{"Cache-Control": {"max-age=1, stale-while-revalidate=30"}}, lifetime: time.Second, swr: time.Hour, sie: 2 * time.Hour},
		{name: "must-revalidate forbids stale", pol: Policy{StaleWhileRevalidate: time.Hour},
			resp: http.Header{"Cache-Control": {"max-age=1, must-revalidate"}}, lifetime: time.Second, mustReva: true},
		{name: "proxy-revalidate forbids stale", pol: Policy{StaleIfError: time.Hour},
			resp: http.Header{"Cache-Control": {"max-age=1, proxy-revalidate"}}, lifetime: time.Second, mustReva: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := compile(tt.pol)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
			for k, v := range tt.req {
				r.Header[k] = v
			}
			status := tt.status
			if status == 0 {
				status = 200
			}
			f, reason := p.storable(r, status, tt.resp, date)
			if reason != tt.reason {
				t.Fatalf("reason = %q, want %q", reason, tt.reason)
			}
			if reason != "" {
				return
			}
			if f.lifetime != tt.lifetime || f.swr != tt.swr || f.sie != tt.sie || f.mustRevalidate != tt.mustReva {
				t.Errorf("freshness = %+v, want lifetime %v swr %v sie %v mustRevalidate %v", f, tt.lifetime, tt.swr, tt.sie, tt.mustReva)
			}
		})
	}
}

func TestInitialAge(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name      string
		age       string
		date      time.Time
		req, resp time.Time
		want      time.Duration
	}{
		{name: "fresh from origin", date: t0, req: t0, resp: t0, want: 0},
		{name: "age header", age: "30", date: t0, req: t0, resp: t0, want: 30 * time.Second},
		{name: "response delay added", age: "30", date: t0, req: t0, resp: t0.Add(2 * time.Second), want: 32 * time.Second},
		{name: "apparent age wins", age: "5", date: t0.Add(-time.Minute), req: t0, resp: t0, want: time.Minute},
		{name: "date in the future", date: t0.Add(time.Hour), req: t0, resp: t0, want: 0},
		{name: "bad age ignored", age: "-3", date: t0, req: t0, resp: t0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.age != "" {
				h.Set("Age", tt.age)
			}
			if got := initialAge(h, tt.date, tt.req, tt.resp); got != tt.want {
				t.Errorf("initialAge = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	bad := []Policy{
		{TTL: -1},
		{Override: true},
		{Methods: []string{"POST"}},
		{Statuses: []int{206}},
		{Statuses: []int{99}},
		{Scope: "planet"},
		{Vary: []string{"bad header"}},
		{MaxObjectSize: -1},
		{StaleIfError: -time.Second},
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", p)
		}
	}
	if err := (Policy{}).Validate(); err != nil {
		t.Errorf("Validate(zero) = %v, want nil", err)
	}
}
