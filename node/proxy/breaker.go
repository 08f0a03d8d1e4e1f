package proxy

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-gw/portico/node/config"
)

// breakerBuckets is how many slices the sliding window is cut into: the
// window slides by Window/breakerBuckets.
const breakerBuckets = 10

// Breaker states, as TargetStatus reports them.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

// breaker is one target's circuit breaker. Closed, it counts outcomes in a
// sliding window and opens when at least minRequests were seen and the
// failed share reaches ratio. Open, it refuses picks until openUntil; then
// it is half-open and lets exactly one request through (the probe): the
// probe's success closes it, its failure opens it again for openFor.
//
// mayPass is lock-free (every pick calls it); transitions take mu.
type breaker struct {
	ratio       float64
	minRequests int64
	width       int64 // one bucket, in ns
	openFor     time.Duration

	openUntil atomic.Int64 // UnixNano; 0 while closed
	probing   atomic.Bool  // a half-open probe is in flight

	mu      sync.Mutex
	buckets [breakerBuckets]breakerBucket
}

type breakerBucket struct {
	slot            int64 // now / width of the slice this bucket counts
	total, failures int64
}

func newBreaker(cfg config.CircuitBreaker) *breaker {
	if cfg.ErrorRatio <= 0 {
		return nil
	}
	window := cfg.Window.D()
	if window <= 0 {
		window = 10 * time.Second
	}
	b := &breaker{ratio: cfg.ErrorRatio, minRequests: int64(cfg.MinRequests),
		width: int64(window / breakerBuckets), openFor: cfg.OpenFor.D()}
	if b.minRequests <= 0 {
		b.minRequests = 20
	}
	if b.openFor <= 0 {
		b.openFor = 30 * time.Second
	}
	if b.width <= 0 {
		b.width = 1
	}
	return b
}

// mayPass reports whether a pick at now may choose this target. It does not
// reserve the half-open probe; acquire does.
func (b *breaker) mayPass(now int64) bool {
	until := b.openUntil.Load()
	return until == 0 || (now >= until && !b.probing.Load())
}

// acquire commits to sending one request through the breaker. probe is
// true when that request is the half-open probe, whose outcome must be
// reported with record (or release if it has none).
func (b *breaker) acquire(now int64) (probe, ok bool) {
	until := b.openUntil.Load()
	if until == 0 {
		return false, true
	}
	if now < until {
		return false, false
	}
	if !b.probing.CompareAndSwap(false, true) {
		return false, false
	}
	return true, true
}

// release gives the probe slot back without a verdict (the client left).
func (b *breaker) release(probe bool) {
	if probe {
		b.probing.Store(false)
	}
}

// record counts one outcome. Outcomes of requests that were let through
// before the circuit opened are ignored while it is open.
func (b *breaker) record(now time.Time, probe, failed bool) {
	ns := now.UnixNano()
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		if failed {
			b.openUntil.Store(ns + int64(b.openFor))
		} else {
			b.buckets = [breakerBuckets]breakerBucket{}
			b.openUntil.Store(0)
		}
		b.probing.Store(false)
		return
	}
	if b.openUntil.Load() != 0 {
		return
	}
	slot := ns / b.width
	bk := &b.buckets[slot%breakerBuckets]
	if bk.slot != slot {
		*bk = breakerBucket{slot: slot}
	}
	bk.total++
	if failed {
		bk.failures++
	}
	if !failed {
		return
	}
	var total, failures int64
	for _, x := range b.buckets {
		if slot-x.slot < breakerBuckets {
			total += x.total
			failures += x.failures
		}
	}
	if total >= b.minRequests && float64(failures) >= b.ratio*float64(total) {
		b.openUntil.Store(ns + int64(b.openFor))
	}
}

// state names the breaker's state at now.
func (b *breaker) state(now int64) string {
	if b == nil {
		return BreakerClosed
	}
	until := b.openUntil.Load()
	switch {
	case until == 0:
		return BreakerClosed
	case now < until:
		return BreakerOpen
	default:
		return BreakerHalfOpen
	}
}
