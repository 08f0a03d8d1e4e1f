package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/config"
)

// This file wires the limiter into the node: its construction and its
// adapter over the cluster's ring, the limits each route compiles, and
// the pipeline stage that asks the limiter once per request.

// newLimits builds the node's limiter (quota counters in
// data_dir/limiter), the IP guard of node.server.ip_rate_limit and the
// per-route decision counters. Like the cache, the limiter exists before
// the cluster starts: until then, and on a single node, this node owns
// every key.
func (n *Node) newLimits(nc config.Node) error {
	cfg := limiter.Config{
		Name:       nc.Name,
		Owners:     &limitOwners{n: n, self: nc.Name},
		Transport:  peerTransport{n},
		DataDir:    filepath.Join(nc.DataDir, "limiter"),
		Now:        n.now,
		Registerer: n.reg,
		Logger:     n.logger.With("component", "limiter"),
		// node.limiter.decision_timeout (0 from a config built in code:
		// the limiter's default, the same 250ms).
		DecisionTimeout: nc.Limiter.DecisionTimeout.D(),
	}
	if n.cfg.TuneLimiter != nil {
		n.cfg.TuneLimiter(&cfg)
	}
	lm, err := newLimitMetrics(n.reg)
	if err != nil {
		return err
	}
	if n.limits, err = limiter.New(cfg); err != nil {
		return err
	}
	n.limitMetrics = lm
	if g := nc.Server.IPRateLimit; g != nil {
		rate := float64(g.Rate.Count) / g.Rate.Period.Seconds()
		n.ipGuard = limiter.NewIPGuard(rate, g.Burst, g.MaxAddresses)
	}
	return nil
}

// limitOwners is the limiter's OwnerPicker and ReplicaPicker over the
// cluster's ring. Global limits count for the whole cluster, so it uses
// the ring of every region (the cache's owners scope to one). Safe for
// concurrent use; it never blocks.
type limitOwners struct {
	n    *Node
	self string
	view atomic.Pointer[ownerView]
}

var (
	_ limiter.OwnerPicker   = (*limitOwners)(nil)
	_ limiter.ReplicaPicker = (*limitOwners)(nil)
)

// Owner implements limiter.OwnerPicker.
func (o *limitOwners) Owner(key string) (string, bool) {
	c := o.n.clusterOf()
	if c == nil {
		return "", true
	}
	v := peerView(c, &o.view)
	m, ok := v.ring.Owner(key)
	if !ok || m.ID == o.self {
		return "", true
	}
	addr, ok := v.peers[m.ID]
	if !ok {
		return "", true // no address yet: decide here
	}
	return addr, false
}

// Nodes implements limiter.OwnerPicker: the live members, at least 1.
func (o *limitOwners) Nodes() int {
	c := o.n.clusterOf()
	if c == nil {
		return 1
	}
	return max(1, c.Ring().Len())
}

// Replica implements limiter.ReplicaPicker: the key's second owner on the
// ring, unless that is this node.
func (o *limitOwners) Replica(key string) (string, bool) {
	c := o.n.clusterOf()
	if c == nil {
		return "", false
	}
	v := peerView(c, &o.view)
	ms := v.ring.Owners(key, 2)
	if len(ms) < 2 || ms[1].ID == o.self {
		return "", false
	}
	addr, ok := v.peers[ms[1].ID]
	return addr, ok
}

// limitMetrics counts rate-limited requests by route, binding policy and
// result (allowed, limited, or error: the limiter failed and the request
// went on). The limiter's own portico_limiter_* series count per policy.
type limitMetrics struct {
	requests *prometheus.CounterVec
}

func newLimitMetrics(reg prometheus.Registerer) (*limitMetrics, error) {
	m := &limitMetrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_ratelimit_requests_total",
		Help: "Requests of rate-limited routes by route, binding policy and result (allowed, limited, error: limiter failed, request let through).",
	}, []string{"route", "policy", "result"})}
	if err := reg.Register(m.requests); err != nil {
		return nil, fmt.Errorf("register rate limit metrics: %w", err)
	}
	return m, nil
}

// byKind is one part of a limit's key (config RateLimit.By).
type byKind uint8

const (
	byConsumer byKind = iota + 1
	byAPIKey
	byClientIP
	byRoute
	byHeader
)

// limitRule is one configured limit compiled for requests: the limiter
// Request without its key, and how to build the key.
type limitRule struct {
	req limiter.Request
	// prefix names where the rule comes from ("route r #1", "plan gold
	// #2", ...), so that two limits never share a key.
	prefix string
	by     []byPart
}

type byPart struct {
	kind   byKind
	header string // canonical name, for byHeader
}

// compileRules turns config limits into rules whose keys start with
// source (e.g. "route\x00api").
func compileRules(source string, ls []config.RateLimit) []limitRule {
	out := make([]limitRule, 0, len(ls))
	for i, l := range ls {
		rule := limitRule{
			req: limiter.Request{Limit: limiter.Limit{Name: l.Name, Rate: l.Rate.Count, Period: l.Rate.Period,
				Burst: int64(l.Burst), Scope: l.Scope, Mode: l.Mode}},
			prefix: source + "\x00#" + strconv.Itoa(i+1),
		}
		for _, b := range l.By {
			switch {
			case b == "consumer":
				rule.by = append(rule.by, byPart{kind: byConsumer})
			case b == "api_key":
				rule.by = append(rule.by, byPart{kind: byAPIKey})
			case b == "client_ip":
				rule.by = append(rule.by, byPart{kind: byClientIP})
			case b == "route":
				rule.by = append(rule.by, byPart{kind: byRoute})
			default: // header:NAME, validated
				rule.by = append(rule.by, byPart{kind: byHeader, header: http.CanonicalHeaderKey(b[len("header:"):])})
			}
		}
		out = append(out, rule)
	}
	return out
}

// quotaRequest is a plan's quota for a consumer: counted by consumer name
// under the policy "PLAN/PER", so a consumer who changes plans starts a
// new count. Usage and Reset use the same key.
func quotaRequest(plan string, q *config.Quota, consumer string) limiter.Request {
	return limiter.Request{Key: "consumer\x00" + consumer,
		Quota: limiter.Quota{Name: plan + "/" + q.Per, Count: q.Limit, Period: q.Per}}
}

// limitClass orders the limits of one request, cheapest first (Allow
// stops at the first denial): local, global async, global strict, quota.
func limitClass(r *limiter.Request) int {
	switch {
	case r.Quota.Count != 0:
		return 3
	case r.Limit.Scope == limiter.ScopeLocal:
		return 0
	case r.Limit.Mode == limiter.ModeStrict:
		return 2
	}
	return 1
}

// limitInput is what keys are built from, gathered once per request.
type limitInput struct {
	r        *http.Request
	route    string
	who      *identity
	clientIP string // limiter.AddrKey: IPv6 clients by /64
}

// key builds rule's key for in. Parts are length-prefixed, so no value
// can forge another key's parts.
func (rule *limitRule) key(in *limitInput) string {
	b := make([]byte, 0, len(rule.prefix)+48)
	b = append(b, rule.prefix...)
	for _, p := range rule.by {
		var v string
		switch p.kind {
		case byConsumer:
			v = "c:" + in.who.name()
			if in.who.c == nil {
				v = "ip:" + in.clientIP // anonymous: counted by address
			}
		case byAPIKey:
			v = "k:" + in.who.keyID
			if in.who.keyID == "" {
				v = "ip:" + in.clientIP
			}
		case byClientIP:
			v = in.clientIP
		case byRoute:
			v = in.route
		case byHeader:
			v = in.r.Header.Get(p.header)
			if len(v) > 64 {
				// Long values would make long keys: count them by hash.
				sum := sha256.Sum256([]byte(v))
				v = "h:" + hex.EncodeToString(sum[:12])
			}
		}
		b = append(b, '\x00')
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
	}
	return string(b)
}

// appendRequests appends the limiter requests of rules for in.
func appendRequests(dst []limiter.Request, rules []limitRule, in *limitInput) []limiter.Request {
	for i := range rules {
		req := rules[i].req
		req.Key = rules[i].key(in)
		dst = append(dst, req)
	}
	return dst
}

// sortRequests orders reqs by limitClass, stably (insertion sort: a
// request has a handful).
func sortRequests(reqs []limiter.Request) {
	for i := 1; i < len(reqs); i++ {
		for j := i; j > 0 && limitClass(&reqs[j]) < limitClass(&reqs[j-1]); j-- {
			reqs[j], reqs[j-1] = reqs[j-1], reqs[j]
		}
	}
}

// applyLimits asks the limiter about every limit of the request (the
// route's, then the consumer's, group's and plan's, and the plan's quota)
// in one Allow call, writes the RateLimit-Policy and RateLimit headers of
// the binding limit, and answers 429 when one is exceeded. It returns
// false when the request must stop. A limiter error lets the request
// through (logged at debug, counted as result "error").
func (n *Node) applyLimits(w http.ResponseWriter, r *http.Request, p *pipeline, rs *routeStage, ex *exchange) bool {
	who := &ex.who
	var rules []limitRule
	var quota *limiter.Request
	if who.c != nil {
		rules, quota = who.c.rules, who.c.quota
	}
	if len(rs.limits) == 0 && len(rules) == 0 && quota == nil {
		return true
	}
	in := limitInput{r: r, route: rs.name, who: who, clientIP: limiter.AddrKey(ex.clientAddr(r, p))}
	var buf [8]limiter.Request
	reqs := appendRequests(buf[:0], rs.limits, &in)
	reqs = appendRequests(reqs, rules, &in)
	if quota != nil {
		reqs = append(reqs, *quota)
	}
	sortRequests(reqs)
	d, err := n.limits.Allow(r.Context(), reqs)
	if err != nil {
		n.limitMetrics.requests.WithLabelValues(rs.name, "", "error").Inc()
		if !errors.Is(err, limiter.ErrClosed) && !errors.Is(err, context.Canceled) {
			n.logger.Debug("rate limiter failed; request let through", "request_id", ex.id, "route", rs.name, "err", err)
		}
		return true
	}
	// One backing array for both values, canonical keys made once, and
	// the policy's value cached: the limit stage's allocations per request.
	vals := make([]string, 2)
	vals[0], vals[1] = n.policyHeader(d), d.RateLimitHeader()
	h := w.Header()
	h[hdrPolicy], h[hdrRateLimit] = vals[0:1:1], vals[1:2:2]
	if d.Allowed {
		n.limitMetrics.requests.WithLabelValues(rs.name, d.Policy, "allowed").Inc()
		return true
	}
	n.limitMetrics.requests.WithLabelValues(rs.name, d.Policy, "limited").Inc()
	h.Set(limiter.HeaderRetryAfter, d.RetryAfterHeader())
	prob := probRateLimited
	if quota != nil && d.Policy == quota.Quota.Name {
		prob = probQuotaExceeded
	}
	n.fail(w, ex, prob)
	return false
}

// Canonical forms of the RateLimit header names (Header.Set would
// canonicalize them on every call).
var (
	hdrPolicy    = textproto.CanonicalMIMEHeaderKey(limiter.HeaderPolicy)
	hdrRateLimit = textproto.CanonicalMIMEHeaderKey(limiter.HeaderRateLimit)
)

// policyKey identifies a RateLimit-Policy value: it depends on nothing
// else.
type policyKey struct {
	name   string
	limit  int64
	window time.Duration
}

// policyHeader returns d's RateLimit-Policy value, formatted once per
// policy (a config has a handful; reloads add a few more at most).
func (n *Node) policyHeader(d limiter.Decision) string {
	k := policyKey{d.Policy, d.Limit, d.Window}
	if v, ok := n.policyHeaders.Load(k); ok {
		return v.(string)
	}
	v := d.PolicyHeader()
	n.policyHeaders.Store(k, v)
	return v
}

// guardIP applies node.server.ip_rate_limit, before routing. It returns
// false (having answered 429) when the client's address is over it.
func (n *Node) guardIP(w http.ResponseWriter, r *http.Request, p *pipeline, ex *exchange) bool {
	if n.ipGuard == nil {
		return true
	}
	addr := ex.clientAddr(r, p)
	if !addr.IsValid() {
		return true
	}
	ok, wait := n.ipGuard.Allow(addr, n.now())
	if ok {
		return true
	}
	w.Header().Set(limiter.HeaderRetryAfter, limiter.Decision{RetryAfter: wait}.RetryAfterHeader())
	n.fail(w, ex, probIPRateLimited)
	return false
}
