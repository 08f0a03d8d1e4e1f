package cache

import "github.com/prometheus/client_golang/prometheus"

// outcome is how the cache answered a request, the label of
// portico_cache_requests_total.
type outcome int

const (
	outcomeHit         outcome = iota // fresh entry of the owner tier
	outcomeNearHit                    // fresh copy in the near tier
	outcomeStale                      // stale entry (stale-while-revalidate or stale-if-error)
	outcomeMiss                       // fetched upstream here and shared
	outcomePeer                       // the owner's entry, fetched from it
	outcomeCollapsed                  // waited for another request's fill
	outcomeRevalidated                // stale entry refreshed by a 304
	outcomeUncacheable                // went upstream, not stored
	outcomeBypass                     // not a cacheable request
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"hit", "near_hit", "stale", "miss", "peer", "collapsed", "revalidated", "uncacheable", "bypass"}

// metrics are a Cache's Prometheus collectors: request outcomes, peer
// traffic and purges, and each tier's ristretto figures, read at scrape
// time. It is one prometheus.Collector, registered by New on
// Config.Registerer.
type metrics struct {
	c          *Cache
	requests   [numOutcomes]prometheus.Counter
	vec        *prometheus.CounterVec
	peerErrors prometheus.Counter
	peerFills  prometheus.Counter
	// mismatches is portico_cache_peer_version_mismatches_total, by
	// reason: peerMismatches counts fills an owner refused (409) for
	// another config version, a version 0 or an unknown route;
	// peerOldProtocol those it did not know the fill path of (404: an
	// older binary). This node filled them itself.
	mismatches      *prometheus.CounterVec
	peerMismatches  prometheus.Counter
	peerOldProtocol prometheus.Counter
	purged          prometheus.Counter

	hits, misses, evictions, rejected, dropped *prometheus.Desc
	costAdded, costEvicted, entries, bytes     *prometheus.Desc
	maxBytes                                   *prometheus.Desc
}

func newMetrics(c *Cache) *metrics {
	m := &metrics{c: c}
	m.vec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_cache_requests_total",
		Help: "Cacheable-route requests by how the cache answered them.",
	}, []string{"outcome"})
	for o := range numOutcomes {
		m.requests[o] = m.vec.WithLabelValues(outcomeNames[o])
	}
	m.peerErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portico_cache_peer_errors_total",
		Help: "Peer requests (fills from owners) that failed; each request then went upstream itself.",
	})
	m.peerFills = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portico_cache_peer_fills_total",
		Help: "Fill requests this node answered as owner for its peers.",
	})
	m.mismatches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_cache_peer_version_mismatches_total",
		Help: "Fills an owner could not serve under this node's config: reason config, it serves another config version (and held no fresh entry), none yet, version 0, or no such cached route; reason protocol, it speaks an older fill protocol (an older binary). Each request then went upstream itself. Not peer errors.",
	}, []string{"reason"})
	m.peerMismatches = m.mismatches.WithLabelValues("config")
	m.peerOldProtocol = m.mismatches.WithLabelValues("protocol")
	m.purged = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portico_cache_purged_entries_total",
		Help: "Entries removed by purges (local and from peers).",
	})
	tier := []string{"tier"}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("portico_cache_"+name, help, tier, nil)
	}
	m.hits = desc("tier_hits_total", "Lookups that found an entry in the tier (ristretto).")
	m.misses = desc("tier_misses_total", "Lookups that found nothing in the tier (ristretto).")
	m.evictions = desc("evictions_total", "Entries evicted to make room or on expiry.")
	m.rejected = desc("sets_rejected_total", "Entries the admission policy refused.")
	m.dropped = desc("sets_dropped_total", "Entries dropped under write contention.")
	m.costAdded = desc("added_bytes_total", "Bytes of entries added to the tier.")
	m.costEvicted = desc("evicted_bytes_total", "Bytes of entries evicted from the tier.")
	m.entries = desc("entries", "Entries held in the tier (vary markers not counted).")
	m.bytes = desc("bytes", "Bytes held in the tier: bodies, headers, keys and per-entry overhead.")
	m.maxBytes = desc("max_bytes", "The tier's byte budget.")
	return m
}

// served counts a request's outcome; a hit in the near tier is a near_hit.
func (m *metrics) served(o outcome, self bool) {
	if o == outcomeHit && !self {
		o = outcomeNearHit
	}
	m.requests[o].Inc()
}

var _ prometheus.Collector = (*metrics)(nil)

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.vec.Describe(ch)
	m.mismatches.Describe(ch)
	for _, d := range []*prometheus.Desc{m.peerErrors.Desc(), m.peerFills.Desc(), m.purged.Desc(),
		m.hits, m.misses, m.evictions, m.rejected, m.dropped, m.costAdded, m.costEvicted, m.entries, m.bytes, m.maxBytes} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.vec.Collect(ch)
	ch <- m.peerErrors
	ch <- m.peerFills
	m.mismatches.Collect(ch)
	ch <- m.purged
	for _, t := range []*tier{m.c.owner, m.c.near} {
		if t != nil {
			m.collectTier(ch, t)
		}
	}
}

func (m *metrics) collectTier(ch chan<- prometheus.Metric, t *tier) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return
	}
	rm := t.rc.Metrics
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), t.name)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, t.name)
	}
	counter(m.hits, rm.Hits())
	counter(m.misses, rm.Misses())
	counter(m.evictions, rm.KeysEvicted())
	counter(m.rejected, rm.SetsRejected())
	counter(m.dropped, rm.SetsDropped())
	counter(m.costAdded, rm.CostAdded())
	counter(m.costEvicted, rm.CostEvicted())
	gauge(m.entries, float64(t.idx.len()))
	gauge(m.bytes, float64(t.rc.MaxCost()-t.rc.RemainingCost()))
	gauge(m.maxBytes, float64(t.rc.MaxCost()))
}
