package observe

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcome is how one upstream attempt ended.
type Outcome uint8

const (
	// OutcomeOK: the target answered (any status; a 5xx the proxy treats
	// as a failure is the caller's to report as OutcomeError).
	OutcomeOK Outcome = iota
	// OutcomeError: connect failure, reset, bad response, or a failing
	// status.
	OutcomeError
	// OutcomeTimeout: a connect, response-header or total timeout fired.
	OutcomeTimeout
	numOutcomes
)

// String returns the outcome's label value: "ok", "error" or "timeout".
// Values out of range read as "error".
func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return "ok"
	case OutcomeTimeout:
		return "timeout"
	}
	return "error"
}

// UpstreamMetrics observes the attempts sent to one upstream pool. Get one
// with Metrics.Upstream when a pool is built. Its methods may be called
// from any goroutine; a nil *UpstreamMetrics observes nothing.
type UpstreamMetrics struct {
	name    string
	m       *Metrics
	retries prometheus.Counter
	dur     prometheus.Observer

	// targets caches each target's counters, one per Outcome; same
	// copy-on-write scheme as RouteMetrics.series. Targets come from
	// config, so the map stays small.
	targets atomic.Pointer[map[string]*[numOutcomes]prometheus.Counter]
	mu      sync.Mutex
}

// Upstream returns the metrics of the upstream called name, creating them
// on first use; the same value is returned for the same name until
// DropUpstream. A nil *Metrics returns nil.
func (m *Metrics) Upstream(name string) *UpstreamMetrics {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if u, ok := m.upstreams[name]; ok {
		return u
	}
	u := &UpstreamMetrics{
		name:    name,
		m:       m,
		retries: m.upRetries.WithLabelValues(name),
		dur:     m.upDuration.WithLabelValues(name),
	}
	m.upstreams[name] = u
	return u
}

// DropUpstream deletes every series of the upstream called name, for a
// pool a reload removed. The caveats of DropRoute apply.
func (m *Metrics) DropUpstream(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.upstreams, name)
	up := prometheus.Labels{"upstream": name}
	m.upRequests.DeletePartialMatch(up)
	m.upRetries.DeletePartialMatch(up)
	m.upDuration.DeletePartialMatch(up)
}

// ObserveAttempt counts one attempt on target (its configured URL) that
// ended with o after d. A target's first attempt creates its series for
// every outcome, so error ratios have a zero to start from; later calls do
// not allocate.
func (u *UpstreamMetrics) ObserveAttempt(target string, o Outcome, d time.Duration) {
	if u == nil {
		return
	}
	if o >= numOutcomes {
		o = OutcomeError
	}
	var counters *[numOutcomes]prometheus.Counter
	if p := u.targets.Load(); p != nil {
		counters = (*p)[target]
	}
	if counters == nil {
		counters = u.resolve(target)
	}
	counters[o].Inc()
	u.dur.Observe(d.Seconds())
}

// Retry counts one attempt that retried a failed one (call it in addition
// to ObserveAttempt for that attempt).
func (u *UpstreamMetrics) Retry() {
	if u == nil {
		return
	}
	u.retries.Inc()
}

// resolve is ObserveAttempt's slow path.
func (u *UpstreamMetrics) resolve(target string) *[numOutcomes]prometheus.Counter {
	u.mu.Lock()
	defer u.mu.Unlock()
	old := u.targets.Load()
	if old != nil {
		if c := (*old)[target]; c != nil {
			return c
		}
	}
	c := new([numOutcomes]prometheus.Counter)
	for o := range numOutcomes {
		c[o] = u.m.upRequests.WithLabelValues(u.name, target, o.String())
	}
	next := map[string]*[numOutcomes]prometheus.Counter{target: c}
	if old != nil {
		maps.Copy(next, *old)
	}
	u.targets.Store(&next)
	return c
}
