package limiter

import (
	"errors"
	"fmt"
	"time"
)

// Scopes and modes of a Limit or Quota.
const (
	ScopeLocal  = "local"  // this node counts alone
	ScopeGlobal = "global" // the key's owner on the ring counts for the cluster

	ModeAsync  = "async"  // decide from the local view, send hits to the owner in batches
	ModeStrict = "strict" // ask the owner for every decision
)

// Limit is a rate: Rate units per Period, with Burst units at once, by
// GCRA. It is a value: the node builds it from config and passes it on
// every request; changing it changes the limit of existing keys at once
// (their state is one timestamp, read with the new rate).
type Limit struct {
	// Name names the policy in headers and metrics. Required.
	Name string `json:"name"`
	// Rate is how many units are admitted per Period. Required, > 0.
	Rate int64 `json:"rate"`
	// Period is Rate's time unit. (Optional) Defaults to 1s; at most a
	// year. Long periods (minute, hour) are GCRA too: see doc.go.
	Period time.Duration `json:"period"`
	// Burst is how many units a fresh key may use at once. (Optional)
	// Defaults to Rate: a whole Period's worth.
	Burst int64 `json:"burst"`
	// Scope is ScopeLocal or ScopeGlobal. (Optional) Defaults to local.
	Scope string `json:"scope"`
	// Mode is ModeAsync or ModeStrict, for global scope. (Optional)
	// Defaults to async.
	Mode string `json:"mode"`
}

// Quota counts units per consumer per UTC calendar period, exactly, on
// the key's owner, persisted (Config.DataDir) and replicated. Quotas are
// always global.
type Quota struct {
	// Name names the policy in headers, metrics and files. Required.
	Name string `json:"name"`
	// Count is how many units a period allows. Required, > 0.
	Count int64 `json:"count"`
	// Period is "day", "week" (from Monday 00:00 UTC) or "month".
	// Required.
	Period string `json:"period"`
	// Mode is ModeAsync or ModeStrict. (Optional) Defaults to async.
	Mode string `json:"mode"`
}

// Request is one limit to apply to one request: either Limit or Quota
// is set (a Quota with a Count). A gateway request usually carries
// several (per IP, per consumer, the plan's quota), passed together to
// Allow.
type Request struct {
	// Key identifies who is limited: a client IP, a consumer id. Keys of
	// different policies never collide.
	Key   string
	Limit Limit
	Quota Quota
	// Cost is how many units the request uses. (Optional) Defaults to 1.
	Cost int64
}

// ErrInvalid is wrapped by Allow's errors for malformed Requests.
var ErrInvalid = errors.New("invalid rate limit request")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("limiter: closed")

const (
	maxCost   = 1 << 40
	maxPeriod = 366 * 24 * time.Hour
)

// compile turns r into a policy and its cost. It allocates nothing on
// success.
func compile(r Request) (policy, int64, error) {
	cost := r.Cost
	if cost == 0 {
		cost = 1
	}
	if cost < 0 || cost > maxCost {
		return policy{}, 0, fmt.Errorf("%w: cost %d out of range", ErrInvalid, r.Cost)
	}
	if r.Quota.Count != 0 {
		p, err := compileQuota(r.Quota)
		return p, cost, err
	}
	p, err := compileLimit(r.Limit)
	return p, cost, err
}

func compileLimit(l Limit) (policy, error) {
	if l.Name == "" {
		return policy{}, fmt.Errorf("%w: limit without a name", ErrInvalid)
	}
	period := l.Period
	if period == 0 {
		period = time.Second
	}
	burst := l.Burst
	if burst == 0 {
		burst = l.Rate
	}
	switch {
	case l.Rate <= 0 || l.Rate > maxCost:
		return policy{}, fmt.Errorf("%w: limit %q: rate %d out of range", ErrInvalid, l.Name, l.Rate)
	case period < 0 || period > maxPeriod:
		return policy{}, fmt.Errorf("%w: limit %q: period %v out of range", ErrInvalid, l.Name, period)
	case burst < 0 || burst > maxCost:
		return policy{}, fmt.Errorf("%w: limit %q: burst %d out of range", ErrInvalid, l.Name, burst)
	}
	global, strict, err := scopeMode(l.Name, l.Scope, l.Mode)
	if err != nil {
		return policy{}, err
	}
	return policy{kind: kindRate, name: l.Name, global: global, strict: strict,
		interval: max(1, int64(period)/l.Rate), burst: burst, rate: l.Rate, period: period}, nil
}

func compileQuota(q Quota) (policy, error) {
	cal, ok := parseCalendar(q.Period)
	switch {
	case q.Name == "":
		return policy{}, fmt.Errorf("%w: quota without a name", ErrInvalid)
	case q.Count < 0 || q.Count > maxCost*1024:
		return policy{}, fmt.Errorf("%w: quota %q: count %d out of range", ErrInvalid, q.Name, q.Count)
	case !ok:
		return policy{}, fmt.Errorf("%w: quota %q: period %q is not day, week or month", ErrInvalid, q.Name, q.Period)
	}
	_, strict, err := scopeMode(q.Name, ScopeGlobal, q.Mode)
	if err != nil {
		return policy{}, err
	}
	return policy{kind: kindQuota, name: q.Name, global: true, strict: strict, count: q.Count, window: cal}, nil
}

func scopeMode(name, scope, mode string) (global, strict bool, err error) {
	switch scope {
	case "", ScopeLocal:
	case ScopeGlobal:
		global = true
	default:
		return false, false, fmt.Errorf("%w: %q: scope %q is not local or global", ErrInvalid, name, scope)
	}
	switch mode {
	case "", ModeAsync:
	case ModeStrict:
		strict = true
	default:
		return false, false, fmt.Errorf("%w: %q: mode %q is not async or strict", ErrInvalid, name, mode)
	}
	return global, strict, nil
}

// fallback returns p as one of n nodes enforces it alone: rate and burst
// divided by n (at least 1).
func (p policy) fallback(n int) policy {
	if n <= 1 {
		return p
	}
	m := int64(n)
	if p.kind == kindQuota {
		p.count = max(1, p.count/m)
		return p
	}
	p.rate = max(1, p.rate/m)
	p.burst = max(1, p.burst/m)
	p.interval = max(1, int64(p.period)/p.rate)
	return p
}
