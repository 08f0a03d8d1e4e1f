package limiter

import (
	"math"
	"time"
)

// slot is the state of one limit for one key: two integers, the same
// shape for every kind so that the store, the peer protocol and the
// quota files carry one type.
//
// For a rate (GCRA) A is the theoretical arrival time (TAT) in Unix
// nanoseconds and B is unused. For a quota A is the start of the
// counted period in Unix nanoseconds and B the units used in it.
type slot struct {
	A int64 `json:"a"`
	B int64 `json:"b"`
}

// kind says which algorithm a policy uses.
type kind uint8

const (
	kindRate  kind = iota + 1 // GCRA
	kindQuota                 // calendar window, counted exactly
)

// policy is a Limit or a Quota compiled for the algorithms. It is a
// small value: building one allocates nothing.
type policy struct {
	kind   kind
	name   string
	global bool
	strict bool

	// rate
	interval int64 // emission interval T = Period/Rate, ns (at least 1)
	burst    int64 // B: how many fit at once
	rate     int64
	period   time.Duration

	// quota
	count  int64
	window calendar
}

// ahead is how far the TAT may run ahead of now: B*T.
func (p policy) ahead() int64 { return mulSat(p.burst, p.interval) }

// apply is the pure decision: it returns the new state and the decision
// for cost units at now. A denied decision returns s unchanged. cost is
// at least 1.
func apply(s slot, p policy, cost int64, now int64) (slot, Decision) {
	if p.kind == kindQuota {
		return applyQuota(s, p, cost, now)
	}
	return applyGCRA(s, p, cost, now)
}

// applyGCRA is the generic cell rate algorithm (ITU-T I.371, as
// "virtual scheduling"): a request of cost c is admitted when
// max(TAT, now) + c*T - now <= B*T, and then TAT becomes that sum.
// Burst B admits B at once from fresh; after that, one per T.
func applyGCRA(s slot, p policy, cost int64, now int64) (slot, Decision) {
	tat := max(s.A, now)
	next := addSat(tat, mulSat(cost, p.interval))
	ahead := p.ahead()
	d := Decision{Limit: p.rate, Window: p.period, Policy: p.name}
	if next-now > ahead {
		d.RetryAfter = time.Duration(next - now - ahead)
		d.Remaining = max(0, (now+ahead-tat)/p.interval)
		d.Reset = time.Duration(tat - now)
		return s, d
	}
	d.Allowed = true
	d.Remaining = (now + ahead - next) / p.interval
	d.Reset = time.Duration(next - now)
	return slot{A: next}, d
}

// force adds cost units to s whatever the limit says: the owner
// applying hits another node already admitted (async), or a refund
// (negative cost). A rate's TAT never runs further than debtLimit
// windows ahead, so an overshoot is repaid but cannot lock a key out
// for long.
func force(s slot, p policy, cost int64, now int64) slot {
	if p.kind == kindQuota {
		s = currentPeriod(s, p, now)
		s.B = max(0, s.B+cost)
		return s
	}
	tat := s.A
	if cost > 0 {
		tat = max(tat, now)
	}
	tat = addSat(tat, mulSat(cost, p.interval))
	return slot{A: min(tat, addSat(now, mulSat(debtLimit, p.ahead())))}
}

// debtLimit caps how many bursts' worth a forced TAT may run ahead.
const debtLimit = 2

// expires is when s becomes equivalent to a fresh state and may be
// dropped: a TAT in the past, a quota period that has ended.
func expires(s slot, p policy) int64 {
	if p.kind == kindQuota {
		return p.window.end(s.A)
	}
	return s.A
}

func mulSat(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	c := a * b
	if c/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		if (a > 0) == (b > 0) {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return c
}

func addSat(a, b int64) int64 {
	c := a + b
	if a > 0 && b > 0 && c < 0 {
		return math.MaxInt64
	}
	if a < 0 && b < 0 && c >= 0 {
		return math.MinInt64
	}
	return c
}
