package limiter

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a Limiter's Prometheus collectors, registered by New on
// Config.Registerer:
//
//	portico_limiter_decisions_total{policy,result}   result: allowed|limited
//	portico_limiter_fallback_total                   decisions made with rate/N
//	portico_limiter_peer_batch_size{kind}            kind: strict|hits|replicate
//	portico_limiter_peer_request_seconds{kind}
//	portico_limiter_peer_errors_total{kind}
//	portico_limiter_keys                             rate states in the store
//	portico_limiter_quota_keys                       quota counters held
//	portico_limiter_evictions_total                  live states evicted by MaxKeys
type metrics struct {
	decisions *prometheus.CounterVec
	byPolicy  sync.Map // policy name → *[2]prometheus.Counter, so the hot path allocates nothing
	fallback  prometheus.Counter
	batchSize *prometheus.HistogramVec
	peerTime  *prometheus.HistogramVec
	peerErrs  *prometheus.CounterVec
	evictions prometheus.Counter
	keys      prometheus.GaugeFunc
	quotaKeys prometheus.GaugeFunc
}

func newMetrics(keys, quotaKeys func() float64) *metrics {
	return &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_limiter_decisions_total",
			Help: "Rate limit decisions by policy and result (allowed or limited).",
		}, []string{"policy", "result"}),
		fallback: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portico_limiter_fallback_total",
			Help: "Global decisions made locally with the limit divided by live nodes, the owner being out of reach.",
		}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portico_limiter_peer_batch_size",
			Help:    "Items per peer request, by kind (strict, hits, replicate).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}, []string{"kind"}),
		peerTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portico_limiter_peer_request_seconds",
			Help:    "Peer request latency, by kind.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}, []string{"kind"}),
		peerErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_limiter_peer_errors_total",
			Help: "Peer requests that failed, by kind.",
		}, []string{"kind"}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portico_limiter_evictions_total",
			Help: "Live rate states evicted to keep within MaxKeys.",
		}),
		keys: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portico_limiter_keys",
			Help: "Rate states held (local, owned, views, fallbacks).",
		}, keys),
		quotaKeys: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portico_limiter_quota_keys",
			Help: "Quota counters held as owner or replica.",
		}, quotaKeys),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.decisions, m.fallback, m.batchSize, m.peerTime, m.peerErrs,
		m.evictions, m.keys, m.quotaKeys} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// decided counts one decision of policy.
func (m *metrics) decided(policy string, allowed bool) {
	v, ok := m.byPolicy.Load(policy)
	if !ok {
		v, _ = m.byPolicy.LoadOrStore(policy, &[2]prometheus.Counter{
			m.decisions.WithLabelValues(policy, "limited"),
			m.decisions.WithLabelValues(policy, "allowed"),
		})
	}
	i := 0
	if allowed {
		i = 1
	}
	v.(*[2]prometheus.Counter)[i].Inc()
}
