package limit_test

import (
	"testing"
	"time"

	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/limit"
	"github.com/portico-gw/portico/problem"
)

// TestIPGuard: nil admits everything; a guard admits its burst per
// address (IPv6 by /64), then answers 429 ip-rate-limited with
// Retry-After before the stage runs; a request without a client address
// is admitted.
func TestIPGuard(t *testing.T) {
	clk := newClock()
	if g := limit.NewIPGuard(nil, clk.now); g != nil {
		t.Fatalf("NewIPGuard(nil) = %v, want nil", g)
	}
	open := serve(t, next, nil)
	for range 5 {
		allowed(t, "nil guard", open.get(t, hdrClient, "192.0.2.1"))
	}

	g := limit.NewIPGuard(&config.IPRateLimit{Rate: perMinute(1), Burst: 2, MaxAddresses: 16}, clk.now)
	s := serve(t, next, g)
	allowed(t, "1", s.get(t, hdrClient, "2001:db8::1"))
	allowed(t, "2", s.get(t, hdrClient, "2001:db8::2:1"))
	a := s.get(t, hdrClient, "2001:db8::ffff:3") // the same /64
	denied(t, "3", a, "ip-rate-limited", problem.IPRateLimited)
	if a.retryAfter != "60" || a.policy != "" {
		t.Errorf("denied: Retry-After %q RateLimit-Policy %q, want 60 and none", a.retryAfter, a.policy)
	}
	allowed(t, "another address", s.get(t, hdrClient, "192.0.2.7"))
	for range 5 {
		allowed(t, "no address", s.get(t))
		allowed(t, "invalid address", s.get(t, hdrClient, "not-an-address"))
	}
	clk.add(time.Minute)
	allowed(t, "after Retry-After", s.get(t, hdrClient, "2001:db8::1"))
}
