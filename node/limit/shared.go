package limit

import (
	"fmt"
	"log/slog"
	"net/textproto"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gw/portico/limiter"
)

// Shared is what every limit stage of a node shares, for the node's life:
// the limiter, the decision counters and the formatted RateLimit-Policy
// values. Safe for concurrent use.
type Shared struct {
	limiter  *limiter.Limiter
	logger   *slog.Logger
	requests *prometheus.CounterVec
	// policies caches RateLimit-Policy values by policyKey.
	policies sync.Map
}

// NewShared registers the decision counters on reg.
func NewShared(l *limiter.Limiter, reg prometheus.Registerer, logger *slog.Logger) (*Shared, error) {
	s := &Shared{limiter: l, logger: logger, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_ratelimit_requests_total",
		Help: "Requests of rate-limited routes by route, binding policy and result (allowed, limited, error: limiter failed, request let through).",
	}, []string{"route", "policy", "result"})}
	if err := reg.Register(s.requests); err != nil {
		return nil, fmt.Errorf("register rate limit metrics: %w", err)
	}
	return s, nil
}

// DropRoute deletes the decision series of a route the config no longer
// has.
func (s *Shared) DropRoute(route string) {
	s.requests.DeletePartialMatch(prometheus.Labels{"route": route})
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
func (s *Shared) policyHeader(d limiter.Decision) string {
	k := policyKey{d.Policy, d.Limit, d.Window}
	if v, ok := s.policies.Load(k); ok {
		return v.(string)
	}
	v := d.PolicyHeader()
	s.policies.Store(k, v)
	return v
}
