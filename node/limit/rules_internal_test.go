package limit

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
)

func keyOf(source string, by []string, in input) string {
	ru := compileRules(source, []config.RateLimit{{Name: "n", Rate: config.Rate{Count: 1, Period: time.Second}, By: by}})
	return ru[0].key(&in)
}

func withHeaders(kv ...string) *http.Request {
	r := &http.Request{Header: http.Header{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Set(kv[i], kv[i+1])
	}
	return r
}

// TestKeysNeverCollide: the parts of a key are length-prefixed, so values
// that hold the separator cannot forge another request's key, and the
// source (route, consumer, group, plan, and the rule's index) keeps rules
// apart.
func TestKeysNeverCollide(t *testing.T) {
	anon := &exchange.Identity{}
	two := []string{"header:A", "header:B"}
	pairs := []struct {
		name       string
		aSrc, bSrc string
		aBy, bBy   []string
		aIn, bIn   input
	}{
		{"header values shifting the separator", "route\x00r", "route\x00r", two, two,
			input{r: withHeaders("A", "a\x00b", "B", "c"), who: anon},
			input{r: withHeaders("A", "a", "B", "b\x00c"), who: anon}},
		{"a value forging a length prefix", "route\x00r", "route\x00r", two, two,
			input{r: withHeaders("A", "x\x001:y"), who: anon},
			input{r: withHeaders("A", "x", "B", "y"), who: anon}},
		{"a consumer named like an address key", "route\x00r", "route\x00r", []string{"consumer"}, []string{"consumer"},
			input{who: &exchange.Identity{Consumer: "ip:192.0.2.1"}, clientIP: "x"},
			input{who: anon, clientIP: "192.0.2.1"}},
		{"a key id like an address", "route\x00r", "route\x00r", []string{"api_key"}, []string{"api_key"},
			input{who: &exchange.Identity{Consumer: "a", KeyID: "192.0.2.1"}},
			input{who: anon, clientIP: "192.0.2.1"}},
		{"two routes", "route\x00a", "route\x00b", []string{"client_ip"}, []string{"client_ip"},
			input{who: anon, clientIP: "192.0.2.1"}, input{who: anon, clientIP: "192.0.2.1"}},
		{"a consumer's rule and a plan's of the same name", "consumer\x00gold", "plan\x00gold", []string{"consumer"}, []string{"consumer"},
			input{who: &exchange.Identity{Consumer: "gold"}}, input{who: &exchange.Identity{Consumer: "gold"}}},
	}
	for _, p := range pairs {
		a, b := keyOf(p.aSrc, p.aBy, p.aIn), keyOf(p.bSrc, p.bBy, p.bIn)
		if a == b {
			t.Errorf("%s: both keys are %q", p.name, a)
		}
	}

	// The rule's index is part of its key.
	ls := []config.RateLimit{{Name: "n", By: []string{"route"}}, {Name: "n", By: []string{"route"}}}
	rs := compileRules("route\x00r", ls)
	in := input{route: "r", who: anon}
	if rs[0].key(&in) == rs[1].key(&in) {
		t.Errorf("two rules of one route share the key %q", rs[0].key(&in))
	}
}

// TestKeyParts: what each part of a key holds.
func TestKeyParts(t *testing.T) {
	alice := &exchange.Identity{Consumer: "alice", KeyID: "0123456789abcdef"}
	anon := &exchange.Identity{}
	v6 := limiter.AddrKey(netip.MustParseAddr("2001:db8:1:2:3:4:5:6"))
	if v6 != "2001:db8:1:2::/64" {
		t.Fatalf("AddrKey of an IPv6 address: %q", v6)
	}
	at64, at65 := strings.Repeat("v", 64), strings.Repeat("v", 65)
	cases := []struct {
		by   string
		in   input
		want string // the part after the source
	}{
		{"consumer", input{who: alice, clientIP: "192.0.2.1"}, "7:c:alice"},
		{"consumer", input{who: anon, clientIP: "192.0.2.1"}, "12:ip:192.0.2.1"},
		{"api_key", input{who: alice, clientIP: "192.0.2.1"}, "18:k:0123456789abcdef"},
		{"api_key", input{who: &exchange.Identity{Consumer: "alice"}, clientIP: v6}, "20:ip:" + v6},
		{"client_ip", input{who: anon, clientIP: v6}, "17:" + v6},
		{"route", input{who: anon, route: "api"}, "3:api"},
		{"header:x-tenant", input{r: withHeaders("X-Tenant", "acme"), who: anon}, "4:acme"},
		{"header:X-Tenant", input{r: withHeaders(), who: anon}, "0:"},
		{"header:X-Tenant", input{r: withHeaders("X-Tenant", at64), who: anon}, "64:" + at64},
	}
	for _, c := range cases {
		got := keyOf("route\x00r", []string{c.by}, c.in)
		if want := "route\x00r\x00#1\x00" + c.want; got != want {
			t.Errorf("by %s: key %q, want %q", c.by, got, want)
		}
	}

	// Over 64 bytes: "h:" and 24 hex digits of the SHA-256, not the value.
	h1 := keyOf("route\x00r", []string{"header:X-Tenant"}, input{r: withHeaders("X-Tenant", at65), who: anon})
	h2 := keyOf("route\x00r", []string{"header:X-Tenant"}, input{r: withHeaders("X-Tenant", at65+"w"), who: anon})
	part, ok := strings.CutPrefix(h1, "route\x00r\x00#1\x0026:h:")
	if !ok || len(part) != 24 || strings.Contains(h1, at65) || h1 == h2 {
		t.Errorf("long header values: keys %q and %q, want 26:h: and 24 hex digits each, apart", h1, h2)
	}
}
