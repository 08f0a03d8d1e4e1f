package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/portico-gw/portico/node/config"
)

func isNoHealthy(err error) bool { return errors.Is(err, ErrNoHealthyTarget) }

func TestHash_SameKeySameTarget(t *testing.T) {
	bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
	cfg := upstreamConfig(bs[0].url(), bs[1].url(), bs[2].url())
	cfg.Balance, cfg.HashOn = "hash", "header:X-User"
	up := newTestUpstream(t, cfg, Options{})
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	seen := map[string]int{}
	for i := range 60 {
		user := fmt.Sprintf("user-%d", i%6)
		_, name, _ := g.do(t, "GET", "/", http.Header{"X-User": {user}})
		if first, ok := seen[user]; ok && first != int(name[0]) {
			t.Fatalf("%s moved from %c to %s", user, first, name)
		}
		seen[user] = int(name[0])
	}
}

func TestHash_SpreadAndMinimalMovement(t *testing.T) {
	u := testUpstream(t, 4, func(c *config.Upstream) { c.Balance, c.HashOn = "hash", "header:X-User" })
	const keys = 4000
	before := make([]int, keys)
	counts := make([]int, 4)
	for k := range keys {
		before[k] = pickIndex(t, u, userRequest(k), nil)
		counts[before[k]]++
	}
	for i, n := range counts {
		if n < keys/4*8/10 || n > keys/4*12/10 {
			t.Errorf("target %d holds %d of %d keys, want %d±20%%", i, n, keys, keys/4)
		}
	}
	u.targets[2].healthy.Store(false) // take one target out
	for k := range keys {
		got := pickIndex(t, u, userRequest(k), nil)
		switch {
		case before[k] == 2 && got == 2:
			t.Fatalf("key %d still on the removed target", k)
		case before[k] != 2 && got != before[k]:
			t.Fatalf("key %d moved from %d to %d though its target stayed", k, before[k], got)
		}
	}
	u.targets[2].healthy.Store(true)
	for k := range keys {
		if got := pickIndex(t, u, userRequest(k), nil); got != before[k] {
			t.Fatalf("key %d on %d after the target came back, want %d", k, got, before[k])
		}
	}
}

func TestHash_WeightsShareKeys(t *testing.T) {
	u := testUpstream(t, 2, func(c *config.Upstream) {
		c.Balance, c.HashOn = "hash", "header:X-User"
		c.Targets[0].Weight = weight(3)
	})
	counts := make([]int, 2)
	for k := range 4000 {
		counts[pickIndex(t, u, userRequest(k), nil)]++
	}
	if share := float64(counts[0]) / 4000; share < 0.70 || share > 0.80 {
		t.Errorf("weight-3 target holds %.3f of keys, want 0.75±0.05", share)
	}
}

func TestHash_RetryGoesToRunnerUp(t *testing.T) {
	u := testUpstream(t, 3, func(c *config.Upstream) { c.Balance, c.HashOn = "hash", "header:X-User" })
	r := userRequest(7)
	first := pickIndex(t, u, r, nil)
	var tried targetSet
	tried.add(first)
	second := pickIndex(t, u, r, &tried)
	if second == first || second < 0 {
		t.Fatalf("retry picked %d, first was %d", second, first)
	}
	u.targets[first].healthy.Store(false)
	if got := pickIndex(t, u, r, nil); got != second {
		t.Errorf("with the first target out, key went to %d, want the runner-up %d", got, second)
	}
}

func userRequest(k int) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-User", fmt.Sprintf("user-%d", k))
	return r
}

func TestHashKey(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name   string
		on     string
		remote string
		hdr    http.Header
		same   http.Header // a request that must hash alike (nil: skip)
		ok     bool
	}{
		{name: "header", on: "header:x-user", hdr: http.Header{"X-User": {"bob"}}, same: http.Header{"X-User": {"bob"}}, ok: true},
		{name: "header missing", on: "header:x-user", hdr: http.Header{}, ok: false},
		{name: "cookie", on: "cookie:sid", hdr: http.Header{"Cookie": {"a=1; sid=abc; b=2"}}, same: http.Header{"Cookie": {"sid=abc"}}, ok: true},
		{name: "cookie quoted", on: "cookie:sid", hdr: http.Header{"Cookie": {`sid="abc"`}}, same: http.Header{"Cookie": {"x=1", "sid=abc"}}, ok: true},
		{name: "cookie missing", on: "cookie:sid", hdr: http.Header{"Cookie": {"sidx=1; a=sid"}}, ok: false},
		{name: "client ip", on: "client_ip", remote: "192.0.2.7:1234", hdr: http.Header{}, same: http.Header{}, ok: true},
		{name: "client ip through trusted proxy", on: "client_ip", remote: "10.1.1.1:1", hdr: http.Header{"X-Forwarded-For": {"192.0.2.7"}}, same: http.Header{}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			on, err := parseHashOn(tt.on)
			if err != nil {
				t.Fatal(err)
			}
			req := func(h http.Header, remote string) *http.Request {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header = h
				r.RemoteAddr = remote
				return r
			}
			if tt.remote == "" {
				tt.remote = "192.0.2.99:5"
			}
			got, ok := hashKey(req(tt.hdr, tt.remote), on, trusted)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if tt.same != nil {
				remote := tt.remote
				if on.kind == hashClientIP {
					remote = "192.0.2.7:999"
				}
				if other, _ := hashKey(req(tt.same, remote), on, trusted); other != got {
					t.Errorf("equal keys hash differently: %x vs %x", got, other)
				}
			}
		})
	}
}

func TestParseHashOn(t *testing.T) {
	for _, s := range []string{"", "header:", "cookie", "ip", "query:x"} {
		if _, err := parseHashOn(s); err == nil {
			t.Errorf("parseHashOn(%q) succeeded, want an error", s)
		}
	}
}
