package limit

import (
	"context"
	"errors"
	"net/http"

	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/problem"
)

// stage is one route's rate limits.
type stage struct {
	next  http.Handler
	route string
	rules []rule
	plans *Plans // nil: the route authenticates nobody, consumers' limits never apply
	s     *Shared
}

// New returns the rate-limit stage of route (its limits ls) in front of
// next, or next itself when nothing can limit the route's requests: no
// limits of its own and, if it authenticates (authenticates), no consumer
// with limits in plans. The stage asks the limiter about every limit of
// the request (the route's, then the consumer's, group's and plan's, and
// the plan's quota) in one Allow call, writes the RateLimit-Policy and
// RateLimit headers of the binding limit, and answers 429 when one is
// exceeded. A limiter error lets the request through (logged at debug,
// counted as result "error").
func New(next http.Handler, route string, ls []config.RateLimit, authenticates bool, plans *Plans, s *Shared) http.Handler {
	st := &stage{next: next, route: route, rules: compileRules("route\x00"+route, ls), s: s}
	if authenticates && plans.any() {
		st.plans = plans
	}
	if len(st.rules) == 0 && st.plans == nil {
		return next
	}
	return st
}

func (st *stage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if st.allow(w, r) {
		st.next.ServeHTTP(w, r)
	}
}

func (st *stage) allow(w http.ResponseWriter, r *http.Request) bool {
	ex := exchange.Of(r)
	who := &ex.Who
	var c *consumerLimits
	if st.plans != nil && !who.Anonymous() {
		c = st.plans.byName[who.Consumer]
	}
	if len(st.rules) == 0 && c == nil {
		return true
	}
	in := input{r: r, route: st.route, who: who, clientIP: limiter.AddrKey(ex.ClientAddr(r))}
	var buf [8]limiter.Request
	reqs := appendRequests(buf[:0], st.rules, &in)
	var quota *limiter.Request
	if c != nil {
		reqs = appendRequests(reqs, c.rules, &in)
		if quota = c.quota; quota != nil {
			reqs = append(reqs, *quota)
		}
	}
	sortRequests(reqs)
	s := st.s
	d, err := s.limiter.Allow(r.Context(), reqs)
	if err != nil {
		s.requests.WithLabelValues(st.route, "", "error").Inc()
		if !errors.Is(err, limiter.ErrClosed) && !errors.Is(err, context.Canceled) {
			s.logger.Debug("rate limiter failed; request let through", "request_id", ex.ID, "route", st.route, "err", err)
		}
		return true
	}
	// One backing array for both values, canonical keys made once, and
	// the policy's value cached: the stage's allocations per request.
	vals := make([]string, 2)
	vals[0], vals[1] = s.policyHeader(d), d.RateLimitHeader()
	h := w.Header()
	h[hdrPolicy], h[hdrRateLimit] = vals[0:1:1], vals[1:2:2]
	if d.Allowed {
		s.requests.WithLabelValues(st.route, d.Policy, "allowed").Inc()
		return true
	}
	s.requests.WithLabelValues(st.route, d.Policy, "limited").Inc()
	h.Set(limiter.HeaderRetryAfter, d.RetryAfterHeader())
	prob := problem.RateLimited
	if quota != nil && d.Policy == quota.Quota.Name {
		prob = problem.QuotaExceeded
	}
	ex.Fail(w, prob)
	return false
}
