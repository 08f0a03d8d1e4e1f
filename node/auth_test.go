package node_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/nodetest"
)

// keyHash is what a consumer's api_keys holds for key.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// echoed is the demo upstream's /anything answer.
type echoed struct {
	URL     string
	Args    map[string][]string
	Headers map[string][]string
}

func echoOf(t *testing.T, r resp) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("echo %q: %v", r.body, err)
	}
	return e
}

func usageOf(t *testing.T, r resp) (used, limit int64, start string) {
	t.Helper()
	var u struct {
		Quotas []struct {
			Used, Limit int64
			Start       time.Time
		}
	}
	if r.status != 200 || json.Unmarshal(r.body, &u) != nil || len(u.Quotas) != 1 {
		t.Fatalf("usage answer %d %s, want 200 with one quota", r.status, r.body)
	}
	q := u.Quotas[0]
	return q.Used, q.Limit, q.Start.Format(time.RFC3339)
}

const (
	aliceKey = "alice-key-1"
	bobKey   = "bob-key-2"
)

// authGateway has consumers alice (plan gold: 2 at once, then 1 a minute;
// 100 a day) and bob (group staff), a route that needs a key (header or
// query) and one where the key is optional.
func authGateway(up string) string {
	return fmt.Sprintf(`
upstreams: [{name: demo, targets: [{url: %q}]}]
consumers:
  - {name: alice, plan: gold, api_keys: [%q]}
  - {name: bob, group: staff, api_keys: [%q]}
consumer_groups:
  - {name: staff, rate_limits: [{name: staff-rate, rate: 100/m, scope: local}]}
plans:
  - name: gold
    rate_limits: [{name: gold-rate, rate: 1/m, burst: 2, scope: local}]
    quota: {limit: 100, per: day}
routes:
  - name: api
    match: {paths: ["/api/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    auth: {api_key: {query: api_key}}
  - name: open
    match: {paths: ["/open/{rest...}"]}
    upstream: demo
    rewrite: /anything/{rest}
    auth: {api_key: {}, optional: true}
    rate_limits: [{name: per-consumer, rate: 1/m, burst: 1, by: [consumer], scope: local}]
`, up, keyHash(aliceKey), keyHash(bobKey))
}

// TestAPIKeyConsumers: missing and unknown keys get 401 with a challenge;
// a known key identifies the consumer, whose plan and group limits apply;
// the key never reaches the upstream nor the access log; an optional route
// counts anonymous callers by address; usage and reset through the admin
// API.
func TestAPIKeyConsumers(t *testing.T) {
	up, _ := nodetest.Demo(t)
	var log syncBuffer
	n := nodetest.Start(t, 1, authGateway(up), withLimiter(newFakeClock()), func(c *node.Config) {
		c.Stdout = &log
		c.Override = func(f *config.File) { f.Node.AccessLog.Output = "stdout" }
	})[0]

	t.Run("missing and wrong keys", func(t *testing.T) {
		r := get(t, n.URL+"/api/x")
		isProblem(t, r, 401, "credentials-missing")
		if got, want := r.header.Get("WWW-Authenticate"), `ApiKey header="X-API-Key", query="api_key"`; got != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
		isProblem(t, get(t, n.URL+"/api/x", "X-API-Key", "not-a-key"), 401, "credentials-invalid")
		isProblem(t, get(t, n.URL+"/api/x?api_key=not-a-key"), 401, "credentials-invalid")
		isProblem(t, get(t, n.URL+"/open/x", "X-API-Key", "not-a-key"), 401, "credentials-invalid")
	})

	t.Run("plan limits", func(t *testing.T) {
		for i, want := range []string{`"gold-rate";r=1;t=60`, `"gold-rate";r=0;t=120`} {
			r := get(t, n.URL+"/api/x", "X-API-Key", aliceKey)
			if r.status != 200 || r.header.Get("RateLimit") != want {
				t.Fatalf("alice request %d: %d RateLimit %q, want 200 %q", i+1, r.status, r.header.Get("RateLimit"), want)
			}
			if h := echoOf(t, r).Headers; h["X-Api-Key"] != nil {
				t.Errorf("the upstream saw the API key header: %v", h["X-Api-Key"])
			}
		}
		r := get(t, n.URL+"/api/x", "X-API-Key", aliceKey)
		isProblem(t, r, 429, "rate-limited")
		if got := r.header.Get("RateLimit-Policy"); got != `"gold-rate";q=1;w=60` {
			t.Errorf("RateLimit-Policy = %q, want gold-rate's", got)
		}
	})

	t.Run("key in the query is removed", func(t *testing.T) {
		r := get(t, n.URL+"/api/x?a=1&api_key="+bobKey+"&b=2")
		if r.status != 200 {
			t.Fatalf("bob by query: %d %s", r.status, r.body)
		}
		e := echoOf(t, r)
		if strings.Contains(e.URL, "api_key") || e.Args["api_key"] != nil || e.Args["a"] == nil || e.Args["b"] == nil {
			t.Errorf("upstream URL %q args %v, want a and b without api_key", e.URL, e.Args)
		}
		if got := r.header.Get("RateLimit-Policy"); got != `"staff-rate";q=100;w=60` {
			t.Errorf("bob's RateLimit-Policy = %q, want his group's staff-rate", got)
		}
	})

	t.Run("optional auth", func(t *testing.T) {
		if r := get(t, n.URL+"/open/x"); r.status != 200 {
			t.Fatalf("anonymous: %d", r.status)
		}
		isProblem(t, get(t, n.URL+"/open/x"), 429, "rate-limited")
		if r := get(t, n.URL+"/open/x", "X-API-Key", bobKey); r.status != 200 {
			t.Errorf("bob after the anonymous caller's limit: %d, want 200 (counted apart)", r.status)
		}
	})

	t.Run("usage and reset", func(t *testing.T) {
		used, limit, start := usageOf(t, get(t, n.AdminURL+"/consumers/alice/usage"))
		if used != 2 || limit != 100 || start != "2026-03-04T00:00:00Z" {
			t.Errorf("alice's usage: %d of %d since %s, want 2 of 100 since 2026-03-04T00:00:00Z (the denied request costs nothing)", used, limit, start)
		}
		if used, _, _ := usageOf(t, do(t, "POST", n.AdminURL+"/consumers/alice/usage/reset", nil)); used != 0 {
			t.Errorf("after reset: used %d, want 0", used)
		}
		isProblem(t, get(t, n.AdminURL+"/consumers/nobody/usage"), 404, "unknown-consumer")
		if r := get(t, n.AdminURL+"/consumers/bob/usage"); r.status != 200 || !strings.Contains(string(r.body), `"quotas":[]`) {
			t.Errorf("bob (no plan): %d %s, want 200 with no quotas", r.status, r.body)
		}
	})

	waitFor(t, 5*time.Second, func() bool { return strings.Count(log.String(), "\n") >= 10 })
	if l := log.String(); strings.Contains(l, bobKey) || strings.Contains(l, aliceKey) {
		t.Errorf("an API key is in the access log:\n%s", l)
	}
	if l := log.String(); !strings.Contains(l, `"consumer":"alice"`) {
		t.Errorf("the access log names no consumer alice:\n%s", l)
	}
}
