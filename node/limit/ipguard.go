package limit

import (
	"net/http"
	"time"

	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/problem"
)

// IPGuard is node.server.ip_rate_limit: a flood guard per client address
// (IPv6 by /64), asked before routing so it covers every path. It lives
// as long as the node (node.server changes need a restart).
type IPGuard struct {
	g   *limiter.IPGuard
	now func() time.Time
}

// NewIPGuard builds the guard of c, or returns nil when c is nil (off).
func NewIPGuard(c *config.IPRateLimit, now func() time.Time) *IPGuard {
	if c == nil {
		return nil
	}
	rate := float64(c.Rate.Count) / c.Rate.Period.Seconds()
	return &IPGuard{g: limiter.NewIPGuard(rate, c.Burst, c.MaxAddresses), now: now}
}

// Admit reports whether r's client may go on; when not, it has answered
// 429 ip-rate-limited with Retry-After. A nil guard admits everything.
func (g *IPGuard) Admit(w http.ResponseWriter, r *http.Request, ex *exchange.Exchange) bool {
	if g == nil {
		return true
	}
	addr := ex.ClientAddr(r)
	if !addr.IsValid() {
		return true
	}
	ok, wait := g.g.Allow(addr, g.now())
	if ok {
		return true
	}
	w.Header().Set(limiter.HeaderRetryAfter, limiter.Decision{RetryAfter: wait}.RetryAfterHeader())
	ex.Fail(w, problem.IPRateLimited)
	return false
}
