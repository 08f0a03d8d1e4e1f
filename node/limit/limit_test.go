package limit_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/node/limit"
	"github.com/portico-gw/portico/problem"
)

// clock is the limiter's and the guard's clock: it moves only when told.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock               { c := &clock{}; c.ns.Store(start.UnixNano()); return c }
func perMinute(n int64) config.Rate  { return config.Rate{Count: n, Period: time.Minute} }
func local(name string, n int64, burst int, by ...string) config.RateLimit {
	return config.RateLimit{Name: name, Rate: perMinute(n), Burst: burst, By: by, Scope: limiter.ScopeLocal}
}

// start is a Wednesday noon, UTC: 12h before the next daily quota period.
var start = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// syncBuffer is a log destination the server's goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one node's limiting: a local-only limiter on the fake clock with
// no background loops, and the stages' Shared over a fresh registry.
type env struct {
	clk    *clock
	lim    *limiter.Limiter
	reg    *prometheus.Registry
	shared *limit.Shared
	logs   *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clk: newClock(), reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	var err error
	e.lim, err = limiter.New(limiter.Config{Now: e.clk.now, SyncInterval: -1, FlushInterval: -1, Registerer: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.lim.Close(context.Background()) })
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if e.shared, err = limit.NewShared(e.lim, e.reg, logger); err != nil {
		t.Fatal(err)
	}
	return e
}

// count is portico_ratelimit_requests_total{route, policy, result}.
func (e *env) count(t *testing.T, route, policy, result string) float64 {
	t.Helper()
	for _, s := range e.series(t) {
		if s.route == route && s.policy == policy && s.result == result {
			return s.value
		}
	}
	return 0
}

type series struct {
	route, policy, result string
	value                 float64
}

func (e *env) series(t *testing.T) []series {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []series
	for _, mf := range mfs {
		if mf.GetName() != "portico_ratelimit_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			s := series{value: m.GetCounter().GetValue()}
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "route":
					s.route = l.GetValue()
				case "policy":
					s.policy = l.GetValue()
				case "result":
					s.result = l.GetValue()
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// Test-only request headers the server below reads to fill the exchange
// as the node would: the client's address (its resolver's answer) and
// the identity auth would have found.
const (
	hdrClient   = "X-Test-Client"
	hdrConsumer = "X-Test-Consumer"
	hdrKeyID    = "X-Test-Key-Id"
)

// next answers 200 and says it ran.
var next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Next", "ran")
	_, _ = io.WriteString(w, "ok")
})

type server struct {
	url      string
	problems chan problem.Type
}

// serve runs stage (and guard before it, when not nil) on a loopback
// server with one exchange per request. Every request sends the problem
// its exchange recorded.
func serve(t *testing.T, stage http.Handler, guard *limit.IPGuard) *server {
	t.Helper()
	s := &server{problems: make(chan problem.Type, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := &exchange.Exchange{}
		ex.Init(w, "rid-1", time.Now(), func(r *http.Request) netip.Addr {
			a, _ := netip.ParseAddr(r.Header.Get(hdrClient))
			return a
		})
		ex.Who = exchange.Identity{Consumer: r.Header.Get(hdrConsumer), KeyID: r.Header.Get(hdrKeyID)}
		r = exchange.With(r, ex)
		if guard.Admit(w, r, ex) {
			stage.ServeHTTP(w, r)
		}
		s.problems <- ex.Problem
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

type answer struct {
	status                        int
	nextRan                       bool
	policy, rateLimit, retryAfter string
	slug, requestID               string
	recorded                      problem.Type
}

// get sends GET / with headers h (name, value, ...).
func (s *server) get(t *testing.T, h ...string) answer {
	t.Helper()
	req, err := http.NewRequest("GET", s.url+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: res.StatusCode, nextRan: res.Header.Get("X-Next") == "ran",
		policy: res.Header.Get("RateLimit-Policy"), rateLimit: res.Header.Get("RateLimit"),
		retryAfter: res.Header.Get("Retry-After"), recorded: <-s.problems}
	if res.StatusCode != 200 {
		var p struct {
			Type      string
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%d %q: %v", res.StatusCode, body, err)
		}
		_, a.slug, _ = strings.Cut(p.Type, "#")
		a.requestID = p.RequestID
	}
	return a
}

// allowed and denied check an answer.
func allowed(t *testing.T, what string, a answer) {
	t.Helper()
	if a.status != 200 || !a.nextRan || a.recorded != 0 {
		t.Fatalf("%s: %d (next ran %v, problem %v, %s), want 200 from next", what, a.status, a.nextRan, a.recorded, a.rateLimit)
	}
}

func denied(t *testing.T, what string, a answer, slug string, recorded problem.Type) {
	t.Helper()
	if a.status != 429 || a.nextRan || a.slug != slug || a.requestID != "rid-1" || a.recorded != recorded || a.retryAfter == "" {
		t.Fatalf("%s: %d #%s (next ran %v, recorded %v, Retry-After %q, request id %q), want 429 #%s",
			what, a.status, a.slug, a.nextRan, a.recorded, a.retryAfter, a.requestID, slug)
	}
}

func TestNewPassThrough(t *testing.T) {
	e := newEnv(t)
	none := limit.NewPlans(&config.Gateway{Consumers: []config.Consumer{{Name: "bob"}}})
	some := limit.NewPlans(&config.Gateway{Consumers: []config.Consumer{{Name: "alice", RateLimits: []config.RateLimit{local("a", 1, 1, "consumer")}}}})
	own := []config.RateLimit{local("r", 1, 1, "client_ip")}
	nextPtr := http.NewServeMux() // a pointer: comparable
	cases := []struct {
		name          string
		ls            []config.RateLimit
		authenticates bool
		plans         *limit.Plans
		stage         bool
	}{
		{"no limits at all", nil, false, none, false},
		{"authenticates, no consumer has limits", nil, true, none, false},
		{"consumers have limits, route authenticates nobody", nil, false, some, false},
		{"consumers have limits, route authenticates", nil, true, some, true},
		{"route limits", own, false, none, true},
		{"route limits and consumers'", own, true, some, true},
	}
	for _, c := range cases {
		h := limit.New(nextPtr, "r", c.ls, c.authenticates, c.plans, e.shared)
		if got := h != http.Handler(nextPtr); got != c.stage {
			t.Errorf("%s: a stage %v, want %v", c.name, got, c.stage)
		}
	}
}

// TestLocalLimit: burst 2 of 10/m by client address: two admitted, the
// third 429 rate-limited; RateLimit-Policy and RateLimit on every answer,
// Retry-After on the denial; another address counts apart; after the
// wait the address is admitted again; every decision is counted.
func TestLocalLimit(t *testing.T) {
	e := newEnv(t)
	s := serve(t, limit.New(next, "r", []config.RateLimit{local("per-ip", 10, 2, "client_ip")}, false, limit.NewPlans(&config.Gateway{}), e.shared), nil)
	steps := []struct {
		client, rateLimit, retryAfter string
		status                        int
	}{
		{"192.0.2.1", `"per-ip";r=1;t=6`, "", 200},
		{"192.0.2.1", `"per-ip";r=0;t=12`, "", 200},
		{"192.0.2.1", `"per-ip";r=0;t=12`, "6", 429},
		{"192.0.2.2", `"per-ip";r=1;t=6`, "", 200},
	}
	for i, st := range steps {
		a := s.get(t, hdrClient, st.client)
		if st.status == 200 {
			allowed(t, st.client, a)
		} else {
			denied(t, st.client, a, "rate-limited", problem.RateLimited)
		}
		if a.policy != `"per-ip";q=10;w=60` || a.rateLimit != st.rateLimit || a.retryAfter != st.retryAfter {
			t.Errorf("request %d: RateLimit-Policy %q RateLimit %q Retry-After %q, want %q %q %q",
				i+1, a.policy, a.rateLimit, a.retryAfter, `"per-ip";q=10;w=60`, st.rateLimit, st.retryAfter)
		}
	}
	e.clk.add(6 * time.Second)
	allowed(t, "after Retry-After", s.get(t, hdrClient, "192.0.2.1"))
	if a, l := e.count(t, "r", "per-ip", "allowed"), e.count(t, "r", "per-ip", "limited"); a != 4 || l != 1 {
		t.Errorf("decisions: allowed %v limited %v, want 4 and 1", a, l)
	}
}

// consumersGateway: alice is in group staff and on plan gold, and has a
// limit of her own; bob is in staff; carol is on gold; dave has only a
// quota plan; erin has no limits.
func consumersGateway() *config.Gateway {
	return &config.Gateway{
		Consumers: []config.Consumer{
			{Name: "alice", Group: "staff", Plan: "gold", RateLimits: []config.RateLimit{local("alice-own", 1, 5, "consumer")}},
			{Name: "bob", Group: "staff"},
			{Name: "carol", Plan: "gold"},
			{Name: "dave", Plan: "metered"},
			{Name: "erin"},
		},
		ConsumerGroups: []config.ConsumerGroup{{Name: "staff", RateLimits: []config.RateLimit{local("staff-rate", 1, 1, "consumer")}}},
		Plans: []config.Plan{
			{Name: "gold", RateLimits: []config.RateLimit{local("gold-rate", 1, 2, "consumer")}, Quota: &config.Quota{Limit: 100, Per: "day"}},
			{Name: "metered", Quota: &config.Quota{Limit: 2, Per: "day"}},
		},
	}
}

// TestConsumerLimits: a consumer's own, group and plan limits and the
// plan's quota apply to that consumer, each counted per consumer; the
// quota answers quota-exceeded with the time to the next period; an
// anonymous request and a consumer without limits pass untouched.
func TestConsumerLimits(t *testing.T) {
	e := newEnv(t)
	s := serve(t, limit.New(next, "c", nil, true, limit.NewPlans(consumersGateway()), e.shared), nil)
	who := func(name string) []string { return []string{hdrConsumer, name, hdrClient, "192.0.2.1"} }

	// alice: her own (5), staff's (1) and gold's (2) apply, staff binds.
	a := s.get(t, who("alice")...)
	allowed(t, "alice 1", a)
	if a.rateLimit != `"staff-rate";r=0;t=60` {
		t.Errorf("alice 1: RateLimit %q, want the binding staff-rate", a.rateLimit)
	}
	a = s.get(t, who("alice")...)
	denied(t, "alice 2", a, "rate-limited", problem.RateLimited)
	if a.policy != `"staff-rate";q=1;w=60` || a.retryAfter != "60" {
		t.Errorf("alice 2: RateLimit-Policy %q Retry-After %q", a.policy, a.retryAfter)
	}
	// bob is in staff too, counted on his own.
	allowed(t, "bob 1", s.get(t, who("bob")...))
	denied(t, "bob 2", s.get(t, who("bob")...), "rate-limited", problem.RateLimited)
	// carol: gold's burst of 2; a rate denial beside a quota is rate-limited.
	allowed(t, "carol 1", s.get(t, who("carol")...))
	allowed(t, "carol 2", s.get(t, who("carol")...))
	denied(t, "carol 3", s.get(t, who("carol")...), "rate-limited", problem.RateLimited)
	// dave: the quota of 2 a day, then quota-exceeded until midnight UTC.
	for i := int64(1); i <= 2; i++ {
		a := s.get(t, who("dave")...)
		allowed(t, "dave", a)
		if a.policy != `"metered/day";q=2;w=86400` || !strings.HasPrefix(a.rateLimit, `"metered/day";r=`+strconv.FormatInt(2-i, 10)+";") {
			t.Errorf("dave %d: RateLimit-Policy %q RateLimit %q", i, a.policy, a.rateLimit)
		}
	}
	a = s.get(t, who("dave")...)
	denied(t, "dave 3", a, "quota-exceeded", problem.QuotaExceeded)
	if a.retryAfter != "43200" {
		t.Errorf("quota: Retry-After %q, want 43200 (noon to midnight)", a.retryAfter)
	}
	// Nothing applies: no headers, next runs.
	for _, name := range []string{"", "erin", "nobody-known"} {
		a := s.get(t, who(name)...)
		allowed(t, "consumer "+name, a)
		if a.policy != "" || a.rateLimit != "" {
			t.Errorf("consumer %q: RateLimit-Policy %q RateLimit %q, want none", name, a.policy, a.rateLimit)
		}
	}
	if l := e.count(t, "c", "metered/day", "limited"); l != 1 {
		t.Errorf("quota denials counted %v, want 1", l)
	}
}

// TestRouteLimitBy: what a route's limit counts apart. By consumer, an
// identified consumer is one count wherever it comes from and an
// anonymous request counts by its address, never as a consumer of the
// same text; by api_key likewise by key id; by header, long values are
// counted by hash, each apart; by client_ip, IPv6 by /64.
func TestRouteLimitBy(t *testing.T) {
	long := strings.Repeat("t", 100)
	type req []string // header name, value, ...
	cases := []struct {
		by   string
		reqs []req
		want []int // status of each
	}{
		{"consumer", []req{
			{hdrConsumer, "alice", hdrClient, "192.0.2.1"},
			{hdrConsumer, "alice", hdrClient, "192.0.2.2"}, // same consumer, other address
			{hdrClient, "192.0.2.1"},                       // anonymous: by address
			{hdrClient, "192.0.2.1"},                       // same address
			{hdrClient, "192.0.2.2"},                       // another address
			{hdrConsumer, "ip:192.0.2.3", hdrClient, "x"},  // a consumer named like an address key
			{hdrClient, "192.0.2.3"},                       // is not that address
			{hdrConsumer, "c:bob", hdrClient, "192.0.2.9"}, // nor like a consumer key
			{hdrConsumer, "bob", hdrClient, "192.0.2.9"},
		}, []int{200, 429, 200, 429, 200, 200, 200, 200, 200}},
		{"api_key", []req{
			{hdrConsumer, "alice", hdrKeyID, "00112233aabbccdd", hdrClient, "192.0.2.1"},
			{hdrConsumer, "alice", hdrKeyID, "00112233aabbccdd", hdrClient, "192.0.2.2"},
			{hdrConsumer, "alice", hdrKeyID, "ffeeddcc99887766", hdrClient, "192.0.2.1"}, // her other key
			{hdrClient, "192.0.2.1"}, // no key: by address
			{hdrClient, "192.0.2.1"},
		}, []int{200, 429, 200, 200, 429}},
		{"header:X-Tenant", []req{
			{"X-Tenant", "acme"},
			{"X-Tenant", "acme"},
			{"X-Tenant", long + "a"},
			{"X-Tenant", long + "a"},
			{"X-Tenant", long + "b"}, // another long value: another hash
			{},                       // no header
			{"X-Tenant", ""},         // the same as no header
		}, []int{200, 429, 200, 429, 200, 200, 429}},
		{"client_ip", []req{
			{hdrClient, "2001:db8:1:2::1"},
			{hdrClient, "2001:db8:1:2:ffff:ffff:ffff:ffff"}, // same /64
			{hdrClient, "2001:db8:1:3::1"},                  // next /64
			{hdrClient, "192.0.2.1"},
			{hdrClient, "::ffff:192.0.2.1"}, // the same IPv4 client
		}, []int{200, 429, 200, 200, 429}},
	}
	for _, c := range cases {
		t.Run(c.by, func(t *testing.T) {
			e := newEnv(t)
			s := serve(t, limit.New(next, "r", []config.RateLimit{local("one", 1, 1, c.by)}, true, limit.NewPlans(&config.Gateway{}), e.shared), nil)
			for i, r := range c.reqs {
				if a := s.get(t, r...); a.status != c.want[i] {
					t.Errorf("request %d %q: %d, want %d", i+1, r, a.status, c.want[i])
				}
			}
		})
	}
}

// TestRulesApart: two limits of the same name, by the same thing, on two
// routes or twice on one route, never share a count.
func TestRulesApart(t *testing.T) {
	e := newEnv(t)
	plans := limit.NewPlans(&config.Gateway{})
	two := limit.New(next, "two", []config.RateLimit{local("same", 1, 1, "route"), local("same", 1, 2, "route")}, false, plans, e.shared)
	one := limit.New(next, "one", []config.RateLimit{local("same", 1, 1, "route")}, false, plans, e.shared)
	s1, s2 := serve(t, one, nil), serve(t, two, nil)
	allowed(t, "route one", s1.get(t))
	// The first limit of two would deny if it shared one's count.
	a := s2.get(t)
	allowed(t, "route two", a)
	if a.rateLimit != `"same";r=0;t=60` {
		t.Errorf("route two: RateLimit %q", a.rateLimit)
	}
	denied(t, "route two again", s2.get(t), "rate-limited", problem.RateLimited)
	denied(t, "route one again", s1.get(t), "rate-limited", problem.RateLimited)
}

// TestLimiterError: a limiter that fails lets requests through without
// RateLimit headers, counted as result "error"; a closed limiter is not
// logged, another failure is, at debug.
func TestLimiterError(t *testing.T) {
	e := newEnv(t)
	plans := limit.NewPlans(&config.Gateway{})
	bad := limit.New(next, "bad", []config.RateLimit{{Name: "zero", Rate: config.Rate{Period: time.Second}, Scope: limiter.ScopeLocal, By: []string{"route"}}}, false, plans, e.shared)
	a := serve(t, bad, nil).get(t)
	allowed(t, "invalid limit", a)
	if a.policy != "" || a.rateLimit != "" || e.count(t, "bad", "", "error") != 1 {
		t.Errorf("invalid limit: headers %q %q, errors counted %v", a.policy, a.rateLimit, e.count(t, "bad", "", "error"))
	}
	if logs := e.logs.String(); !strings.Contains(logs, "rate limiter failed") || !strings.Contains(logs, "request_id=rid-1") {
		t.Errorf("invalid limit: logged %q, want the failure with the request id", logs)
	}

	s := serve(t, limit.New(next, "r", []config.RateLimit{local("one", 1, 1, "route")}, false, plans, e.shared), nil)
	allowed(t, "before close", s.get(t))
	if err := e.lim.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := e.logs.String()
	for i := range 3 {
		a := s.get(t)
		allowed(t, "closed limiter", a)
		if a.policy != "" || a.rateLimit != "" {
			t.Errorf("closed limiter %d: headers %q %q", i, a.policy, a.rateLimit)
		}
	}
	if n := e.count(t, "r", "", "error"); n != 3 {
		t.Errorf("closed limiter: errors counted %v, want 3", n)
	}
	if after := e.logs.String(); after != before {
		t.Errorf("closed limiter logged %q", after[len(before):])
	}
}

// TestDropRoute: DropRoute deletes every series of that route only.
func TestDropRoute(t *testing.T) {
	e := newEnv(t)
	plans := limit.NewPlans(&config.Gateway{})
	for _, route := range []string{"gone", "kept"} {
		s := serve(t, limit.New(next, route, []config.RateLimit{local("one", 1, 1, "route")}, false, plans, e.shared), nil)
		s.get(t)
		s.get(t)
	}
	if n := len(e.series(t)); n != 4 {
		t.Fatalf("series before: %v, want 4", e.series(t))
	}
	e.shared.DropRoute("gone")
	got := e.series(t)
	if len(got) != 2 || got[0].route != "kept" || got[1].route != "kept" {
		t.Errorf("series after DropRoute(gone): %v, want kept's two", got)
	}
	e.shared.DropRoute("never there")
	if n := len(e.series(t)); n != 2 {
		t.Errorf("DropRoute of an unknown route: %d series left, want 2", n)
	}
}
